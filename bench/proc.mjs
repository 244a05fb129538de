// proc.mjs - what the benchmarks read of a process from /proc: its pid file, its CPU time.
import fs from 'node:fs';

const HZ = 100; // USER_HZ: /proc's clock ticks

// The pid in a pid file (its first line), or 0.
export const readPid = (f) => {
  try { return Number(fs.readFileSync(f, 'utf8').split('\n')[0]); } catch { return 0; }
};

// utime + stime of a process (all its threads), in ms.
export function cpuMs(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
  } catch { return 0; }
}
