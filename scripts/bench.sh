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
# The preload shim's figures (LD_PRELOAD=$B/libgreen.so on programs that know nothing of
# libgreen, each run patched and unpatched):
#   PL_REPS=3      server runs per mode of the connections benchmark: legacy_server holding
#                  CONNS idle connections opened and checked by bench/conns; RSS per idle
#                  connection from the server's VmRSS, OS threads from /proc/PID/task
#   CONNS=10000    connections (the server gets `prlimit --nofile`, at the hard limit)
#   SCALE_REPS=3   processes per sleepers_n run: SCALE_N threads each sleep(1), patched;
#   SCALE_N=100000 SCALE_N_UNPATCHED (10000) unpatched, for comparison
#   HOOK_REPS=5    process pairs (unpatched, patched) of bench/hookcost
#   SKIP_PRELOAD=1 skip the preload shim's figures
# An unpatched run makes one OS thread per connection or sleeper; before each one the
# script checks that the machine's tasks plus the run's stay 4,000 under kernel.pid_max
# and kernel.threads-max, and skips the run (saying so) when they would not.
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
PL_REPS=${PL_REPS:-3}
CONNS=${CONNS:-10000}
SCALE_REPS=${SCALE_REPS:-3}
SCALE_N=${SCALE_N:-100000}
SCALE_N_UNPATCHED=${SCALE_N_UNPATCHED:-10000}
HOOK_REPS=${HOOK_REPS:-5}
SKIP_PRELOAD=${SKIP_PRELOAD:-0}
cd "$(dirname "$0")/.."

bins="switch spawn sleepers base_ucontext base_pthread"
missing=""
for b in $bins; do
    [ -x "$B/bench/$b" ] || missing="$missing $B/bench/$b"
done
if [ "$SKIP_PRELOAD" != 1 ]; then
    for f in libgreen.so legacy/legacy_server legacy/sleepers_n bench/conns bench/hookcost; do
        [ -e "$B/$f" ] || missing="$missing $B/$f"
    done
fi
if [ -n "$missing" ]; then
    make -s B="$B" $missing
fi

raw=$(mktemp)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
    fi
    rm -f "$raw"
}
trap cleanup EXIT

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

# ---------------------------------------------------------------- the preload shim
#
# Figures of unmodified programs (tests/legacy, plain cc -pthread) run with and without
# LD_PRELOAD=$B/libgreen.so.  Each helper appends "tag|key|value|unit|detail" lines to $raw
# as run() does; the table at the end reads them.

lib=""  # $B/libgreen.so as an absolute path, set below

# A "Vm...:" field of /proc/PID/status, in KiB.
status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# headroom N: there is room for N more OS threads, 4,000 under pid_max and threads-max
# (tasks now: the 4th field of /proc/loadavg, "running/total").
headroom() {
    local tasks limit
    tasks=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
    limit=$(cat /proc/sys/kernel/pid_max)
    [ "$(cat /proc/sys/kernel/threads-max)" -lt "$limit" ] && limit=$(cat /proc/sys/kernel/threads-max)
    if [ $((tasks + $1 + 4000)) -gt "$limit" ]; then
        echo "bench.sh: skipping an unpatched run of $1 threads: $tasks tasks running," \
             "limit $limit" >&2
        return 1
    fi
}

die() {
    echo "bench.sh: $*" >&2
    exit 1
}

# conns_once TAG [LIB]: legacy_server (preloaded with LIB if given) on a free port; RSS
# before any connection; bench/conns opens CONNS connections, checks every echo and holds
# them; half a second later (every server thread back in recv) RSS, VmPTE and the OS
# threads of the server; then the client closes them all and the server is stopped.
conns_once() {
    local tag=$1 pre=${2:-} dir port r0 r1 pte tasks line t cpid cin cout
    dir=$(mktemp -d)
    prlimit --nofile="$nofile:$nofile" env ${pre:+LD_PRELOAD="$pre"} \
        "$B/legacy/legacy_server" 0 > "$dir/server.out" 2>&1 &
    server_pid=$!
    for t in $(seq 50); do
        grep -q '^listening on' "$dir/server.out" && break
        sleep 0.1
    done
    port=$(awk '/^listening on/ { print $3 }' "$dir/server.out")
    [ -n "$port" ] || die "legacy_server did not start: $(head -c 300 "$dir/server.out")"
    r0=$(status_kib "$server_pid" VmRSS)
    coproc CLIENT { exec timeout 150 "$B/bench/conns" "$port" "$CONNS" 256 60 2>"$dir/conns.err"; }
    # Bash forgets a coprocess's descriptors and pid once it has ended: keep copies.
    cpid=$CLIENT_PID
    exec {cin}<&"${CLIENT[0]}" {cout}>&"${CLIENT[1]}"
    if ! read -r -t 90 line <&"$cin" || [[ $line != conns_ready* ]]; then
        die "conns against ${pre:+patched }legacy_server failed: $(cat "$dir/conns.err")"
    fi
    sleep 0.5
    r1=$(status_kib "$server_pid" VmRSS)
    pte=$(status_kib "$server_pid" VmPTE)
    tasks=$(ls "/proc/$server_pid/task" | wc -l)
    echo >&"$cout"
    exec {cin}<&- {cout}>&-
    wait "$cpid" || die "conns failed while closing: $(cat "$dir/conns.err")"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    rm -rf "$dir"
    awk -v tag="$tag" -v n="$CONNS" -v r0="$r0" -v r1="$r1" -v pte="$pte" -v tasks="$tasks" \
        -v line="$line" 'BEGIN {
        split(line, f, "connect_s=")
        d = sprintf(" RSS %d -> %d KiB, VmPTE %d KiB", r0, r1, pte)
        printf "%s|conns_rss_per_conn|%.3f|KiB|%s\n", tag, (r1 - r0) / n, d
        printf "%s|conns_pte_per_conn|%.3f|KiB|\n", tag, pte / n
        printf "%s|conns_tasks|%d|threads|\n", tag, tasks
        printf "%s|conns_connect|%.3f|s|\n", tag, f[2] }' >> "$raw"
}

