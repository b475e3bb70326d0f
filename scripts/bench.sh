#!/bin/bash
# bench.sh — run libgreen's benchmarks and print one line per figure: its median over
# several processes, the target from the issue, and how far from it.  `make bench` runs
# it; BENCHMARKS.md records its output with the machine it ran on.
#
#   B=build        the build directory holding bench/<name> (built here if missing)
#   REPS=5         processes per micro-benchmark (each prints its own median of 7 runs)
#   SLEEPER_REPS=3 processes per sleepers run (each holds several GiB: run one at a time)
#   BASE_REPS=3    processes per baseline (swapcontext, pthreads)
#   SKIP_1M=1      skip the 1,000,000-sleeper run (it needs ~5 GiB of memory)
#
# Each benchmark prints "<name> <value> <unit> <detail>" lines; this script keeps the
# per-process values, prints the median, and the spread (min..max) so a noisy machine
# shows.  Every command runs under `timeout`, so the whole script stays bounded (about
# two minutes on the 2-core machine BENCHMARKS.md describes).
set -euo pipefail

B=${B:-build}
REPS=${REPS:-5}
SLEEPER_REPS=${SLEEPER_REPS:-3}
BASE_REPS=${BASE_REPS:-3}
SKIP_1M=${SKIP_1M:-0}
cd "$(dirname "$0")/.."

bins="switch spawn sleepers base_ucontext base_pthread"
missing=""
for b in $bins; do
    [ -x "$B/bench/$b" ] || missing="$missing $B/bench/$b"
done
if [ -n "$missing" ]; then
    make -s B="$B" $missing
fi

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

# run <timeout-seconds> <label> <command...>: append the figure lines, tagged, to $raw.
run() {
    local limit=$1 tag=$2
    shift 2
    local out
    if ! out=$(timeout "$limit" "$@" 2>&1); then
        echo "bench.sh: '$*' failed or ran over ${limit}s:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out" | awk -v tag="$tag" 'NF >= 3 && $2 ~ /^[0-9.]+$/ {
        d = ""; for (i = 4; i <= NF; i++) if ($i ~ /^guard=/) d = " " $i
        print tag "|" $1 "|" $2 "|" $3 "|" d }' >> "$raw"
}

echo "libgreen $(git describe --always --dirty 2>/dev/null || echo '?') benchmarks," \
     "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, Linux $(uname -r), $B"
for i in $(seq "$REPS"); do
    echo "  run $i/$REPS: switch, spawn" >&2
    run 60 "" "$B/bench/switch"
    run 60 "" "$B/bench/spawn"
done
for i in $(seq "$SLEEPER_REPS"); do
    echo "  run $i/$SLEEPER_REPS: 100,000 sleepers" >&2
    run 60 "100k" "$B/bench/sleepers" 100000
done
if [ "$SKIP_1M" != 1 ]; then
    for i in $(seq "$SLEEPER_REPS"); do
        echo "  run $i/$SLEEPER_REPS: 1,000,000 sleepers" >&2
        run 120 "1M" "$B/bench/sleepers" 1000000
    done
fi
for i in $(seq "$BASE_REPS"); do
    echo "  run $i/$BASE_REPS: baselines" >&2
    run 60 "" "$B/bench/base_ucontext"
    run 90 "" "$B/bench/base_pthread"
done

# figure key | label | unit to print | scale from the benchmark's unit | target (or -)
table="
|switch|yield ping-pong, ns/switch|ns|1|10
|switch_raw_ctx|bare ctx switch, 2 call sites, ns|ns|1|-
|spawn_join|spawn+run+join, ns/cycle|ns|1|150
|spawn_join_batch100|spawn 100 then join 100, ns/thread|ns|1|-
100k|sleepers_wall|100,000 sleepers 1 s: wall|s|1|-
100k|sleepers_peak_rss|100,000 sleepers 1 s: peak RSS|MiB|1024|-
1M|sleepers_wall|1,000,000 sleepers 1 s: wall|s|1|3
1M|sleepers_peak_rss|1,000,000 sleepers 1 s: peak RSS|GiB|1|5
|base_ucontext_switch|glibc swapcontext, ns/switch|ns|1|-
|base_pthread_create_join_1cpu|pthread_create+join, 1 CPU, ns/cycle|ns|1|-
|base_pthread_create_join|pthread_create+join, 2 CPUs, ns/cycle|ns|1|-
|base_pthread_handoff_1cpu|pthread futex hand-off, 1 CPU, ns|ns|1|-
|base_pthread_handoff|pthread futex hand-off, 2 CPUs, ns|ns|1|-
"

printf '%-40s %8s %-4s %9s  %-24s %s\n' figure median unit target "vs target" "min..max (processes)"
echo "$table" | while IFS='|' read -r tag key label unit scale target; do
    [ -n "$key" ] || continue
    vals=$(awk -F'|' -v t="$tag" -v k="$key" '$1 == t && $2 == k { print $3 }' "$raw" | sort -g)
    [ -n "$vals" ] || continue
    detail=$(awk -F'|' -v t="$tag" -v k="$key" '$1 == t && $2 == k { d = $5 } END { print d }' "$raw")
    echo "$vals" | awk -v label="$label" -v unit="$unit" -v scale="$scale" -v target="$target" \
                       -v detail="$detail" '
        { v[NR] = $1 * scale }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            fmt = m >= 100 ? "%.0f" : (m >= 10 ? "%.1f" : "%.2f")
            if (target == "-") {
                verdict = "(for scale)"; tgt = "-"
            } else {
                r = m / target
                verdict = m <= target ? sprintf("met (%.2fx)", r) : sprintf("MISSED by %+.0f%%", (r - 1) * 100)
                tgt = "<= " target
            }
            printf "%-40s %8s %-4s %9s  %-24s %s..%s (%d)%s\n", label, sprintf(fmt, m), unit, tgt,
                   verdict, sprintf(fmt, v[1]), sprintf(fmt, v[NR]), NR, detail
        }'
done
echo "(no memory growth across 100,000 spawn/join cycles: checked by the test suite, make test)"
