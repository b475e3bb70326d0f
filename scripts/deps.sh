#!/bin/sh
# deps.sh — make sure the Debian packages libgreen builds, tests and benchmarks with are
# installed.  As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.  `make` and `make test` call it, so a fresh Debian 12
# machine needs nothing else.
set -eu

# package:file-that-proves-it-is-installed
need="
libev-dev:/usr/include/ev.h
libcriterion-dev:/usr/include/criterion/criterion.h
pkg-config:/usr/bin/pkg-config
gcc:/usr/bin/gcc
make:/usr/bin/make
gcc-aarch64-linux-gnu:/usr/bin/aarch64-linux-gnu-gcc
qemu-user:/usr/bin/qemu-aarch64
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
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
