#!/bin/bash
# Put a CRIU that works on this host's kernel under /opt/nook-criu (or
# $NOOK_CRIU_DIR), for nook's checkpoint/restore tests. Run as root; needs
# network on the first run; safe to run again.
#
# Why not Debian 12's own criu package: criu 3.17.1 fails `criu check` on
# kernels of 6.x newer than it knows ("vdso: Unexpected rt vDSO area bounds").
# Debian trixie's criu 4.x works, but needs trixie's glibc (>= 2.38), so it
# cannot be installed into a bookworm system. Instead this script downloads
# trixie's criu and its library dependencies with a private apt configuration
# (the host's sources, apt state and dpkg database are never touched),
# unpacks them into $DIR/root, and writes $DIR/criu: a wrapper that starts
# criu through trixie's own dynamic loader with trixie's libraries. The loader
# is given the library path on its command line (not LD_LIBRARY_PATH), so the
# programs criu itself runs (ip, iptables, tar, action scripts) use the host's
# libraries as usual.
#
# Use: nook --criu /opt/nook-criu/criu checkpoint ...; for Podman, put
# /opt/nook-criu/bin (which holds the same wrapper, named criu) first in PATH.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "$0: run as root" >&2
    exit 1
fi

DIR=${NOOK_CRIU_DIR:-/opt/nook-criu}
SUITE=${NOOK_CRIU_SUITE:-trixie}
MIRROR=${NOOK_CRIU_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

wrapper_ok() {
    [ -x "$DIR/criu" ] && "$DIR/criu" --version >/dev/null 2>&1
}

if wrapper_ok && [ "${1:-}" != --force ]; then
    echo "criu-host: $DIR/criu is there: $("$DIR/criu" --version | head -1)"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work"/{lists/partial,archives/partial,etc/apt.conf.d,etc/preferences.d,etc/trusted.gpg.d}
    : >"$work/status"
    cat >"$work/etc/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR $SUITE main
EOF
    # A private apt: its own sources, lists, cache and an empty dpkg status,
    # so the download resolves criu's whole dependency closure for trixie.
    apt_opts=(
        -o "Dir::Etc=$work/etc"
        -o "Dir::Etc::SourceList=$work/etc/sources.list"
        -o "Dir::Etc::SourceParts=$work/etc/nonexistent"
        -o "Dir::State::Lists=$work/lists"
        -o "Dir::State::status=$work/status"
        -o "Dir::Cache=$work"
        -o "Dir::Cache::Archives=$work/archives"
        -o "APT::Architecture=amd64"
        -o "APT::Install-Recommends=false"
        -o "Debug::NoLocking=true"
    )
    apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update
    apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root install -y --download-only criu
    rm -rf "$DIR/root.new"
    mkdir -p "$DIR/root.new"
    for deb in "$work"/archives/*.deb; do
        dpkg-deb -x "$deb" "$DIR/root.new"
    done
    rm -rf "$DIR/root"
    mv "$DIR/root.new" "$DIR/root"
fi

root="$DIR/root"
loader="$root/lib64/ld-linux-x86-64.so.2"
[ -e "$loader" ] || loader="$root/usr/lib64/ld-linux-x86-64.so.2"
libs="$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu"
cat >"$DIR/criu" <<EOF
#!/bin/sh
# criu from Debian $SUITE, run with its own loader and libraries
# (written by nook's scripts/criu-host.sh).
exec "$loader" --library-path "$libs" "$root/usr/sbin/criu" "\$@"
EOF
chmod 755 "$DIR/criu"
mkdir -p "$DIR/bin"
ln -sf "$DIR/criu" "$DIR/bin/criu"

echo "criu-host: $("$DIR/criu" --version | head -1)"
# criu check writes its kernel-feature cache (kdat) under /run; remove the
# cache so a later run of the host's own criu does not read ours.
if "$DIR/criu" check; then
    echo "criu-host: criu check passed ($DIR/criu)"
else
    echo "criu-host: WARNING: criu check failed on this kernel; checkpoint tests will skip" >&2
fi
rm -f /run/criu.kdat /run/criu.kdat.tmp
