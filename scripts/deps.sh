#!/bin/sh
# deps.sh — make sure the Debian packages libgreen builds, tests and benchmarks with are
# installed.  As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.  `make` and `make test` call it, so a fresh Debian 12
# machine needs nothing else.
set -eu

# package:file-that-proves-it-is-installed
need="
libev-dev:/usr/include/ev.h
libunwind-dev:/usr/include/x86_64-linux-gnu/libunwind.h
libcriterion-dev:/usr/include/criterion/criterion.h
pkg-config:/usr/bin/pkg-config
gcc:/usr/bin/gcc
make:/usr/bin/make
gcc-aarch64-linux-gnu:/usr/bin/aarch64-linux-gnu-gcc
qemu-user:/usr/bin/qemu-aarch64
redis-server:/usr/bin/redis-server
redis-tools:/usr/bin/redis-benchmark
nginx:/usr/sbin/nginx
wrk:/usr/bin/wrk
curl:/usr/bin/curl
socat:/usr/bin/socat
busybox:/bin/busybox
python3-gevent:/usr/lib/python3/dist-packages/gevent/__init__.py
golang-go:/usr/bin/go
gnuplot-nox:/usr/bin/gnuplot
man-db:/usr/bin/man
groff-base:/usr/bin/groff
gdb:/usr/bin/gdb
valgrind:/usr/include/valgrind/valgrind.h
clang-14:/usr/bin/clang-14
libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/include/fuzzer/FuzzedDataProvider.h
"
missing=""
for entry in $need; do
    pkg=${entry%%:*}
    file=${entry#*:}
    [ -e "$file" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "libgreen needs these Debian packages:$missing" >&2
    echo "install them as root with:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# redis-server and nginx are installed for the tests to start on ports of their own
# (tests/preload/test_real.c), not as services: a policy-rc.d answering 101 keeps their
# packages from starting one (on 6379 and 80) while they install, unless the machine
# already has a policy of its own.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# written by libgreen scripts/deps.sh during apt-get install\nexit 101\n' >$policy
    chmod 755 $policy
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
