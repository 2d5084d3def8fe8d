#!/bin/bash
# Build everything the pure cgroup v2 test VM needs, from Debian packages only,
# into a cache directory (default target/vm):
#
#   qemu/      qemu-system-x86, -common (the TCG accelerator module) and -data
#              (qboot firmware), unpacked with dpkg -x, never installed: the
#              machine may hold a newer qemu-utils that bookworm's qemu-system
#              packages would remove
#   vmlinux    the uncompressed kernel of linux-image-amd64's image package
#   brd.ko     the RAM disk module of the same kernel package: the VM has no
#              other block device, and io.max needs one
#   base.cpio  busybox-static, /init, runc with its libraries, brd.ko (as
#              /lib/modules/brd.ko) and a busybox root filesystem for the
#              containers; changes rarely
#   nook.cpio  the nook binary (stripped) with its libraries and the test
#              script (/test.sh); appended to base.cpio at boot (the kernel unpacks
#              concatenated archives), rebuilt whenever nook changes
#
#   scripts/vm/build.sh [NOOK_BINARY]     (default target/debug/nook)
#
# Environment: VM_DIR (cache directory), RUNC (default /usr/sbin/runc),
# VM_TEST_SCRIPT (the script the VM runs as /test.sh; default
# scripts/vm/cgroup2-test.sh).
# Each part is rebuilt only when the inputs it was made from change; a second
# run with nothing changed takes well under a second. Only `apt-get download`
# uses the network, and only on the first run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm_dir=${VM_DIR:-$repo/target/vm}
nook=${1:-$repo/target/debug/nook}
runc=${RUNC:-/usr/sbin/runc}
test_script=${VM_TEST_SCRIPT:-$here/cgroup2-test.sh}
busybox=/bin/busybox

die() { echo "$0: $*" >&2; exit 1; }

[ -x "$nook" ] || die "nook binary $nook not found (cargo build first)"
[ -x "$runc" ] || die "$runc not found; install runc (scripts/install-deps.sh)"
[ -x "$busybox" ] || die "$busybox not found; install busybox-static (scripts/install-deps.sh)"
command -v strip >/dev/null || die "strip not found; install binutils (scripts/install-deps.sh)"

mkdir -p "$vm_dir/debs"
vm_dir=$(cd "$vm_dir" && pwd)

# `apt-get download` writes into the current directory; it names files by
# package_version_arch.deb, so a package already there is not fetched again.
download() { # PACKAGE...
    (cd "$vm_dir/debs" && apt-get download -q "$@" 2>&1 | grep -v -e '^W: Download is performed unsandboxed' >&2 || true)
    for p in "$@"; do
        ls "$vm_dir/debs/${p%%=*}"_*.deb >/dev/null 2>&1 || die "apt-get download $p failed (run apt-get update?)"
    done
}

# --- qemu ---------------------------------------------------------------
if [ ! -x "$vm_dir/qemu/usr/bin/qemu-system-x86_64" ]; then
    echo "vm: unpacking qemu-system-x86 into $vm_dir/qemu" >&2
    download qemu-system-x86 qemu-system-common qemu-system-data
    rm -rf "$vm_dir/qemu.tmp"
    for p in qemu-system-x86 qemu-system-common qemu-system-data; do
        dpkg -x "$(ls "$vm_dir/debs/${p}"_*.deb | tail -1)" "$vm_dir/qemu.tmp"
    done
    rm -rf "$vm_dir/qemu"
    mv "$vm_dir/qemu.tmp" "$vm_dir/qemu"
fi
if missing=$(ldd "$vm_dir/qemu/usr/bin/qemu-system-x86_64" | grep 'not found'); then
    die "qemu-system-x86_64 lacks libraries (scripts/install-deps.sh installs them):
$missing"
fi

# --- kernel -------------------------------------------------------------
# linux-image-amd64 is a metapackage; the kernel is in the image package it
# depends on (linux-image-6.1.0-NN-amd64). Booting the uncompressed vmlinux
# (an ELF with a PVH entry point) with qboot skips the bzImage decompressor,
# which is slow under TCG.
if [ ! -s "$vm_dir/vmlinux" ]; then
    image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    [ -n "$image" ] || die "cannot find the kernel package linux-image-amd64 depends on (run apt-get update?)"
    echo "vm: extracting the kernel from $image" >&2
    download "$image"
    rm -rf "$vm_dir/kernel.tmp"
    mkdir -p "$vm_dir/kernel.tmp"
    dpkg-deb --fsys-tarfile "$(ls "$vm_dir/debs/${image}"_*.deb | tail -1)" |
        tar -x -C "$vm_dir/kernel.tmp" ./boot/
    bzimage=$(ls "$vm_dir"/kernel.tmp/boot/vmlinuz-* | head -1)
    # Debian compresses the kernel payload with xz (CONFIG_KERNEL_XZ): find
    # the xz stream's magic inside the bzImage and decompress from there;
    # --single-stream ignores what follows the stream.
    offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | head -1 | cut -d: -f1)
    [ -n "$offset" ] || die "no xz stream in $bzimage"
    # (Through a file: in a pipe, tail dies of SIGPIPE when xz stops reading.)
    tail -c +$((offset + 1)) "$bzimage" >"$vm_dir/kernel.tmp/payload.xz"
    xz -dc --single-stream "$vm_dir/kernel.tmp/payload.xz" >"$vm_dir/vmlinux.tmp"
    mv "$vm_dir/vmlinux.tmp" "$vm_dir/vmlinux"
    basename "$bzimage" >"$vm_dir/kernel-version"
    rm -rf "$vm_dir/kernel.tmp"
