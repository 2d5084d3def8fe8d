#!/bin/bash
# Build the release nook: statically linked (glibc and libseccomp included)
# and not position-independent. Such a binary needs no dynamic loader and no
# relocations at start-up, so each of the runtime's executions (create runs
# twice, then start, delete; see src/cloned_binary.rs) costs about 0.4 ms
# less CPU and maps fewer pages than the dynamic PIE build (README
# "Benchmark"). The price is no ASLR for nook's own code, as with runc's Go
# build.
#
# The flags need an explicit --target: without one, cargo applies RUSTFLAGS
# to proc-macros too, and a proc-macro cannot be built static. So the binary
# lands in target/<host triple>/release/nook.
#
#   scripts/build-release.sh [CARGO BUILD ARGS...]   build; the last line of
#                                                    stdout is the output dir
#                                                    (an absolute path)
#   scripts/build-release.sh --dir                   only print that dir
#
# CARGO (default cargo) and CARGO_TARGET_DIR (default target) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "$host" ]; then
    echo "$0: rustc -vV printed no host triple" >&2
    exit 1
fi
dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")/$host/release
if [ "${1:-}" = --dir ]; then
    echo "$dir"
    exit 0
fi

# libseccomp-sys links the archive it finds in LIBSECCOMP_LIB_PATH.
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
libdir=/usr/lib/${multiarch:-$(uname -m)-linux-gnu}
if [ ! -f "$libdir/libseccomp.a" ]; then
    echo "$0: $libdir/libseccomp.a not found; install libseccomp-dev" >&2
    exit 1
fi

RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir \
    "${CARGO:-cargo}" build --release --target "$host" "$@" >&2
echo "$dir"
