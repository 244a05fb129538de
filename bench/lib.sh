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

# bench/REPORT-<name>-<date>.txt, or -2, -3... when that day's report exists: a second run never
# overwrites the first.
bench_report() {
    local base=$root/bench/REPORT-${1:+$1-}$(date -u +%Y%m%d) n=2
    local f=$base.txt
    while [ -e "$f" ]; do f=$base-$n.txt; n=$((n + 1)); done
    echo "$f"
}

# bench_build COMMIT: that commit's binaries, built once under $WA_STATE; prints their directory.
bench_build() {
    local dir=$WA_STATE/build-$1
    if [ ! -x "$dir/build/bin/sender-twilio" ]; then
        rm -rf "$dir" && mkdir -p "$dir"
        git -C "$root" archive "$1" | tar -x -C "$dir"
        make -C "$dir" build >/dev/null
    fi
    echo "$dir/build/bin"
}

# The builds a benchmark compares: this tree's, or with BEFORE=<commit> that commit's and this one's.
bench_variants() {
    if [ -n "${BEFORE:-}" ]; then
        echo "before=$(bench_build "$BEFORE") after=$root/build/bin"
    else
        echo "this=$root/build/bin"
    fi
}

# The start of a benchmark that compares builds: pidstat (for the CPU figures) is there, VARIANTS
# is set (bench_variants unless given) and exported, and the stack is up.
bench_compare_up() {
    command -v pidstat >/dev/null || { echo "pidstat missing: run 'make install' (sysstat)" >&2; exit 1; }
    VARIANTS=${VARIANTS:-$(bench_variants)}
    export VARIANTS
    bench_up
}

# The commit measured, and whether the tree differs from it (a report being written does not count).
bench_tree() {
    echo "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . ':!bench/REPORT-*' || echo ' (with uncommitted changes)')"
}

# bench_header WHAT COMMAND: the first lines of a report.
bench_header() {
    echo "wa-broker $1, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
    echo "command: $2"
}