fi

# The RAM disk driver (CONFIG_BLK_DEV_RAM=m): /test.sh loads it so the io
# controller's per-device limits have a device to act on.
if [ ! -s "$vm_dir/brd.ko" ]; then
    image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    [ -n "$image" ] || die "cannot find the kernel package linux-image-amd64 depends on (run apt-get update?)"
    download "$image"
    deb=$(ls "$vm_dir/debs/${image}"_*.deb | tail -1)
    [ "$(cat "$vm_dir/kernel-version")" = "$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./boot/\(vmlinuz-.*\)|\1|p' | head -1)" ] ||
        die "$deb is not the kernel in $vm_dir/vmlinux; remove $vm_dir/vmlinux to rebuild both"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './lib/modules/*/kernel/drivers/block/brd.ko' >"$vm_dir/brd.ko.tmp"
    [ -s "$vm_dir/brd.ko.tmp" ] || die "no brd.ko in $deb"
    mv "$vm_dir/brd.ko.tmp" "$vm_dir/brd.ko"
fi

# --- initramfs parts -----------------------------------------------------
# Copy BINARY and the shared libraries ldd lists for it into DIR, at the
# same paths, so it runs inside the VM as it does here.
copy_with_libs() { # BINARY DEST_PATH DIR
    local binary=$1 dest=$2 dir=$3 lib
    mkdir -p "$dir/$(dirname "$dest")"
    cp -L "$binary" "$dir/$dest"
    for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
        mkdir -p "$dir/$(dirname "$lib")"
        cp -L "$lib" "$dir/$lib"
    done
}

# Pack DIR into the newc cpio archive OUT (busybox has cpio; the host has
# none). Fixed owner (root) and sorted names keep the archive reproducible.
pack() { # DIR OUT
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) >"$2.tmp"
    # The kernel expects each of several concatenated archives to start on a
    # 4-byte boundary; pad to a whole 512-byte block as cpio(1) does.
    truncate -s %512 "$2.tmp"
    mv "$2.tmp" "$2"
}

# A part is up to date when the hash of its inputs matches the one it was
# built from.
inputs_key() { # FILE...
    sha256sum "$@" | sha256sum | cut -d' ' -f1
}

base_key=$(inputs_key "$0" "$here/init" "$repo/scripts/build-rootfs.sh" "$busybox" "$runc" "$vm_dir/brd.ko")
if [ ! -s "$vm_dir/base.cpio" ] || [ "$(cat "$vm_dir/base.key" 2>/dev/null)" != "$base_key" ]; then
    echo "vm: building base.cpio" >&2
    root=$vm_dir/base.root
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,newroot}
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list-full | grep -v -e '^bin/busybox$' -e '^linuxrc$'); do
        ln -s /bin/busybox "$root/$applet"
    done
    install -m 0755 "$here/init" "$root/init"
    copy_with_libs "$runc" /usr/sbin/runc "$root"
    mkdir -p "$root/lib/modules"
    cp "$vm_dir/brd.ko" "$root/lib/modules/brd.ko"
    "$repo/scripts/build-rootfs.sh" "$root/rootfs" >/dev/null
    pack "$root" "$vm_dir/base.cpio"
    rm -rf "$root"
    echo "$base_key" >"$vm_dir/base.key"
fi

nook_key=$(inputs_key "$nook" "$test_script")
if [ ! -s "$vm_dir/nook.cpio" ] || [ "$(cat "$vm_dir/nook.key" 2>/dev/null)" != "$nook_key" ]; then
    echo "vm: building nook.cpio from $nook" >&2
    root=$vm_dir/nook.root
    rm -rf "$root"
    copy_with_libs "$nook" /usr/bin/nook "$root"
    # A debug build carries ~50 MB of debug info the VM does not need;
    # every byte of the initramfs is unpacked under TCG at each boot.
    strip "$root/usr/bin/nook"
    install -m 0755 "$test_script" "$root/test.sh"
    pack "$root" "$vm_dir/nook.cpio"
    rm -rf "$root"
    echo "$nook_key" >"$vm_dir/nook.key"
fi

# The initrd qemu boots: the two archives, one after the other.
if [ ! -s "$vm_dir/initrd.cpio" ] || [ "$vm_dir/base.cpio" -nt "$vm_dir/initrd.cpio" ] ||
    [ "$vm_dir/nook.cpio" -nt "$vm_dir/initrd.cpio" ]; then
    cat "$vm_dir/base.cpio" "$vm_dir/nook.cpio" >"$vm_dir/initrd.cpio.tmp"
    mv "$vm_dir/initrd.cpio.tmp" "$vm_dir/initrd.cpio"
fi

echo "$vm_dir"
