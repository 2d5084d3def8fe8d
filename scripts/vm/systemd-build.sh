#!/bin/bash
# Build the systemd test VM: a Debian bookworm root filesystem with systemd,
# dbus and runc in an ext4 image, booted through a small initramfs that loads
# the ext4 and virtio modules, copies the built nook and the test script into
# the root (the disk is attached with snapshot=on, so nothing persists), and
# switch_roots to systemd. Everything comes from Debian packages; results are
# cached in VM_DIR (default target/vm):
#
#   qemu/, vmlinux      from scripts/vm/build.sh (run first, cached there)
#   systemd.ext4        scripts/vm/systemd-image.sh: mmdebstrap bookworm +
#                       systemd, dbus, runc, and the busybox container rootfs
#                       at /rootfs; rebuilt only when that script changes
#                       (about a minute and a half, with network)
#   systemd-initrd.cpio busybox, the modules, nook, scripts/vm/systemd-test.sh
#                       and the unit that runs it; rebuilt when those change
#
#   scripts/vm/systemd-build.sh [NOOK_BINARY]     (default target/debug/nook)
#
# Boot it with scripts/vm/systemd-run.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export VM_DIR=${VM_DIR:-$repo/target/vm}
nook=${1:-$repo/target/debug/nook}
busybox=/bin/busybox

die() { echo "$0: $*" >&2; exit 1; }

command -v mmdebstrap >/dev/null || die "mmdebstrap not found; install it (scripts/install-deps.sh)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found; install e2fsprogs (scripts/install-deps.sh)"

# qemu and the kernel: the plain VM's build (cached; its initramfs is unused here).
"$here/build.sh" "$nook" >/dev/null
vm_dir=$(cd "$VM_DIR" && pwd)

inputs_key() { # FILE...
    sha256sum "$@" | sha256sum | cut -d' ' -f1
}

pack() { # DIR OUT (as build.sh: reproducible newc archive, root-owned)
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) >"$2.tmp"
    truncate -s %512 "$2.tmp"
    mv "$2.tmp" "$2"
}

# --- the root filesystem image -------------------------------------------
# Rebuilt only when its recipe (systemd-image.sh) or the container rootfs changes.
image_key=$(inputs_key "$here/systemd-image.sh" "$repo/scripts/build-rootfs.sh" "$busybox")
if [ ! -s "$vm_dir/systemd.ext4" ] || [ "$(cat "$vm_dir/systemd.ext4.key" 2>/dev/null)" != "$image_key" ]; then
    echo "vm: building systemd.ext4 with mmdebstrap (bookworm)" >&2
    rm -f "$vm_dir/systemd.ext4"
    "$here/systemd-image.sh" "$vm_dir/systemd.root" "$vm_dir/systemd.ext4.tmp"
    mv "$vm_dir/systemd.ext4.tmp" "$vm_dir/systemd.ext4"
    echo "$image_key" >"$vm_dir/systemd.ext4.key"
fi

# --- the initramfs ---------------------------------------------------------
# ext4 and the virtio disk are modules in Debian's kernel; listed in load
# order (each after what it needs; crc32c_generic first, which ext4 and jbd2
# find through the crypto API rather than a module dependency).
modules="crc32c_generic crc16 mbcache jbd2 ext4 virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
initrd_key=$(inputs_key "$0" "$nook" "$here/systemd-init" "$here/systemd-test.sh" "$vm_dir/kernel-version")
if [ ! -s "$vm_dir/systemd-initrd.cpio" ] || [ "$(cat "$vm_dir/systemd-initrd.key" 2>/dev/null)" != "$initrd_key" ]; then
    echo "vm: building systemd-initrd.cpio from $nook" >&2
    root=$vm_dir/systemd-initrd.root
    rm -rf "$root"
    mkdir -p "$root"/{bin,proc,sys,dev,newroot,modules,nook-vm}
    cp "$busybox" "$root/bin/busybox"
    for applet in sh mount umount insmod switch_root mkdir cp sleep echo cat; do
        ln -s busybox "$root/bin/$applet"
    done
    version=$(sed 's/^vmlinuz-//' "$vm_dir/kernel-version")
    deb=$(ls "$vm_dir"/debs/linux-image-"$version"_*.deb | tail -1)
    mkdir -p "$root/kmod"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root/kmod" "./lib/modules/$version/kernel"
    for m in $modules; do
        ko=$(find "$root/kmod" -name "$m.ko" | head -1)
        [ -n "$ko" ] || die "module $m.ko not in $deb"
        cp "$ko" "$root/modules/"
    done
    rm -rf "$root/kmod"
    echo "$modules" >"$root/modules/order"
    install -m 0755 "$here/systemd-init" "$root/init"
    cp "$nook" "$root/nook-vm/nook"
    strip "$root/nook-vm/nook"
    install -m 0755 "$here/systemd-test.sh" "$root/nook-vm/test.sh"
    pack "$root" "$vm_dir/systemd-initrd.cpio"
    rm -rf "$root"
    echo "$initrd_key" >"$vm_dir/systemd-initrd.key"
fi

echo "$vm_dir"
