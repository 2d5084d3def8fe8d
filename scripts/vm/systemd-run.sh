#!/bin/bash
# Boot the systemd test VM built by scripts/vm/systemd-build.sh; systemd runs
# scripts/vm/systemd-test.sh as nook-vm-test.service. Output and exit status
# as scripts/vm/run.sh (which this calls).
#
#   scripts/vm/systemd-run.sh [v2|v1]     (default v2)
#
# v2 boots systemd with the unified cgroup hierarchy, v1 with the legacy one
# (systemd.unified_cgroup_hierarchy=0).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vm_dir=${VM_DIR:-$here/../../target/vm}
case ${1:-v2} in
v2) unified=1 ;;
v1) unified=0 ;;
*) echo "usage: $0 [v2|v1]" >&2; exit 2 ;;
esac

export VM_INITRD=$vm_dir/systemd-initrd.cpio
export VM_DISK=$vm_dir/systemd.ext4
# quiet and show_status=0 keep the console to the test's own lines.
export VM_CMDLINE="console=ttyS0 panic=-1 quiet systemd.show_status=0 systemd.unified_cgroup_hierarchy=$unified systemd.unit=nook-vm-test.service"
exec "$here/run.sh" "$vm_dir"
