#!/bin/bash
# Build a minimal root filesystem from the static busybox of Debian's
# busybox-static package into DIR. No network; takes well under a second.
#
#   scripts/build-rootfs.sh DIR          build (or refresh) DIR
#   scripts/build-rootfs.sh DIR TARFILE  also pack DIR into TARFILE (for `podman import`)
#
# Idempotent: running it again on the same DIR leaves the same tree.
set -euo pipefail

usage() { echo "usage: $0 DIR [TARFILE]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
tarfile=${2:-}

# busybox-static installs /bin/busybox; a dynamically linked busybox (package
# "busybox") would not run inside the rootfs, so insist on a static one.
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
    echo "$0: $busybox not found; install busybox-static (scripts/install-deps.sh)" >&2
    exit 1
fi
if command -v readelf >/dev/null && readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
    echo "$0: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

for d in bin sbin usr/bin usr/sbin etc proc sys dev tmp run root var/tmp home; do
    mkdir -p "$dir/$d"
done
chmod 1777 "$dir/tmp" "$dir/var/tmp"
chmod 0700 "$dir/root"

# Copy only when changed, so a second run does not touch the tree.
if ! cmp -s "$busybox" "$dir/bin/busybox"; then
    install -m 0755 "$busybox" "$dir/bin/busybox.new"
    mv -f "$dir/bin/busybox.new" "$dir/bin/busybox"
fi

# The applet links must point at /bin/busybox as seen from inside the rootfs,
# not at the host's path, so make them ourselves from the applet list.
# `busybox --list-full` prints paths such as "bin/sh" and "usr/bin/env".
# linuxrc is for initrds; it has no place in a container's root.
applets=$("$dir/bin/busybox" --list-full | grep -v -e '^bin/busybox$' -e '^linuxrc$')
wanted=$(wc -l <<<"$applets")
present=$(find "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" -maxdepth 1 -lname /bin/busybox | wc -l)
if [ "$wanted" != "$present" ]; then
    while read -r applet; do
        ln -sfn /bin/busybox "$dir/$applet"
    done <<<"$applets"
fi

write_if_changed() { # FILE MODE: write stdin to FILE only if the content differs
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    chmod "$2" "$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

write_if_changed "$dir/etc/passwd" 0644 <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
write_if_changed "$dir/etc/group" 0644 <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
nobody:x:65534:
GROUP
write_if_changed "$dir/etc/hostname" 0644 <<<"nook"
write_if_changed "$dir/etc/hosts" 0644 <<'HOSTS'
127.0.0.1 localhost
::1 localhost
HOSTS
# Engines bind-mount their own resolv.conf over this; it only has to exist.
[ -e "$dir/etc/resolv.conf" ] || : >"$dir/etc/resolv.conf"

if [ -n "$tarfile" ]; then
    # Fixed owner and sorted names so the tar is the same on every run.
    tar --sort=name --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$tarfile.tmp" .
    mv -f "$tarfile.tmp" "$tarfile"
fi
