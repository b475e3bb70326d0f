#!/bin/bash
# soak.sh — the reliability soak (issue 6, item 2): tests/legacy/legacy_server ("quiet")
# under bench/loadgen's closed-loop echo load at C connections for S seconds, patched
# (LD_PRELOAD=libgreen.so) or unpatched, while its /proc/PID/status VmRSS and the number
# of its open descriptors (/proc/PID/fd) are sampled every second.
#
#   scripts/soak.sh [--unpatched] [--conns 10000] [--duration 300] [--payload 64]
#                   [--rss-pct 10] [--rss-mib 8] [--samples FILE]
#
# Verdict (exit 0 only when all hold; 1 otherwise, 2 for usage):
#   - loadgen: every echo verified byte for byte (errors=0), no failed connect, no stalled
#     connection, and the run ended in time;
#   - connections held: the server's descriptors reached baseline + C (every connection
#     accepted and held at once), and went back to the baseline (+-0) within 30 s of the
#     clients leaving: no descriptor leak;
#   - memory flat: over the measured window (every connection held, the first 10% of the
#     window and at least 3 s dropped as warm-up), the mean VmRSS of the last third is at
#     most the mean of the first third plus --rss-pct percent or --rss-mib MiB, whichever
#     is larger.  RELIABILITY.md gives the measurements this bound comes from.
# It prints one result line on stdout:
#   soak mode=patched conns=C held=H duration=S requests=N bytes_verified=B errors=E
#        connect_failed=F stalled=T fd_base=A fd_peak=P fd_after=Z rss_base_kib=...
#        rss_first_kib=... rss_last_kib=... rss_growth_kib=... rss_bound_kib=... verdict=ok
# bytes_verified counts the echoed bytes loadgen compared in its measured window (requests
# x payload); warm-up echoes are verified too but not counted.
#
# Only 127.0.0.1 is used; the server runs under prlimit --nofile at the hard limit, until
# this script ends; loadgen has a --timeout and a timeout; only the processes this script
# started are signalled, by PID.
set -euo pipefail

B=${B:-build}
MODE=patched
CONNS=10000
DURATION=300
PAYLOAD=64
RSS_PCT=10
RSS_MIB=8
SAMPLES=

usage() {
    sed -n '7,8p' "$0" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    --unpatched) MODE=unpatched ;;
    --conns) CONNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --payload) PAYLOAD=$2; shift ;;
    --rss-pct) RSS_PCT=$2; shift ;;
    --rss-mib) RSS_MIB=$2; shift ;;
    --samples) SAMPLES=$2; shift ;;
    *) usage ;;
    esac
    shift
done

LIB=$(realpath "$B/libgreen.so")
SERVER=$B/legacy/legacy_server
LOADGEN=$B/bench/loadgen
for f in "$LIB" "$SERVER" "$LOADGEN"; do
    [ -x "$f" ] || [ -r "$f" ] || { echo "soak.sh: $f is missing: run make" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/green-soak-XXXXXX)