# scale_once TAG N [LIB]: sleepers_n N, wall time of the whole process (exec to exit) and
# what the program reports (its own wall, VmHWM, OS threads while they sleep).
scale_once() {
    local tag=$1 n=$2 pre=${3:-} t0 t1 out
    t0=$(date +%s%N)
    out=$(env ${pre:+LD_PRELOAD="$pre"} timeout 60 "$B/legacy/sleepers_n" "$n" 2>&1) ||
        die "sleepers_n $n ${pre:+patched }failed: $out"
    t1=$(date +%s%N)
    echo "$out" | awk -v tag="$tag" -v ns=$((t1 - t0)) '/^sleepers_n / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s|scale_wall|%.3f|s| (in the program: %.3f s, creating %.3f s)\n", tag, ns / 1e9, v["wall"], v["create"]
        printf "%s|scale_inner_wall|%.3f|s|\n", tag, v["wall"]
        printf "%s|scale_hwm|%.1f|MiB|\n", tag, v["hwm_kib"] / 1024
        printf "%s|scale_tasks|%d|threads|\n", tag, v["tasks"] }' >> "$raw"
}

# hook_pair: bench/hookcost unpatched, then patched.  Per pair: the hook's cost over the
# raw system call in the same (patched) process, and patched minus unpatched.
hook_pair() {
    local u p
    u=$(timeout 60 "$B/bench/hookcost" 2>&1) || die "hookcost failed: $u"
    p=$(LD_PRELOAD="$lib" timeout 60 "$B/bench/hookcost" 2>&1) || die "hookcost patched failed: $p"
    { echo "$u" | sed 's/^/U /'; echo "$p" | sed 's/^/P /'; } | awk '
        NF >= 3 { v[$1, $2] = $3 }
        END {
            printf "hook|read_pipe_added|%.1f|ns|\n", v["P", "pipe_read"] - v["P", "pipe_read_raw"]
            printf "hook|recv_unix_added|%.1f|ns|\n", v["P", "sock_recv"] - v["P", "sock_recv_raw"]
            printf "hook|read_unix_added|%.1f|ns|\n", v["P", "sock_read"] - v["P", "sock_read_raw"]
            printf "hook|read_pipe_vs_unpatched|%.1f|ns|\n", v["P", "pipe_read"] - v["U", "pipe_read"]
            printf "hook|recv_unix_vs_unpatched|%.1f|ns|\n", v["P", "sock_recv"] - v["U", "sock_recv"]
            printf "hook|read_unix_vs_unpatched|%.1f|ns|\n", v["P", "sock_read"] - v["U", "sock_read"]
            printf "hook|read_pipe_user|%.1f|ns|\n", v["P", "pipe_read"] - v["P", "pipe_preadv2_nowait"]
            printf "hook|preadv2_over_read|%.1f|ns|\n", v["P", "pipe_preadv2_nowait"] - v["P", "pipe_read_raw"]
            printf "hook|recv_unix_user|%.1f|ns|\n", v["P", "sock_recv"] - v["P", "sock_recv_dontwait_raw"]
            printf "hookU|pipe_read|%.1f|ns|\n", v["U", "pipe_read"]
            printf "hookP|pipe_read|%.1f|ns|\n", v["P", "pipe_read"]
            printf "hookU|pipe_read_raw|%.1f|ns|\n", v["U", "pipe_read_raw"]
            printf "hookP|pipe_read_raw|%.1f|ns|\n", v["P", "pipe_read_raw"]
            printf "hookU|sock_recv|%.1f|ns|\n", v["U", "sock_recv"]
            printf "hookP|sock_recv|%.1f|ns|\n", v["P", "sock_recv"]
            printf "hookU|sock_read|%.1f|ns|\n", v["U", "sock_read"]
            printf "hookP|sock_read|%.1f|ns|\n", v["P", "sock_read"]
        }' >> "$raw"
}

