#!/bin/bash
# compare.sh — what does libgreen do for a thread-per-connection server?  Runs the server
# unpatched and patched (LD_PRELOAD=libgreen.so) under the same closed-loop echo load, at
# several concurrencies, and prints throughput, latency, memory, OS threads and CPU side by
# side: a markdown table on stdout, a CSV and a PNG plot under results/.
#
#   scripts/compare.sh [--quick] [--conns 10,100,1000,10000] [--payload 64] [--reps 3]
#                      [--warmup 1] [--duration 2] [--wait 20] [--peers] [--scale]
#                      [--results DIR] [-- ./server args {port}]
#
#   (no server)   the bundled tests/legacy/legacy_server ("quiet"), unpatched and patched
#   -- cmd...     the user's server instead, run from the current directory: {port} in its
#                 arguments becomes a free port; ready once 127.0.0.1:port accepts a
#                 connection (its output is not parsed)
#   --peers       also the peers, same load, same run: the hand-written single-thread libev
#                 echo server (the one-core ceiling), gevent's echo server on python3-gevent,
#                 and a goroutine-per-connection Go server at GOMAXPROCS=1 and 2
#   --scale       also N threads that each sleep(1) (tests/legacy/sleepers_n: patched at
#                 10,000 and 100,000, unpatched at 10,000 when the machine's pids allow) and
#                 the runtime's bench/sleepers 1000000, bench/switch and bench/spawn
#   --quick       1 rep, 0.5 s warm-up, 1 s windows, concurrencies 10,100,1000, --wait 3
#   --wait S      before each run, wait up to S s for the machine's CPUs to be idle (at most
#                 10% busy; 12 x S in all): other people's work on a shared machine skews
#                 every figure
#   --results DIR where the CSV and PNG go (default results/ at the repository's top)
#   B=build       the build directory; what is needed is built there with make
#
# Every cell (server x concurrency x pinning) runs --reps times, interleaved (rep 1 of
# every cell, then rep 2, ...) so a slow moment of the machine spreads over all servers.
# "pinned" runs the server with `taskset -c 0` and the load generator with `taskset -c 1`,
# so a one-core green server is compared fairly with a threaded one; "unpinned" lets the
# kernel place both.  The server always runs under `prlimit --nofile` at the hard limit
# (C >= 10,000 needs 20,000).  Per run, from /proc/PID of the server, sampled every
# 0.2 s: peak RSS (VmHWM at the end; RSS/conn is (peak - RSS before the load) / C), OS
# threads (the most seen), CPU time (utime+stime over the last --duration seconds, the
# load generator's measured window).  The table shows medians with min..max over reps.
#
# An unpatched run makes one OS thread per connection: before each, the machine's tasks
# plus C must stay 4,000 under kernel.pid_max and kernel.threads-max, or the cell is
# skipped, saying so.  Every command is bounded with timeout; only processes this script
# started are ever signalled (also on exit, INT and TERM); only 127.0.0.1 is used.
#
# Outputs: results/compare-<timestamp>.csv (one row per cell: medians, min, max),
# compare-<timestamp>-runs.csv (one row per run), compare-<timestamp>.png (req/s, p99 and
# peak RSS against concurrency, pinned rows, one line per server), with --scale
# compare-<timestamp>-scale.csv; results/latest.csv, latest.png (and latest-scale.csv)
# are copies of the newest.  Exit status: 0, or 1 when a run could not be made (a server
# that never listened, a load generator that crashed) or the build failed; 2 for usage.
set -euo pipefail

B=${B:-build}
CONNS=10,100,1000,10000
PAYLOAD=64
REPS=3
WARMUP=1
DURATION=2
PEERS=0
SCALE=0
QUICK=0
WAIT=20
RESULTS=results
USER_CMD=()
conns_set=0 reps_set=0 warmup_set=0 duration_set=0 wait_set=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}
bad() {
    echo "compare.sh: $*" >&2
    echo "usage: scripts/compare.sh [--quick] [--conns LIST] [--payload BYTES] [--reps N]" \
         "[--warmup S] [--duration S] [--wait S] [--peers] [--scale] [--results DIR] [-- cmd args {port}]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --conns) [ $# -ge 2 ] || bad "--conns needs a list"; CONNS=$2; conns_set=1; shift ;;
    --payload) [ $# -ge 2 ] || bad "--payload needs a size"; PAYLOAD=$2; shift ;;
    --reps) [ $# -ge 2 ] || bad "--reps needs a count"; REPS=$2; reps_set=1; shift ;;
    --warmup) [ $# -ge 2 ] || bad "--warmup needs seconds"; WARMUP=$2; warmup_set=1; shift ;;
    --duration) [ $# -ge 2 ] || bad "--duration needs seconds"; DURATION=$2; duration_set=1; shift ;;
    --wait) [ $# -ge 2 ] || bad "--wait needs seconds"; WAIT=$2; wait_set=1; shift ;;
    --peers) PEERS=1 ;;
    --scale) SCALE=1 ;;
    --results) [ $# -ge 2 ] || bad "--results needs a directory"; RESULTS=$2; shift ;;
    -h | --help) usage ;;
    --) shift; USER_CMD=("$@"); break ;;
    *) bad "unknown argument '$1'" ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    [ $conns_set = 1 ] || CONNS=10,100,1000
    [ $reps_set = 1 ] || REPS=1
    [ $warmup_set = 1 ] || WARMUP=0.5
    [ $duration_set = 1 ] || DURATION=1
    [ $wait_set = 1 ] || WAIT=3