SRV_PID=
LG_PID=
cleanup() {
    [ -n "$LG_PID" ] && kill -KILL "$LG_PID" 2>/dev/null || true
    [ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

NOFILE=$(ulimit -Hn)
ENVV=()
[ "$MODE" = patched ] && ENVV=("LD_PRELOAD=$LIB")
LIMIT=$((DURATION + 240))
# env and prlimit exec the server, so $! is its PID; the EXIT trap ends it.
: >"$TMP/server.out"
prlimit --nofile="$NOFILE:$NOFILE" env "${ENVV[@]}" "$SERVER" 0 quiet \
    >"$TMP/server.out" 2>"$TMP/server.err" &
SRV_PID=$!

port=
for _ in $(seq 500); do
    port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$TMP/server.out")
    [ -n "$port" ] && break
    sleep 0.02
done
if [ -z "$port" ]; then
    echo "soak.sh: the server did not listen" >&2
    cat "$TMP/server.err" >&2
    exit 1
fi

fds() { find "/proc/$SRV_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status" 2>/dev/null || echo 0; }

fd_base=$(fds)
rss_base=$(rss)
start=$(date +%s%N)
timeout -s KILL "$LIMIT" "$LOADGEN" --port "$port" --conns "$CONNS" --payload "$PAYLOAD" \
    --warmup 1 --duration "$DURATION" --timeout $((DURATION + 180)) \
    >"$TMP/loadgen.out" 2>"$TMP/loadgen.err" &
LG_PID=$!

# One sample a second while the load runs: ms since start, descriptors, VmRSS KiB.
echo "t_ms fds rss_kib" >"$TMP/samples"
while kill -0 "$LG_PID" 2>/dev/null; do
    echo "$((($(date +%s%N) - start) / 1000000)) $(fds) $(rss)" >>"$TMP/samples"
    sleep 1
done
lg_rc=0
wait "$LG_PID" || lg_rc=$?
LG_PID=

# The clients are gone (loadgen resets every socket at exit): wait for the baseline.
fd_after=$(fds)
for _ in $(seq 300); do
    [ "$fd_after" -le "$fd_base" ] && break
    sleep 0.1
    fd_after=$(fds)
done
kill -0 "$SRV_PID" 2>/dev/null && alive=1 || alive=0
[ -n "$SAMPLES" ] && cp "$TMP/samples" "$SAMPLES"

line=$(grep '^loadgen ' "$TMP/loadgen.out" || true)
if [ -z "$line" ]; then
    echo "soak.sh: loadgen printed no result" >&2
    cat "$TMP/loadgen.err" >&2
    exit 1
fi
field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
requests=$(field requests)
errors=$(field errors)
failed=$(field connect_failed)
stalled=$(field stalled)
duration=$(field duration)

# The measured window: the samples where every connection is held, less the warm-up.
awk -v base="$fd_base" -v c="$CONNS" -v pct="$RSS_PCT" -v mib="$RSS_MIB" '
    NR > 1 { if ($2 > peak) peak = $2; if ($2 >= base + c) { t[n] = $1; r[n] = $3; n++ } }
    END {
        held = peak - base
        skip = 0
        if (n > 0) {
            w = t[n - 1] - t[0]; cut = t[0] + (w / 10 > 3000 ? w / 10 : 3000)
            while (skip < n && t[skip] < cut) skip++
        }
        m = n - skip; third = int(m / 3)
        first = last = 0
        for (i = 0; i < third; i++) { first += r[skip + i]; last += r[n - third + i] }
        if (third > 0) { first /= third; last /= third }
        bound = first * pct / 100 > mib * 1024 ? first * pct / 100 : mib * 1024
        printf "%d %d %d %d %d %d\n", peak, held, first, last, bound, third
    }' "$TMP/samples" >"$TMP/window"
read -r fd_peak held rss_first rss_last rss_bound third <"$TMP/window"
growth=$((rss_last - rss_first))

verdict=ok
why=()
[ "$lg_rc" -eq 0 ] || why+=("loadgen exit $lg_rc")
[ "$errors" = 0 ] || why+=("$errors echo errors")
[ "$failed" = 0 ] || why+=("$failed failed connects")
[ "$stalled" = 0 ] || why+=("$stalled stalled connections")
[ "$held" -ge "$CONNS" ] || why+=("server held $held of $CONNS connections at once")
[ "$fd_after" -le "$fd_base" ] || why+=("descriptors $fd_after > baseline $fd_base after 30 s")
[ "$third" -ge 2 ] || why+=("too few samples with every connection held ($third per third)")
[ "$growth" -le "$rss_bound" ] || why+=("RSS grew $growth KiB > bound $rss_bound KiB")
[ "$alive" = 1 ] || why+=("the server died")
[ ${#why[@]} -eq 0 ] || verdict=failed

echo "soak mode=$MODE conns=$CONNS held=$held duration=$duration requests=$requests" \
    "bytes_verified=$((requests * PAYLOAD)) errors=$errors connect_failed=$failed" \
    "stalled=$stalled fd_base=$fd_base fd_peak=$fd_peak fd_after=$fd_after" \
    "rss_base_kib=$rss_base rss_first_kib=$rss_first rss_last_kib=$rss_last" \
    "rss_growth_kib=$growth rss_bound_kib=$rss_bound verdict=$verdict"
if [ "$verdict" != ok ]; then
    printf 'soak.sh: %s\n' "${why[@]}" >&2
    sed -n '1,20p' "$TMP/server.err" "$TMP/loadgen.err" >&2
    exit 1
fi
