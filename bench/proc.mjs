// proc.mjs - what the benchmarks read of a process from /proc (its pid file, its CPU time), and the
// CPU measurement and summary that bench/sender.mjs and bench/router.mjs share.
import fs from 'node:fs';
import { spawn } from 'node:child_process';

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

// Each thread's CPU ms so far, of a JVM's JIT compiler threads (HotSpot names them "C1
// CompilerThre" and "C2 CompilerThre"), by thread id.
function jitThreads(pid) {
  const ms = new Map();
  let tids = [];
  try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { return ms; }
  for (const t of tids) {
    try {
      if (/Compiler/.test(fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8'))) ms.set(t, cpuMs(`${pid}/task/${t}`));
    } catch { /* the thread ended */ }
  }
  return ms;
}

// A broker started a moment ago runs its code interpreted and compiles the hot parts for a
// minute or more of load, its compiler threads taking up to half a core from everything else
// (seen in bench-outbound: the first 20 s of a run three times slower than the last). Runs
// `load()` (a round of load, awaited) until those threads used less than `share` of one core
// over the last round, at most `max` rounds. Returns {rounds, secs, share: [first, last]}.
export async function warmBroker(state, load, { share = 0.05, max = 12 } = {}) {
  const pid = readPid(`${state}/kafka.pid`);
  const shares = [];
  let secs = 0;
  for (let i = 0; i < max; i++) {
    const before = jitThreads(pid);
    const t0 = performance.now();
    await load();
    const wall = performance.now() - t0;
    let ms = 0;
    for (const [t, x] of jitThreads(pid)) ms += x - (before.get(t) ?? 0); // a thread that ended is lost
    secs += wall / 1000;
    shares.push(ms / wall);
    if (ms / wall < share) break;
  }
  return { rounds: shares.length, secs, first: shares[0], last: shares.at(-1) };
}

// A memory figure of a process from /proc/<pid>/status (VmRSS: resident now; VmHWM: its peak
// since it started) in MB, or 0.
function statusMb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch { return 0; }
}
export const peakRssMb = (pid) => statusMb(pid, 'VmHWM');

// The living pids of the processes that take part, by name: each service named (its pid file
// under $WA_STATE/run), Kafka, and Postgres (the postmaster and every backend, one per connection).
export function processes(state, services) {
  const ps = Object.fromEntries(services.map((s) => [s, [readPid(`${state}/run/${s}.pid`)]]));
  ps.kafka = [readPid(`${state}/kafka.pid`)];
  const pm = readPid(`${state}/pg/postmaster.pid`);
  const kids = fs.readFileSync(`/proc/${pm}/task/${pm}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  ps.postgres = [pm, ...kids];
  for (const k of Object.keys(ps)) {
    ps[k] = ps[k].filter((pid) => pid && fs.existsSync(`/proc/${pid}`));
    if (!ps[k].length) delete ps[k];
  }
  return ps;
}

// CPU ms so far of each name's processes.
export const cpuOf = (ps) => Object.fromEntries(Object.entries(ps).map(([k, pids]) => [k, pids.reduce((a, p) => a + cpuMs(p), 0)]));

// Measures the processes from now: returns stop(), which gives the CPU ms each name spent,
// pidstat's per-second figures (%usr, %system, %wait) averaged by name, and each name's highest
// resident memory (MB, its processes' VmRSS summed) in samples 0.2 s apart: the peak of this span,
// where VmHWM is the peak since the process started.
export function measure(ps) {
  const cpu0 = cpuOf(ps);
  const rss = {};
  const sample = () => {
    for (const [k, pids] of Object.entries(ps)) rss[k] = Math.max(rss[k] ?? 0, pids.reduce((a, p) => a + statusMb(p, 'VmRSS'), 0));
  };
  sample();
  const sampler = setInterval(sample, 200);
  const pidstat = spawn('pidstat', ['-u', '-h', '-p', Object.values(ps).flat().join(','), '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  pidstat.stdout.on('data', (d) => { out += d; });
  const closed = new Promise((r) => pidstat.on('close', r));
  return async () => {
    const cpu1 = cpuOf(ps);
    clearInterval(sampler);
    sample();
    pidstat.kill('SIGINT');
    await closed;
    const cpu = Object.fromEntries(Object.keys(ps).map((k) => [k, cpu1[k] - cpu0[k]]));
    // pidstat: Time UID PID %usr %system %guest %wait %CPU CPU Command, one line per pid and second.
    const lines = out.split('\n').filter((l) => /^\s*\d/.test(l)).map((l) => l.trim().split(/\s+/));
    const samples = new Set(lines.map((f) => f[0])).size || 1;
    const pid2name = new Map(Object.entries(ps).flatMap(([k, pids]) => pids.map((p) => [String(p), k])));
    const pidstatAvg = {};
    for (const f of lines) {
      const a = (pidstatAvg[pid2name.get(f[2]) ?? f[9]] ??= { usr: 0, sys: 0, wait: 0 });
      a.usr += Number(f[3]) / samples; a.sys += Number(f[4]) / samples; a.wait += Number(f[6]) / samples;
    }
    return { cpu, pidstat: pidstatAvg, rss };
  };
}

// The middle value; of an even count, the mean of the two middle ones.
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// VARIANTS='name=/bin/dir ...' (default: this tree's build/bin), the builds compared side by side.
export function variants(env, root) {
  return (env.VARIANTS ?? `this=${root}/build/bin`).split(/\s+/).filter(Boolean)
    .map((v) => { const i = v.indexOf('='); return { name: v.slice(0, i), dir: v.slice(i + 1) }; });
}

// ROUNDS rounds of one measurement per variant, the order alternating between rounds, so other
// work on the machine weighs on each alike: one(variant) gives {rate, secs, cpu, pidstat, note?, n?}
// (n: the records of that run, when they are not the same n in every run), each printed as it
// comes. Returns every variant's results, for printMedians.
export async function rounds(variantList, nRounds, n, unit, one) {
  const results = Object.fromEntries(variantList.map((v) => [v.name, []]));
  for (let r = 0; r < nRounds; r++) {
    const order = r % 2 ? [...variantList].reverse() : variantList;
    for (const v of order) {
      const x = await one(v, r);
      results[v.name].push(x);
      const per = Object.entries(x.cpu).map(([k, ms]) => `${k} ${(ms / (x.n ?? n)).toFixed(3)}`).join(', ');
      console.log(`round ${r + 1} ${v.name.padEnd(8)} ${x.rate.toFixed(0).padStart(5)} ${unit}/s (${x.secs.toFixed(2)} s); ` +
        `CPU ms/message: ${per}${x.note ? `; ${x.note}` : ''}`);
    }
  }
  return results;
}

// The summary of the rounds: each variant's median rate, then per process the median CPU per
// message, its share of one core during the drain, and pidstat's figures. `unit`: "sends".
export function printMedians(results, n, unit) {
  console.log('\nmedians over the rounds (CPU: ms per message, and the share of one core during the drain;' +
    ' pidstat: %usr+%system, and %wait = runnable but waiting for a CPU):');
  for (const [name, xs] of Object.entries(results)) {
    console.log(`${name}: ${median(xs.map((x) => x.rate)).toFixed(0)} ${unit}/s`);
    for (const k of Object.keys(xs[0].cpu)) {
      const ms = median(xs.map((x) => x.cpu[k] / (x.n ?? n)));
      const core = median(xs.map((x) => x.cpu[k] / 10 / x.secs));
      const p = xs.map((x) => x.pidstat[k]).filter(Boolean);
      const ps = p.length ? `   pidstat %usr+%sys ${median(p.map((a) => a.usr + a.sys)).toFixed(1).padStart(5)}` +
        `  %wait ${median(p.map((a) => a.wait)).toFixed(1).padStart(5)}` : '';
      console.log(`  ${k.padEnd(15)} ${ms.toFixed(3)} ms/message  ${core.toFixed(0).padStart(4)} % of a core${ps}`);
    }
  }
}
