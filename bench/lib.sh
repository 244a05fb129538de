# lib.sh - what the benchmark scripts share: the stack in its own state dir (stopped on exit),
# and the report file with its header. Sourced, not run.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WA_STATE=${WA_STATE:-$root/.local/bench}

bench_down() {
    "$root/scripts/services.sh" stop >/dev/null
    "$root/infra/stack.sh" down >/dev/null
}

# Starts everything `make run` starts, and loads its addresses into this shell.
bench_up() {
    "$root/scripts/up.sh" >/dev/null
    trap bench_down EXIT
    source "$root/scripts/env.sh"
}

# bench/REPORT-<name>-<date>.txt
bench_report() { echo "$root/bench/REPORT-$1-$(date -u +%Y%m%d).txt"; }

# bench_header WHAT COMMAND: the first lines of a report.
bench_header() {
    echo "wa-broker $1, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
    echo "command: $2"
}
