#!/bin/bash
# The root filesystem of the systemd test VM, as an ext4 image: Debian
# bookworm (mmdebstrap, minbase) with systemd as init, the system bus (dbus),
# runc to compare with, and the busybox container rootfs at /rootfs.
# Called by scripts/vm/systemd-build.sh, which caches the result.
#
#   scripts/vm/systemd-image.sh WORK_DIR IMAGE
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=$1
image=$2

rm -rf "$root"
mmdebstrap --quiet --variant=minbase \
    --include=systemd,systemd-sysv,dbus,runc,procps \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$root" http://deb.debian.org/debian
# Units the checks do not need; masking them shortens the boot (under TCG,
# every unit costs). Devices come from devtmpfs, modules are loaded by the
# initramfs, and nothing needs udev, timers or the journal on disk.
for unit in systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
    dpkg-db-backup.timer e2scrub_all.timer fstrim.timer getty.target \
    systemd-remount-fs.service systemd-update-utmp.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-udevd-control.socket \
    systemd-udevd-kernel.socket systemd-journal-flush.service systemd-random-seed.service \
    ldconfig.service systemd-sysusers.service systemd-hwdb-update.service \
    systemd-journal-catalog-update.service systemd-update-done.service \
    systemd-machine-id-commit.service modprobe@.service kmod-static-nodes.service \
    systemd-modules-load.service systemd-tmpfiles-setup-dev.service systemd-pstore.service \
    systemd-firstboot.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
echo nook-vm >"$root/etc/hostname"
# The containers' root filesystem (busybox), shared by every bundle.
"$repo/scripts/build-rootfs.sh" "$root/rootfs" >/dev/null
rm -f "$image"
mkfs.ext4 -q -F -L nook-root -d "$root" "$image" 1G
rm -rf "$root"