if [ "$SKIP_PRELOAD" != 1 ]; then
    lib=$(realpath "$B/libgreen.so")
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=$((CONNS + 1000))
    [ "$nofile" -ge $((CONNS + 100)) ] ||
        die "$CONNS connections need a hard descriptor limit of $((CONNS + 100)); it is $nofile"
    for i in $(seq "$PL_REPS"); do
        echo "  run $i/$PL_REPS: legacy_server with $CONNS idle connections, patched and unpatched" >&2
        conns_once connP "$lib"
        if headroom "$CONNS"; then conns_once connU; fi
    done
    for i in $(seq "$SCALE_REPS"); do
        echo "  run $i/$SCALE_REPS: sleepers_n $SCALE_N patched, $SCALE_N_UNPATCHED unpatched" >&2
        scale_once scaleP "$SCALE_N" "$lib"
        if headroom "$SCALE_N_UNPATCHED"; then scale_once scaleU "$SCALE_N_UNPATCHED"; fi
    done
    for i in $(seq "$HOOK_REPS"); do
        echo "  run $i/$HOOK_REPS: hookcost unpatched and patched" >&2
        hook_pair
    done
fi

# figure key | label | unit to print | scale from the benchmark's unit | target (or -)
# (tag "#": a heading)
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
#|-|preload shim: unmodified programs, LD_PRELOAD=libgreen.so (P) vs unpatched (U)|||
connP|conns_rss_per_conn|legacy_server, $CONNS idle: P RSS/conn|KiB|1|7
connU|conns_rss_per_conn|legacy_server, $CONNS idle: U RSS/conn|KiB|1|-
connP|conns_pte_per_conn|  P: page tables/conn (not in RSS)|KiB|1|-
connU|conns_pte_per_conn|  U: page tables/conn (not in RSS)|KiB|1|-
connP|conns_tasks|  P: OS threads holding them|thr|1|1
connU|conns_tasks|  U: OS threads holding them|thr|1|-
connP|conns_connect|  P: time to open+verify all|s|1|-
connU|conns_connect|  U: time to open+verify all|s|1|-
scaleP|scale_wall|sleepers_n $SCALE_N x sleep(1) P: wall|s|1|1.2
scaleP|scale_hwm|sleepers_n $SCALE_N x sleep(1) P: peak RSS|MiB|1|450
scaleP|scale_tasks|  P: OS threads|thr|1|1
scaleU|scale_wall|sleepers_n $SCALE_N_UNPATCHED x sleep(1) U: wall|s|1|-
scaleU|scale_hwm|sleepers_n $SCALE_N_UNPATCHED x sleep(1) U: peak RSS|MiB|1|-
scaleU|scale_tasks|  U: OS threads|thr|1|-
hook|read_pipe_added|hook read 1 B, pipe: added to raw read|ns|1|30
hook|recv_unix_added|hook recv 1 B, unix sock: added to raw|ns|1|30
hook|read_unix_added|hook read 1 B, unix sock: added to raw|ns|1|30
hook|read_pipe_user|  read, pipe: user-space part of it|ns|1|-
hook|preadv2_over_read|  read, pipe: preadv2 NOWAIT over read|ns|1|-
hook|recv_unix_user|  recv: user-space part of it|ns|1|-
hook|read_pipe_vs_unpatched|  read, pipe: P minus U|ns|1|-
hook|recv_unix_vs_unpatched|  recv, unix sock: P minus U|ns|1|-
hook|read_unix_vs_unpatched|  read, unix sock: P minus U|ns|1|-
hookU|pipe_read_raw|  raw read syscall, pipe, U process|ns|1|-
hookP|pipe_read_raw|  raw read syscall, pipe, P process|ns|1|-
hookU|pipe_read|  read(2), pipe, U|ns|1|-
hookP|pipe_read|  read(2), pipe, P|ns|1|-
hookU|sock_recv|  recv(2), unix sock, U|ns|1|-
hookP|sock_recv|  recv(2), unix sock, P|ns|1|-
hookU|sock_read|  read(2), unix sock, U|ns|1|-
hookP|sock_read|  read(2), unix sock, P|ns|1|-
"

printf '%-40s %8s %-4s %9s  %-24s %s\n' figure median unit target "vs target" "min..max (processes)"
echo "$table" | while IFS='|' read -r tag key label unit scale target; do
    [ -n "$key" ] || continue
    if [ "$tag" = "#" ]; then
        [ "$SKIP_PRELOAD" = 1 ] || echo "-- $label"
        continue
    fi
    vals=$(awk -F'|' -v t="$tag" -v k="$key" '$1 == t && $2 == k { print $3 }' "$raw" | sort -g)
    [ -n "$vals" ] || continue
    detail=$(awk -F'|' -v t="$tag" -v k="$key" '$1 == t && $2 == k { d = $5 } END { print d }' "$raw")
    echo "$vals" | awk -v label="$label" -v unit="$unit" -v scale="$scale" -v target="$target" \
                       -v detail="$detail" '
        { v[NR] = $1 * scale }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            fmt = m >= 100 || unit == "thr" ? "%.0f" : (m >= 10 ? "%.1f" : "%.2f")
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
