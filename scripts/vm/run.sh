#!/bin/bash
# Boot the test VM built by scripts/vm/build.sh and run its test script.
# The guest's console is this script's standard output; the exit status is the
# test script's, or 125 when qemu ended without a verdict from the guest.
#
#   scripts/vm/run.sh [VM_DIR]     (default target/vm)
#
# Environment: VM_QEMU_PIDFILE (write qemu's pid there), QEMU_ACCEL, QEMU_CPU;
# VM_INITRD, VM_CMDLINE and VM_DISK (a raw image attached as a virtio disk
# with snapshot=on) boot another VM, e.g. the systemd one (systemd-run.sh).
#
# Ending this script with SIGTERM ends the VM. TCG only: /dev/kvm on the
# machines this was written on cannot run a stock kernel. Set QEMU_ACCEL=kvm (and QEMU_CPU=host) where KVM works.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vm_dir=${1:-${VM_DIR:-$here/../../target/vm}}
qemu_dir=$vm_dir/qemu

initrd=${VM_INITRD:-$vm_dir/initrd.cpio}
cmdline=${VM_CMDLINE:-console=ttyS0 panic=-1 cgroup_no_v1=all quiet}
disk=()
if [ -n "${VM_DISK:-}" ]; then
    # snapshot=on: the guest's writes go to a temporary file, the image stays as built.
    disk=(-drive "file=$VM_DISK,if=virtio,format=raw,snapshot=on")
fi

for f in "$vm_dir/vmlinux" "$initrd" "$qemu_dir/usr/bin/qemu-system-x86_64"; do
    [ -e "$f" ] || { echo "$0: $f missing; run scripts/vm/build.sh" >&2; exit 2; }
done

# The unpacked qemu looks for its TCG module and firmware at the paths its
# package would install them to; point it at the unpacked copies.
export QEMU_MODULE_DIR=$qemu_dir/usr/lib/x86_64-linux-gnu/qemu

# qemu runs in the background so that this script can decode its exit
# status, and forwards TERM/INT/HUP to it: ending this script by its pid ends
# the VM.
"$qemu_dir/usr/bin/qemu-system-x86_64" \
    -L "$qemu_dir/usr/share/qemu" \
    -bios "$qemu_dir/usr/share/qemu/qboot.rom" \
    -accel "${QEMU_ACCEL:-tcg}" -cpu "${QEMU_CPU:-max}" \
    -machine pc -smp 1 -m 512 \
    -nodefaults -no-user-config -display none -no-reboot -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    "${disk[@]}" \
    -kernel "$vm_dir/vmlinux" -initrd "$initrd" \
    -append "$cmdline" </dev/null &
qemu_pid=$!
# For a caller that wants to end qemu itself (integration/cgroup2_vm.rs does
# on a timeout).
if [ -n "${VM_QEMU_PIDFILE:-}" ]; then echo "$qemu_pid" >"$VM_QEMU_PIDFILE"; fi
stopped=
trap 'stopped=1; kill -TERM "$qemu_pid" 2>/dev/null' TERM INT HUP
status=0
wait "$qemu_pid" || status=$?
# wait returns early (>128) when a trapped signal arrives; wait for qemu to go.
while kill -0 "$qemu_pid" 2>/dev/null; do wait "$qemu_pid" || status=$?; done

# The guest writes rc + 1 to the isa-debug-exit port, and qemu exits with
# ((rc + 1) << 1) | 1; any other status is qemu's own (1 on its errors).
if [ -n "$stopped" ]; then
    echo "$0: stopped by a signal" >&2
    exit 124
fi
if [ $((status & 1)) = 1 ] && [ "$status" -ge 3 ]; then
    exit $(((status >> 1) - 1))
fi
echo "$0: qemu ended with status $status without a verdict from the guest" >&2
exit 125