fi
[[ $CONNS =~ ^[0-9]+(,[0-9]+)*$ ]] || bad "--conns wants numbers separated by commas, not '$CONNS'"
[[ $PAYLOAD =~ ^[1-9][0-9]*$ ]] || bad "--payload wants a positive number of bytes, not '$PAYLOAD'"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || bad "--reps wants a positive count, not '$REPS'"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "--warmup wants seconds, not '$WARMUP'"
[[ $WAIT =~ ^[0-9]+$ ]] || bad "--wait wants whole seconds, not '$WAIT'"
WAIT_BUDGET=$((WAIT * 12))
[[ $DURATION =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v d="$DURATION" 'BEGIN { exit !(d > 0) }' ||
    bad "--duration wants a positive number of seconds, not '$DURATION'"
IFS=, read -r -a CONNS_LIST <<< "$CONNS"
if [ ${#USER_CMD[@]} -gt 0 ]; then
    printf '%s\n' "${USER_CMD[@]}" | grep -q '{port}' ||
        bad "the server command must contain {port} where the port number goes: -- ${USER_CMD[*]}"
fi

# The user's server runs from the directory compare.sh was started in (its ./paths); the
# rest runs from the repository's top, where B and results/ are.
USER_DIR=$PWD
RESULTS=$(realpath -m "$RESULTS")
cd "$(dirname "$0")/.."
T_START=$EPOCHREALTIME
say() { echo "compare: $*" >&2; }
die() { say "$*"; exit 1; }

# ------------------------------------------------------------------------------ build
if ! command -v gnuplot > /dev/null || [ ! -e /usr/include/ev.h ] ||
    { [ "$PEERS" = 1 ] && ! { command -v go > /dev/null && /usr/bin/python3 -c 'import gevent' 2> /dev/null; }; }; then
    say "installing what is missing (scripts/deps.sh)"
    scripts/deps.sh || say "scripts/deps.sh failed: carrying on with what is installed"
fi
targets=("$B/libgreen.so" "$B/legacy/legacy_server" "$B/bench/loadgen")
[ "$SCALE" = 1 ] && targets+=("$B/legacy/sleepers_n" "$B/bench/sleepers" "$B/bench/switch" "$B/bench/spawn")
say "building in $B: ${targets[*]#"$B/"}"
make -s B="$B" "${targets[@]}" >&2 || die "make B=$B ${targets[*]} failed"
LIB=$(realpath "$B/libgreen.so")

# The servers of this run, in table order.  skip_reason[key] set: not run, and why.
SERVERS=(unpatched patched)
declare -A label skip_reason
if [ ${#USER_CMD[@]} -gt 0 ]; then
    subject="$(basename "${USER_CMD[0]}")"
else
    subject=legacy_server
fi
label[unpatched]="$subject unpatched"
label[patched]="$subject patched"
if [ "$PEERS" = 1 ]; then
    SERVERS+=(libev gevent go1 go2)
    label[libev]="libev (1 thread)"
    label[gevent]="gevent"
    label[go1]="Go GOMAXPROCS=1"
    label[go2]="Go GOMAXPROCS=2"
    for p in libev_echo go_echo; do
        if ! make -s B="$B" "$B/peers/$p" >&2; then
            k=libev; [ $p = go_echo ] && k="go1 go2"
            for kk in $k; do skip_reason[$kk]="make $B/peers/$p failed (scripts/deps.sh installs the peers' packages)"; done
        fi
    done
    if ! /usr/bin/python3 -c 'import gevent' 2> /dev/null; then
        skip_reason[gevent]="/usr/bin/python3 has no gevent (Debian: apt-get install python3-gevent)"
    fi
    for k in "${!skip_reason[@]}"; do say "not running ${label[$k]}: ${skip_reason[$k]}"; done
fi

# server_argv KEY PORT: the command line of a server, in ARGV; its extra environment in ENVV.
server_argv() {
    local key=$1 port=$2 a
    ENVV=()
    case $key in
    unpatched | patched)
        if [ ${#USER_CMD[@]} -gt 0 ]; then
            ARGV=()
            for a in "${USER_CMD[@]}"; do ARGV+=("${a//\{port\}/$port}"); done
        else
            ARGV=("$B/legacy/legacy_server" "$port" quiet)
        fi
        [ "$key" = patched ] && ENVV=("LD_PRELOAD=$LIB")
        ;;
    libev) ARGV=("$B/peers/libev_echo" "$port") ;;
    gevent) ARGV=(/usr/bin/python3 bench/peers/gevent_echo.py "$port") ;;
    go1) ARGV=("$B/peers/go_echo" "$port"); ENVV=(GOMAXPROCS=1) ;;
    go2) ARGV=("$B/peers/go_echo" "$port"); ENVV=(GOMAXPROCS=2) ;;
    esac
    return 0
}

# ------------------------------------------------------------------- process hygiene
TMP=$(mktemp -d /tmp/compare.XXXXXX)
server_pid="" sampler_pid="" lg_pid="" scale_pid=""

# Children of PID (a user's server may be a wrapper that forks the real one).
children_of() {
    cat /proc/"$1"/task/*/children 2> /dev/null || true
}
# stop_server: TERM the server (and the processes it started), KILL after 5 s.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local kids i
    kids=$(children_of "$server_pid")
    kill -TERM "$server_pid" $kids 2> /dev/null || true
    for i in $(seq 50); do
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" $kids 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    server_pid=""
}
cleanup() {
    local p
    for p in "$lg_pid" "$sampler_pid" "$scale_pid"; do
        [ -n "$p" ] && kill -TERM "$p" 2> /dev/null || true
    done
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# headroom N: room for N more OS threads, 4,000 under pid_max and threads-max (the tasks
# now: the 4th field of /proc/loadavg, "running/total").  Prints why not, otherwise.
headroom() {
    local tasks limit
    tasks=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
    limit=$(cat /proc/sys/kernel/pid_max)
    [ "$(cat /proc/sys/kernel/threads-max)" -lt "$limit" ] && limit=$(cat /proc/sys/kernel/threads-max)
    if [ $((tasks + $1 + 4000)) -gt "$limit" ]; then
        echo "no pid headroom for $1 more threads ($tasks tasks running, pid_max/threads-max $limit, 4000 kept spare)"
        return 1
    fi
}

# A TCP port nobody uses (no socket in /proc/net/tcp{,6} has it, in any state), below the
# ephemeral range so the load generator's own ports never collide with it.
free_port() {
    local lo hi p i
    read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
    for i in $(seq 200); do
        if [ "$lo" -gt 12000 ]; then
            p=$((10000 + RANDOM % (lo - 10000)))
        else
            p=$((hi + 1 + RANDOM % (65000 - hi)))
        fi
        if ! grep -qi ":$(printf %04X "$p") " /proc/net/tcp /proc/net/tcp6 2> /dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# quiet_wait: other processes share this machine (the two CPUs BENCHMARKS.md describes are
# shared with test suites and builds).  Before each run wait, up to --wait seconds, until
# the CPUs are at most 10% busy over a quarter of a second; BUSY is what was last seen (in %
# of all CPUs, -1: not looked at), recorded with the run.  The waits of a whole run stop at
# WAIT_BUDGET seconds (12 times --wait), so that a machine that never quietens cannot
# stretch the run out of its time bound.
cpu_times() {
    local cpu user nice sys idle iowait irq softirq steal
    read -r cpu user nice sys idle iowait irq softirq steal _ < /proc/stat
    echo "$((user + nice + sys + idle + iowait + irq + softirq + steal)) $((idle + iowait))"
}
WAITED=0
quiet_wait() {
    local a b t0=$SECONDS said=0
    if [ "$WAITED" -ge "$WAIT_BUDGET" ]; then
        BUSY=-1
        return 0
    fi
    while :; do
        a=$(cpu_times)
        sleep 0.25
        b=$(cpu_times)
        BUSY=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
            t = y[1] - x[1]; printf "%d", (t > 0 ? 100 * (t - (y[2] - x[2])) / t : 0) }')
        if [ "$BUSY" -le 10 ]; then
            WAITED=$((WAITED + SECONDS - t0))
            return 0
        fi
        if [ $((SECONDS - t0)) -ge "$WAIT" ] || [ $((WAITED + SECONDS - t0)) -ge "$WAIT_BUDGET" ]; then
            WAITED=$((WAITED + SECONDS - t0))
            [ "$WAIT" = 0 ] || say "the machine stayed $BUSY% busy for $((SECONDS - t0)) s: measuring anyway"
            [ "$WAITED" -ge "$WAIT_BUDGET" ] && [ "$WAIT" != 0 ] &&
                say "waited $WAITED s in all, the most this run may: no more waiting for the machine"
            return 0
        fi
        [ $said = 1 ] || say "the machine is $BUSY% busy with other work: waiting up to $WAIT s for it to quieten"
        said=1
    done
}

# One sample of the server: time, CPU ticks (utime+stime), VmRSS, VmHWM (KiB), threads.
sample() {
    local pid=$1 s k v rss=0 hwm=0 thr=0
    read -r s < "/proc/$pid/stat" 2> /dev/null || return 1
    # Fields after "(comm) ": state is field 3, utime 14, stime 15.
    set -- ${s##*) }
    local ticks=$((${12} + ${13}))
    while read -r k v _; do
        case $k in
        VmRSS:) rss=$v ;;
        VmHWM:) hwm=$v ;;
        Threads:) thr=$v ;;
        esac
    done < "/proc/$pid/status" 2> /dev/null || return 1
    echo "$EPOCHREALTIME $ticks $rss $hwm $thr"
}
sampler() {
    while sample "$1" >> "$2"; do sleep 0.2; done
}

NOFILE_HARD=$(ulimit -Hn)
MAXC=0
for c in "${CONNS_LIST[@]}"; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
[ "$NOFILE_HARD" = unlimited ] && NOFILE_HARD=$((MAXC + 1000))
CLK_TCK=$(getconf CLK_TCK)
# The server also gets SIGTERM if this script dies without its trap (SIGKILL).
DEATHSIG=()
setpriv --pdeathsig TERM true 2> /dev/null && DEATHSIG=(setpriv --pdeathsig TERM)
PIN_MODES=(pinned unpinned)
if ! taskset -c 1 true 2> /dev/null; then
    say "CPU 1 is not available: no pinned rows (they need CPUs 0 and 1)"
    PIN_MODES=(unpinned)
fi

RUNS=$TMP/runs.csv
RUNS_HEADER="server,label,pinning,conns,rep,status,rps,p50_us,p99_us,p999_us,requests,errors,connect_failed,stalled,peak_rss_kib,start_rss_kib,threads,cpu_s,window_s,busy_before_pct,note"
echo "$RUNS_HEADER" > "$RUNS"
failures=0

# run_cell KEY PIN C REP: one server, one load, one row of $RUNS.
run_cell() {
    local key=$1 pin=$2 conns=$3 rep=$4 port why out line rc t0 t1 r0 i
    local srv_pin=() lg_pin=() samples=$TMP/samples
    row() { echo "$key,${label[$key]},$pin,$conns,$rep,$1" >> "$RUNS"; }
    if [ -n "${skip_reason[$key]:-}" ]; then
        row "skipped,,,,,,,,,,,,,,,${skip_reason[$key]//,/;}"
        return 0
    fi
    if [ "$key" = unpatched ] && ! why=$(headroom "$conns"); then
        say "skipping ${label[$key]} at C=$conns: $why"
        row "skipped,,,,,,,,,,,,,,,${why//,/;}"
        return 0
    fi
    if [ "$NOFILE_HARD" -lt $((conns + 100)) ]; then
        why="$conns connections need a hard descriptor limit of $((conns + 100)); it is $NOFILE_HARD"
        say "skipping ${label[$key]} at C=$conns: $why"
        row "skipped,,,,,,,,,,,,,,,$why"
        return 0
    fi
    [ "$pin" = pinned ] && srv_pin=(taskset -c 0) && lg_pin=(taskset -c 1)
    quiet_wait
    port=$(free_port)
    server_argv "$key" "$port"
    out=$TMP/server.out
    local dir=.
    [ ${#USER_CMD[@]} -gt 0 ] && [ "$key" = unpatched -o "$key" = patched ] && dir=$USER_DIR
    (cd "$dir" && exec "${DEATHSIG[@]}" "${srv_pin[@]}" prlimit --nofile="$NOFILE_HARD:$NOFILE_HARD" \
        env "${ENVV[@]}" "${ARGV[@]}") > "$out" 2>&1 < /dev/null &
    server_pid=$!
    # Ready once a connect succeeds (up to 15 s: python imports gevent first).
    for i in $(seq 150); do
        if ! kill -0 "$server_pid" 2> /dev/null; then break; fi
        if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then i=ready; break; fi
        sleep 0.1
    done
    if [ "$i" != ready ]; then
        why="server did not accept on 127.0.0.1:$port: $(head -c 300 "$out" | tr '\n,' ' ;')"
        say "${label[$key]} at C=$conns: $why"
        stop_server
        row "failed,,,,,,,,,,,,,,,$why"
        failures=$((failures + 1))
        return 0
    fi
    sleep 0.1
    : > "$samples"
    sample "$server_pid" >> "$samples" || true
    r0=$(awk 'NR == 1 { print $3 }' "$samples")
    sampler "$server_pid" "$samples" &
    sampler_pid=$!
    local bound
    bound=$(awk -v w="$WARMUP" -v d="$DURATION" -v c="$conns" 'BEGIN { printf "%d", w + d + 30 + c / 500 }')
    t0=$EPOCHREALTIME
    timeout $((bound + 15)) "${lg_pin[@]}" "$B/bench/loadgen" --port "$port" --host 127.0.0.1 \
        --conns "$conns" --payload "$PAYLOAD" --warmup "$WARMUP" --duration "$DURATION" \
        --timeout "$bound" > "$TMP/lg.out" 2> "$TMP/lg.err" &
    lg_pid=$!
    rc=0
    wait "$lg_pid" || rc=$?
    lg_pid=""
    t1=$EPOCHREALTIME
    sample "$server_pid" >> "$samples" || true
    kill "$sampler_pid" 2> /dev/null || true
    wait "$sampler_pid" 2> /dev/null || true
    sampler_pid=""
    stop_server
    line=$(grep '^loadgen ' "$TMP/lg.out" | tail -1 || true)
    if [ -z "$line" ] || [ "$rc" -gt 1 ]; then
        why="load generator exit status $rc: $(head -c 300 "$TMP/lg.err" | tr '\n,' ' ;')"
        say "${label[$key]} at C=$conns: $why"
        row "failed,,,,,,,,,,,,,,,$why"
        failures=$((failures + 1))
        return 0
    fi
    # The figures: the load generator's line, and the samples over its measured window
    # (the last DURATION seconds before it exited).
    awk -v line="$line" -v rc="$rc" -v r0="$r0" -v busy="$BUSY" -v t1="$t1" -v d="$DURATION" -v hz="$CLK_TCK" '
        BEGIN {
            n = split(line, f, " ")
            for (i = 2; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
            best = -1
        }
        { t[NR] = $1; ticks[NR] = $2; if ($3 > rss) rss = $3; if ($4 > hwm) hwm = $4
          if ($5 > thr) thr = $5 }
        END {
            for (i = 1; i <= NR; i++) {
                dist = t[i] - (t1 - d); if (dist < 0) dist = -dist
                if (best < 0 || dist < bestd) { best = i; bestd = dist }
            }
            win = t[NR] - t[best]
            cpu = (ticks[NR] - ticks[best]) / hz
            if (hwm < rss) hwm = rss
            status = rc == 0 ? "ok" : "errors"
            printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%d,%.3f,%.3f,%d,\n", status, v["rps"], v["p50_us"],
                   v["p99_us"], v["p999_us"], v["requests"], v["errors"], v["connect_failed"],
                   v["stalled"], hwm, r0, thr, cpu, win, busy
        }' "$samples" > "$TMP/row"
    row "$(cat "$TMP/row")"
    awk -F, -v l="${label[$key]}" -v c="$conns" -v p="$pin" 'END {
        printf "%s, C=%s, %s: %.0f req/s, p99 %s us, peak RSS %.1f MiB, %s threads, CPU %.0f%%%s%s\n",
               l, c, p, $7, $9, $15 / 1024, $17, ($19 > 0 ? 100 * $18 / $19 : 0),
               ($14 > 0 ? ", " $14 " stalled" : ""), ($12 + $13 > 0 ? ", " $12 " errors, " $13 " failed connects" : "") }' \
        "$RUNS" >&2
}

# ---------------------------------------------------------------------- the matrix
total=$((REPS * ${#CONNS_LIST[@]} * ${#PIN_MODES[@]} * ${#SERVERS[@]}))
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, Linux $(uname -r)"
say "$total runs: ${#SERVERS[@]} servers x C=$CONNS x ${PIN_MODES[*]} x $REPS reps," \
    "${WARMUP} s warm-up + ${DURATION} s measured each, payload $PAYLOAD B"
done_runs=0
for rep in $(seq "$REPS"); do
    for conns in "${CONNS_LIST[@]}"; do
        for pin in "${PIN_MODES[@]}"; do
            for key in "${SERVERS[@]}"; do
                done_runs=$((done_runs + 1))
                elapsed=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }')
                printf 'compare: [%d/%d, %d:%02d] rep %d/%d: ' "$done_runs" "$total" \
                    $((elapsed / 60)) $((elapsed % 60)) "$rep" "$REPS" >&2
                [ -n "${skip_reason[$key]:-}" ] && echo "${label[$key]}: skipped" >&2
                [ -z "${skip_reason[$key]:-}" ] && echo "${label[$key]}, C=$conns, $pin ..." >&2
                run_cell "$key" "$pin" "$conns" "$rep"
            done
        done
    done
done

# ------------------------------------------------------------------- the scale runs
SCALE_CSV=$TMP/scale.csv
SCALE_HEADER="benchmark,mode,n,rep,status,wall_s,peak_rss_mib,threads,inner_wall_s,value,unit,note"
echo "$SCALE_HEADER" > "$SCALE_CSV"
# scale_run TIMEOUT BENCHMARK MODE N REP CMD...: one process, bounded; its figures parsed.
scale_run() {
    local limit=$1 bench=$2 mode=$3 n=$4 rep=$5 t0 t1 rc=0
    shift 5
    quiet_wait
    say "scale rep $rep: $bench $mode${n:+ N=$n}"
    t0=$EPOCHREALTIME
    timeout "$limit" "$@" > "$TMP/scale.out" 2>&1 &
    scale_pid=$!
    wait "$scale_pid" || rc=$?
    scale_pid=""
    t1=$EPOCHREALTIME
    if [ "$rc" != 0 ]; then
        say "$bench $mode failed (exit status $rc): $(head -c 300 "$TMP/scale.out")"
        echo "$bench,$mode,$n,$rep,failed,,,,,,,exit status $rc" >> "$SCALE_CSV"
        failures=$((failures + 1))
        return 0
    fi
    awk -v b="$bench" -v m="$mode" -v n="$n" -v r="$rep" -v t0="$t0" -v t1="$t1" '
        $1 == "sleepers_n" {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%s,%s,%s,%s,ok,%.3f,%.1f,%d,%.3f,,,\n", b, m, n, r, t1 - t0, v["hwm_kib"] / 1024,
                   v["tasks"], v["wall"]
        }
        $1 == "sleepers_wall" { wall = $2 }
        $1 == "sleepers_peak_rss" { rss = $2 * 1024; found = 1 }
        $1 == "switch" || $1 == "spawn_join" {
            printf "%s,%s,%s,%s,ok,%.3f,,,,%s,ns,%s\n", b, m, n, r, t1 - t0, $2, $1 }
        END { if (found) printf "%s,%s,%s,%s,ok,%.3f,%.1f,1,%.3f,,,\n", b, m, n, r, t1 - t0, rss, wall }
    ' "$TMP/scale.out" >> "$SCALE_CSV"
}
if [ "$SCALE" = 1 ]; then
    for rep in $(seq "$REPS"); do
        scale_run 60 sleepers_n patched 10000 "$rep" env LD_PRELOAD="$LIB" "$B/legacy/sleepers_n" 10000
        scale_run 60 sleepers_n patched 100000 "$rep" env LD_PRELOAD="$LIB" "$B/legacy/sleepers_n" 100000
        if why=$(headroom 10000); then
            scale_run 60 sleepers_n unpatched 10000 "$rep" "$B/legacy/sleepers_n" 10000
        else
            say "skipping sleepers_n unpatched N=10000: $why"
            echo "sleepers_n,unpatched,10000,$rep,skipped,,,,,,,${why//,/;}" >> "$SCALE_CSV"
        fi
        if why=$(headroom 100000); then
            scale_run 120 sleepers_n unpatched 100000 "$rep" "$B/legacy/sleepers_n" 100000
        else
            [ "$rep" = 1 ] && say "skipping sleepers_n unpatched N=100000: $why"
            echo "sleepers_n,unpatched,100000,$rep,skipped,,,,,,,${why//,/;}" >> "$SCALE_CSV"
        fi
        scale_run 120 sleepers runtime 1000000 "$rep" "$B/bench/sleepers" 1000000
        scale_run 60 switch runtime "" "$rep" "$B/bench/switch"
        scale_run 60 spawn runtime "" "$rep" "$B/bench/spawn"
    done
fi

# ------------------------------------------------------------------------ the report
# Per cell: medians and min..max over its runs (only runs that measured something).
AGG_HEADER="server,label,pinning,conns,payload,runs,rps,rps_min,rps_max,p50_us,p99_us,p99_min,p99_max,p999_us,peak_rss_mib,rss_min_mib,rss_max_mib,rss_per_conn_kib,threads,cpu_pct,errors,connect_failed,stalled,stalled_max,note"
AGG=$TMP/agg.csv
echo "$AGG_HEADER" > "$AGG"
awk -F, -v payload="$PAYLOAD" -v order="${SERVERS[*]}" -v pins="${PIN_MODES[*]}" -v cl="$CONNS" '
    function med(s,    a, n, i, j, x) {
        n = split(s, a, " "); if (n == 0) return ""
        for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        lo = a[1]; hi = a[n]
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(k, name, val) { s[k, name] = s[k, name] " " val }
    NR > 1 {
        k = $1 SUBSEP $3 SUBSEP $4; lab[$1] = $2; total[k]++
        if ($6 == "ok" || $6 == "errors") {
            ok[k]++
            add(k, "rps", $7); add(k, "p50", $8); add(k, "p99", $9); add(k, "p999", $10)
            add(k, "rss", $15 / 1024); add(k, "per", ($15 - $16) / $4); add(k, "thr", $17)
            add(k, "cpu", $19 > 0 ? 100 * $18 / $19 : 0); add(k, "err", $12); add(k, "cf", $13)
            add(k, "st", $14)
        } else if (note[k] == "") note[k] = $6 ": " $21
    }
    END {
        nserv = split(order, sv, " "); npin = split(pins, pv, " "); nc = split(cl, cv, ",")
        for (c = 1; c <= nc; c++) for (p = 1; p <= npin; p++) for (i = 1; i <= nserv; i++) {
            k = sv[i] SUBSEP pv[p] SUBSEP cv[c]
            if (!total[k]) continue
            if (!ok[k]) { printf "%s,%s,%s,%s,%s,0,,,,,,,,,,,,,,,,,,,%s\n", sv[i], lab[sv[i]], pv[p], cv[c], payload, note[k]; continue }
            n = ok[k] < total[k] ? sprintf("%d of %d runs %s", total[k] - ok[k], total[k], note[k]) : ""
            rps = med(s[k, "rps"]); rl = lo; rh = hi
            p99 = med(s[k, "p99"]); pl = lo; ph = hi
            rss = med(s[k, "rss"]); sl = lo; sh = hi
            st = med(s[k, "st"]); stmax = hi
            printf "%s,%s,%s,%s,%s,%d,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.1f,%.1f,%.1f,%.2f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%s\n",
                sv[i], lab[sv[i]], pv[p], cv[c], payload, ok[k], rps, rl, rh, med(s[k, "p50"]), p99, pl, ph,
                med(s[k, "p999"]), rss, sl, sh, med(s[k, "per"]), med(s[k, "thr"]), med(s[k, "cpu"]),
                med(s[k, "err"]), med(s[k, "cf"]), st, stmax, n
        }
    }' "$RUNS" >> "$AGG"

git_rev=$(git describe --always --dirty 2> /dev/null || echo '?')
cmdline="scripts/compare.sh"
[ "$QUICK" = 1 ] && cmdline+=" --quick"
cmdline+=" --conns $CONNS --payload $PAYLOAD --reps $REPS --warmup $WARMUP --duration $DURATION"
[ "$PEERS" = 1 ] && cmdline+=" --peers"
[ "$SCALE" = 1 ] && cmdline+=" --scale"
[ ${#USER_CMD[@]} -gt 0 ] && cmdline+=" --$(printf ' %q' "${USER_CMD[@]}")"
echo "## compare.sh: libgreen $git_rev, $machine"
echo
echo "\`$cmdline\` (B=$B). Closed-loop echo of $PAYLOAD B messages by bench/loadgen on 127.0.0.1;"
echo "medians of $REPS run(s)$([ "$REPS" -gt 1 ] && echo " with (min..max)"); pinned: server on CPU 0, load generator on CPU 1."
echo
echo "| C | server | pinning | req/s | p50 µs | p99 µs | p99.9 µs | peak RSS MiB | RSS/conn KiB | OS threads | server CPU % | stalled | errors |"
echo "|---:|---|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|"
awk -F, 'function sp(m, lo, hi) { return lo == hi ? m : m " (" lo ".." hi ")" }
NR > 1 {
    if ($6 == 0) { printf "| %s | %s | %s | %s | | | | | | | | | |\n", $4, $2, $3, $25; next }
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        $4, $2, $3, sp($7, $8, $9), $10, sp($11, $12, $13), $14, sp($15, $16, $17), $18, $19, $20,
        ($23 == $24 ? $23 : $23 " (max " $24 ")"), ($21 + $22 > 0 ? $21 "+" $22 " connect" : 0)
    if ($25 != "") printf "| | | | %s | | | | | | | | | |\n", $25
}' "$AGG"

if [ "$SCALE" = 1 ]; then
    echo
    echo "Scale: each row one program, wall time of the whole process and its peak RSS (VmHWM);"
    echo "sleepers_n is an unmodified program starting N pthreads that each sleep(1)."
    echo
    echo "| benchmark | N | mode | wall s | peak RSS MiB | OS threads | figure |"
    echo "|---|---:|---|---|---|---:|---|"
    awk -F, '
        function med(s,    a, n, i, j, x) {
            n = split(s, a, " "); if (n == 0) return ""
            for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            lo = a[1]; hi = a[n]
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function sp(fmt, m, l, h) {
            return l == h ? sprintf(fmt, m) : sprintf(fmt " (" fmt ".." fmt ")", m, l, h)
        }
        NR > 1 {
            k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $11 SUBSEP ($5 == "ok" ? $12 : "")
            if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
            if ($5 != "ok") { note[k] = $5 ": " $12; next }
            w[k] = w[k] " " $6; r[k] = r[k] " " $7; t[k] = t[k] " " $8; v[k] = v[k] " " $10
        }
        END {
            for (i = 1; i <= nk; i++) {
                k = keys[i]; split(k, f, SUBSEP)
                n = f[3] == "" ? "" : f[3]
                if (w[k] == "") { printf "| %s | %s | %s | %s | | | |\n", f[1], n, f[2], note[k]; continue }
                wall = sp("%.2f", med(w[k]), lo, hi)
                fig = ""
                if (f[4] == "ns") fig = f[5] " " sp("%.1f", med(v[k]), lo, hi) " ns"
                rss = r[k] ~ /[0-9]/ ? sp("%.0f", med(r[k]), lo, hi) : ""
                th = t[k] ~ /[0-9]/ ? med(t[k]) : ""
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[1], n, f[2], wall, rss, th, fig
            }
        }' "$SCALE_CSV"
fi

# The issue-4 targets, from this run's pinned rows (bundled server only: they name it).
if [ ${#USER_CMD[@]} -eq 0 ]; then
    targets=$(awk -F, -v scale="$SCALE_CSV" '
        function verdict(ok, text) { printf "- %s: %s\n", ok ? "met" : "MISSED", text }
        function ratio(a, b) { return b > 0 ? a / b : 1e9 }
        NR > 1 && $3 == "pinned" && $6 > 0 {
            rps[$1, $4] = $7; p99[$1, $4] = $11; per[$1, $4] = $18; st[$1, $4] = $23; stx[$1, $4] = $24; seen[$4] = 1
        }
        END {
            split("10 100 1000", cs, " ")
            for (i = 1; i <= 3; i++) {
                c = cs[i]; if (!(("patched", c) in rps)) continue
                if (("libev", c) in rps) {
                    r = ratio(rps["patched", c], rps["libev", c])
                    verdict(r >= 0.9, sprintf("C=%s req/s patched/libev %.2fx (target >= 0.9x): %d vs %d", c, r, rps["patched", c], rps["libev", c]))
                    r = ratio(p99["patched", c], p99["libev", c])
                    verdict(r <= 1.2, sprintf("C=%s p99 patched/libev %.2fx (target <= 1.2x): %d vs %d us", c, r, p99["patched", c], p99["libev", c]))
                }
                if (("go1", c) in rps) {
                    r = ratio(rps["patched", c], rps["go1", c])
                    verdict(r > 1, sprintf("C=%s req/s patched/Go GOMAXPROCS=1 %.2fx (target > 1x): %d vs %d", c, r, rps["patched", c], rps["go1", c]))
                }
            }
            c = 10000
            if (("patched", c) in rps) {
                verdict(stx["patched", c] == 0, sprintf("C=10000 patched stalled connections: %d (most in a run: %d) (target 0)", st["patched", c], stx["patched", c]))
                if (("unpatched", c) in rps) {
                    r = ratio(rps["patched", c], rps["unpatched", c])
                    verdict(r >= 1.5, sprintf("C=10000 req/s patched/unpatched %.2fx (target >= 1.5x): %d vs %d (unpatched: %d stalled)", r, rps["patched", c], rps["unpatched", c], st["unpatched", c]))
                }
                verdict(per["patched", c] <= 7, sprintf("C=10000 patched RSS per connection under load %.2f KiB (target <= 7 KiB idle)", per["patched", c]))
            }
            while ((getline line < scale) > 0) {
                split(line, f, ",")
                if (f[1] == "sleepers_n" && f[2] == "patched" && f[3] == 100000 && f[5] == "ok") { w = w " " f[6]; m = m " " f[7] }
            }
            if (w != "") {
                nw = split(w, a, " "); nm = split(m, b, " ")
                for (i = 2; i <= nw; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
                for (i = 2; i <= nm; i++) for (j = i; j > 1 && b[j - 1] + 0 > b[j] + 0; j--) { x = b[j]; b[j] = b[j - 1]; b[j - 1] = x }
                wm = nw % 2 ? a[(nw + 1) / 2] : (a[nw / 2] + a[nw / 2 + 1]) / 2
                mm = nm % 2 ? b[(nm + 1) / 2] : (b[nm / 2] + b[nm / 2 + 1]) / 2
                verdict(wm <= 1.2, sprintf("100,000 threads x sleep(1) patched: wall %.2f s (target <= 1.2 s)", wm))
                verdict(mm <= 450, sprintf("100,000 threads x sleep(1) patched: peak RSS %.0f MiB (target <= 450 MiB)", mm))
            }
        }' "$AGG")
    if [ -n "$targets" ]; then
        echo
        echo "Issue 4 targets (pinned rows of this run):"
        echo "$targets"
    fi
fi

# Files: the CSVs, then the plot.
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
base=$RESULTS/compare-$stamp
cp "$AGG" "$base.csv"
cp "$RUNS" "$base-runs.csv"
cp "$AGG" "$RESULTS/latest.csv"
if [ "$SCALE" = 1 ]; then
    cp "$SCALE_CSV" "$base-scale.csv"
    cp "$SCALE_CSV" "$RESULTS/latest-scale.csv"
fi
plot=""
if command -v gnuplot > /dev/null; then
    plots=()
    for key in "${SERVERS[@]}"; do
        awk -F, -v k="$key" 'NR > 1 && $1 == k && $3 == "pinned" && $6 > 0 { print $4, $7, $11, $15 }' \
            "$AGG" > "$TMP/plot-$key.dat"
        [ -s "$TMP/plot-$key.dat" ] && plots+=("'$TMP/plot-$key.dat' using 1:COL with linespoints lw 2 pt 7 title '${label[$key]}'")
    done
    if [ ${#plots[@]} -gt 0 ]; then
        joined() { local IFS=,; local s="${plots[*]}"; echo "${s//COL/$1}"; }
        if gnuplot > "$TMP/gnuplot.err" 2>&1 <<EOF; then
set terminal pngcairo noenhanced size 1500,600 font ",10"
set output '$base.png'
set multiplot layout 1,3 title "compare.sh: $subject, $PAYLOAD B echo, server on CPU 0, load on CPU 1 ($git_rev)"
set logscale x
set xlabel 'concurrent connections'
set grid
set key outside below center horizontal maxrows 3 samplen 2
set title 'throughput'
set ylabel 'requests/s'
set yrange [0:*]
plot $(joined 2)
set title 'p99 latency'
set ylabel 'microseconds'
set logscale y
set yrange [*:*]
plot $(joined 3)
set title 'server peak RSS'
set ylabel 'MiB'
plot $(joined 4)
unset multiplot
EOF
            cp "$base.png" "$RESULTS/latest.png"
            plot=$base.png
        else
            say "gnuplot failed: $(head -c 500 "$TMP/gnuplot.err")"
            failures=$((failures + 1))
        fi
    fi
else
    say "no plot: gnuplot is not installed (Debian: apt-get install gnuplot-nox; scripts/deps.sh does it)"
fi
echo
echo "Written: $base.csv (and $RESULTS/latest.csv), $base-runs.csv${plot:+, $plot (and $RESULTS/latest.png)}$([ "$SCALE" = 1 ] && echo ", $base-scale.csv")"
elapsed=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }')
say "done in $((elapsed / 60)) min $((elapsed % 60)) s$([ "$failures" = 0 ] || echo "; runs that failed: $failures")"
[ "$failures" = 0 ]
