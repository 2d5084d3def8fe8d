#!/bin/sh
# The cgroupfs driver on a pure cgroup v2 host, run inside the test VM (busybox
# sh, as /test.sh) for nook and for runc: runc passing the same checks shows
# the checks themselves are right.
#
# For each runtime, with linux.cgroupsPath /nook-vm-test/c1 and memory 64 MiB
# (swap the same, so no swap), pids 20, cpu quota 50000/100000 and shares 512:
# - create makes the cgroup, writes memory.max, memory.swap.max, pids.max,
#   cpu.max and cpu.weight (shares 512 -> weight 1 + (510 * 9999) / 262142 =
#   20, the conversion runc and crun use), and puts the init in it before start;
# - the limits are enforced: a busy loop is throttled (cpu.stat), a shell that
#   grows a string past 64 MiB is OOM-killed (exit 137 from `run`), forks
#   beyond pids.max fail;
# - delete removes the cgroup, after a stop and (--force) of a running one.
#
# Prints one line per check: "ok RUNTIME NAME DETAIL" or "not ok RUNTIME NAME
# DETAIL". Exits 1 if any nook check failed (runc's are reported only).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

CG=/sys/fs/cgroup
CGPATH=/nook-vm-test/c1
CGDIR=$CG$CGPATH
ID=c1
# Every runtime command gets this long before it counts as hung (and is
# killed: a hung runtime must not hang the VM).
TIMEOUT=${VM_TEST_TIMEOUT:-20}
nook_failed=0

report() { # ok|not-ok RUNTIME NAME DETAIL...
    verdict=$1 runtime=$2 name=$3
    shift 3
    if [ "$verdict" = ok ]; then
        echo "ok $runtime $name${*:+ $*}"
    else
        echo "not ok $runtime $name${*:+ $*}"
        [ "$runtime" = nook ] && nook_failed=1
    fi
}

check_eq() { # RUNTIME NAME WANT GOT
    if [ "$3" = "$4" ]; then
        report ok "$1" "$2" "$4"
    else
        report not-ok "$1" "$2" "want '$3' got '$4'"
    fi
}

read_file() { # FILE: its content, or "<missing>"
    cat "$1" 2>/dev/null || echo "<missing>"
}

# The linux.resources of the lifecycle and enforcement checks above.
BASIC_RESOURCES='{
      "memory": { "limit": 67108864, "swap": 67108864 },
      "pids": { "limit": 20 },
      "cpu": { "shares": 512, "quota": 50000, "period": 100000 }
    }'

# Write the bundle's config.json with the given process args (a JSON array),
# linux.resources (default BASIC_RESOURCES) and linux.devices (default none).
write_config() { # BUNDLE ARGS_JSON [RESOURCES_JSON [DEVICES_JSON]]
    resources=${3:-$BASIC_RESOURCES}
    devices=${4:-[]}
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": $2,
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "noNewPrivileges": true
  },
  "root": { "path": "/rootfs" },
  "hostname": "vm",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "linux": {
    "cgroupsPath": "$CGPATH",
    "resources": $resources,
    "devices": $devices,
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
    ],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

# The container's status from `RUNTIME state` ("created", "running", ...).
status_of() { # RUNTIME ROOT
    timeout -s KILL "$TIMEOUT" "$1" --root "$2" state "$ID" 2>/dev/null |
        sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'
}

test_runtime() { # RUNTIME
    rt=$1
    root=/run/vm-test-$rt
    bundle=/tmp/bundle-$rt
    # All bundles share the initramfs's busybox root filesystem, /rootfs.
    mkdir -p "$bundle"

    # --- create: the cgroup and its limits exist before user code runs ---
    write_config "$bundle" '["sh", "-c", "while :; do :; done"]'
    # Into a file, not $(...): the container's init inherits create's stdout
    # and would keep a command substitution waiting until it exits.
    if timeout -s KILL "$TIMEOUT" "$rt" --root "$root" create --bundle "$bundle" --pid-file "$bundle/pid" "$ID" >"$bundle/create.out" 2>&1; then
        report ok "$rt" create
    else
        report not-ok "$rt" create "$(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
        return
    fi
    if [ -d "$CGDIR" ]; then report ok "$rt" cgroup-created "$CGDIR"; else report not-ok "$rt" cgroup-created "no $CGDIR"; fi
    check_eq "$rt" memory.max 67108864 "$(read_file "$CGDIR/memory.max")"
    check_eq "$rt" memory.swap.max 0 "$(read_file "$CGDIR/memory.swap.max")"
    check_eq "$rt" pids.max 20 "$(read_file "$CGDIR/pids.max")"
    check_eq "$rt" cpu.max "50000 100000" "$(read_file "$CGDIR/cpu.max")"
    check_eq "$rt" cpu.weight 20 "$(read_file "$CGDIR/cpu.weight")"
    pid=$(cat "$bundle/pid" 2>/dev/null)
    if [ -n "$pid" ] && grep -qx "$pid" "$CGDIR/cgroup.procs" 2>/dev/null; then
        report ok "$rt" init-in-cgroup-before-start "pid $pid"
    else
        report not-ok "$rt" init-in-cgroup-before-start "pid '$pid' not in $CGDIR/cgroup.procs: $(read_file "$CGDIR/cgroup.procs" | tr '\n' ' ')"
    fi
    check_eq "$rt" status-created created "$(status_of "$rt" "$root")"

    # --- start: the busy loop runs, and cpu.max throttles it ---
    if out=$(timeout -s KILL "$TIMEOUT" "$rt" --root "$root" start "$ID" 2>&1); then
        report ok "$rt" start
    else
        report not-ok "$rt" start "$out"
    fi
    sleep 1
    throttled=$(sed -n 's/^nr_throttled //p' "$CGDIR/cpu.stat" 2>/dev/null)
    if [ "${throttled:-0}" -gt 0 ]; then
        report ok "$rt" cpu-throttled "nr_throttled $throttled"
    else
        report not-ok "$rt" cpu-throttled "nr_throttled '${throttled}' after 1 s of a busy loop"
    fi

    # --- kill, delete: the cgroup goes away ---
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" kill "$ID" KILL 2>/dev/null
    i=0
    while [ "$(status_of "$rt" "$root")" != stopped ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if out=$(timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete "$ID" 2>&1); then
        report ok "$rt" delete
    else
        report not-ok "$rt" delete "$out"
        timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete --force "$ID" >/dev/null 2>&1
    fi
    if [ -e "$CGDIR" ]; then
        report not-ok "$rt" delete-removes-cgroup "$CGDIR still exists"
        rmdir "$CGDIR" 2>/dev/null
    else
        report ok "$rt" delete-removes-cgroup
    fi

    # --- memory.max: a shell doubling a string to 64 MiB (96 MiB live at the
    # last step) is OOM-killed; without the limit it prints "survived" ---
    write_config "$bundle" '["sh", "-c", "x=a; i=0; while [ $i -lt 26 ]; do x=$x$x; i=$((i + 1)); done; echo survived"]'
    out=$(timeout -s KILL "$TIMEOUT" "$rt" --root "$root" run --bundle "$bundle" "$ID" 2>&1)
    rc=$?
    if [ $rc = 137 ]; then
        report ok "$rt" memory-oom-kill "run exit 137"
    else
        report not-ok "$rt" memory-oom-kill "run exit $rc, want 137: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    fi
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete --force "$ID" >/dev/null 2>&1

    # --- pids.max: 40 background sleeps cannot all be forked under 20 ---
    write_config "$bundle" '["sh", "-c", "for i in $(seq 1 40); do sleep 10 & done; echo forked-all"]'
    out=$(timeout -s KILL "$TIMEOUT" "$rt" --root "$root" run --bundle "$bundle" "$ID" 2>&1)
    rc=$?
    case $out in
    *forked-all*) report not-ok "$rt" pids-fork-limit "40 forks succeeded (run exit $rc)" ;;
    *"can't fork"* | *"Resource temporarily unavailable"*)
        report ok "$rt" pids-fork-limit "run exit $rc, fork failed" ;;
    *) report not-ok "$rt" pids-fork-limit "run exit $rc, no fork failure in: $(echo "$out" | tail -n 3 | tr '\n' ' ')" ;;
    esac
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete --force "$ID" >/dev/null 2>&1
    [ -e "$CGDIR" ] && rmdir "$CGDIR" 2>/dev/null

    # --- delete --force of a running container removes its cgroup too ---
    write_config "$bundle" '["sleep", "100"]'
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" create --bundle "$bundle" "$ID" >"$bundle/create.out" 2>&1 &&
        timeout -s KILL "$TIMEOUT" "$rt" --root "$root" start "$ID" >/dev/null 2>&1
    if [ "$(status_of "$rt" "$root")" != running ]; then
        report not-ok "$rt" force-delete-removes-cgroup "container not running: $(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
    elif ! out=$(timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete --force "$ID" 2>&1); then
        report not-ok "$rt" force-delete-removes-cgroup "delete --force failed: $out"
    elif [ -e "$CGDIR" ]; then
        report not-ok "$rt" force-delete-removes-cgroup "$CGDIR still exists"
    else
        report ok "$rt" force-delete-removes-cgroup
    fi
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" delete --force "$ID" >/dev/null 2>&1
    [ -e "$CGDIR" ] && rmdir "$CGDIR" 2>/dev/null

    rmdir "$CG/nook-vm-test" 2>/dev/null
}

# ======================================================================
# linux.resources on cgroup v2: every field v2 can hold (test_resources_v2)
# ======================================================================
# One container holds them all; its cgroup files must read (nook; runc 1.1
# where it differs):
#   memory.limit 64 MiB       memory.max      67108864
#   memory.reservation 32 MiB memory.low      33554432
#   memory.swap 96 MiB        memory.swap.max 33554432 (swap counts memory + swap on v1)
#   cpu.shares 512            cpu.weight      20
#   cpu.quota/period          cpu.max         "50000 100000"
#   cpu.burst 20000           cpu.max.burst   20000 (runc 1.1 has no burst: 0)
#   cpu.cpus/mems "0"         cpuset.cpus/.mems 0   (the VM has one CPU, one node)
#   pids.limit 20             pids.max        20
#   blockIO.weight 500        io.weight       "default 4950" (1 + (500 - 10) * 9999 / 990;
#                                              no io.bfq.weight: bfq is a module here)
#   blockIO throttles on /dev/ram0 (1:0, the brd RAM disk: the VM has no other
#   block device)             io.max          "1:0 rbps=4194304 wbps=max riops=max wiops=100"
#   hugepageLimits 2MB 4 MiB  hugetlb.2MB.max 4194304, hugetlb.2MB.rsvd.max 4194304
#                                             (runc 1.1 leaves rsvd at "max")
#   unified memory.high       memory.high     50331648
# cpu.idle 1 is checked in a container of its own (cpu.idle 1; runc 1.1 has
# no idle: 0): the kernel gives an idle group the lowest weight, so it would
# hide cpu.weight above.
# Then: direct reads of /dev/ram0 under io.max are accounted in io.stat;
# rdma (the controller exists, no RDMA device does) and a bad huge page
# size fail create cleanly; network (no v2 controller) and the v1-only
# memory fields are accepted; a unified key with ".." is refused.

# /dev/ram0 from brd.ko (16 MiB); true when it exists.
load_ram_disk() {
    [ -b /dev/ram0 ] || insmod /lib/modules/brd.ko rd_nr=1 rd_size=16384 2>/dev/null
    [ -b /dev/ram0 ]
}

# The resources of the all-fields container (see the table above).
all_v2_resources() {
    cat <<EOF
{
      "memory": { "limit": 67108864, "reservation": 33554432, "swap": 100663296 },
      "cpu": { "shares": 512, "quota": 50000, "period": 100000, "burst": 20000,
               "cpus": "0", "mems": "0" },
      "pids": { "limit": 20 },
      "blockIO": {
        "weight": 500,
        "throttleReadBpsDevice": [{ "major": 1, "minor": 0, "rate": 4194304 }],
        "throttleWriteIOPSDevice": [{ "major": 1, "minor": 0, "rate": 100 }]
      },
      "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }],
      "unified": { "memory.high": "50331648" }
    }
EOF
}

# check_eq with a different expectation for runc 1.1 (documented above).
check_eq_runc_differs() { # RUNTIME NAME NOOK_WANT RUNC_WANT GOT
    if [ "$1" = runc ]; then check_eq "$1" "$2" "$4" "$5"; else check_eq "$1" "$2" "$3" "$5"; fi
}

# Remove what a check left: the container and its cgroup.
clean_container() { # RUNTIME ROOT
    timeout -s KILL "$TIMEOUT" "$1" --root "$2" delete --force "$ID" >/dev/null 2>&1
    [ -e "$CGDIR" ] && rmdir "$CGDIR" 2>/dev/null
}

# "ok" if create with RESOURCES fails with WANT in its output and leaves no
# cgroup behind.
check_create_fails() { # RUNTIME ROOT BUNDLE NAME RESOURCES WANT
    write_config "$3" '["true"]' "$5"
    if timeout -s KILL "$TIMEOUT" "$1" --root "$2" create --bundle "$3" "$ID" >"$3/create.out" 2>&1; then
        report not-ok "$1" "$4" "create succeeded"
    elif ! grep -qF "$6" "$3/create.out"; then
        report not-ok "$1" "$4" "no '$6' in: $(tail -n 2 "$3/create.out" | tr '\n' ' ')"
    elif [ -e "$CGDIR" ]; then
        report not-ok "$1" "$4" "$CGDIR left behind"
    else
        report ok "$1" "$4" "$(tail -n 1 "$3/create.out" | sed 's/.*msg="//' | cut -c1-120)"
    fi
    clean_container "$1" "$2"
}

# "ok" if create with RESOURCES succeeds (the fields are ignored); shows
# the runtime's warnings.
check_create_accepts() { # RUNTIME ROOT BUNDLE NAME RESOURCES
    write_config "$3" '["true"]' "$5"
    if timeout -s KILL "$TIMEOUT" "$1" --root "$2" create --bundle "$3" "$ID" >"$3/create.out" 2>&1; then
        report ok "$1" "$4" "$(grep -o 'msg="[^"]*' "$3/create.out" | head -n 2 | tr '\n' ' ' | cut -c1-200)"
    else
        report not-ok "$1" "$4" "create failed: $(tail -n 2 "$3/create.out" | tr '\n' ' ')"
    fi
    clean_container "$1" "$2"
}

test_resources_v2() { # RUNTIME
    rt=$1
    root=/run/vm-test-$rt
    bundle=/tmp/bundle-$rt
    mkdir -p "$bundle"
    if ! load_ram_disk; then
        report not-ok "$rt" res-ram-disk "no /dev/ram0 (insmod /lib/modules/brd.ko failed)"
    fi

    # --- every field at once: the file values ---
    write_config "$bundle" '["sleep", "100"]' "$(all_v2_resources)"
    if timeout -s KILL "$TIMEOUT" "$rt" --root "$root" create --bundle "$bundle" "$ID" >"$bundle/create.out" 2>&1; then
        report ok "$rt" res-create
    else
        report not-ok "$rt" res-create "$(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
    fi
    check_eq "$rt" res-memory.max 67108864 "$(read_file "$CGDIR/memory.max")"
    check_eq "$rt" res-memory.low 33554432 "$(read_file "$CGDIR/memory.low")"
    check_eq "$rt" res-memory.swap.max 33554432 "$(read_file "$CGDIR/memory.swap.max")"
    check_eq "$rt" res-memory.high 50331648 "$(read_file "$CGDIR/memory.high")"
    check_eq "$rt" res-cpu.weight 20 "$(read_file "$CGDIR/cpu.weight")"
    check_eq "$rt" res-cpu.max "50000 100000" "$(read_file "$CGDIR/cpu.max")"
    check_eq_runc_differs "$rt" res-cpu.max.burst 20000 0 "$(read_file "$CGDIR/cpu.max.burst")"
    check_eq "$rt" res-cpuset.cpus 0 "$(read_file "$CGDIR/cpuset.cpus")"
    check_eq "$rt" res-cpuset.mems 0 "$(read_file "$CGDIR/cpuset.mems")"
    check_eq "$rt" res-pids.max 20 "$(read_file "$CGDIR/pids.max")"
    check_eq "$rt" res-io.weight "default 4950" "$(read_file "$CGDIR/io.weight")"
    check_eq "$rt" res-io.max "1:0 rbps=4194304 wbps=max riops=max wiops=100" "$(read_file "$CGDIR/io.max")"
    check_eq "$rt" res-hugetlb.2MB.max 4194304 "$(read_file "$CGDIR/hugetlb.2MB.max")"
    check_eq_runc_differs "$rt" res-hugetlb.2MB.rsvd.max 4194304 max "$(read_file "$CGDIR/hugetlb.2MB.rsvd.max")"
    clean_container "$rt" "$root"

    # --- cpu.idle ---
    write_config "$bundle" '["sleep", "100"]' '{ "cpu": { "idle": 1 } }'
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" create --bundle "$bundle" "$ID" >"$bundle/create.out" 2>&1
    check_eq_runc_differs "$rt" res-cpu.idle 1 0 "$(read_file "$CGDIR/cpu.idle")"
    clean_container "$rt" "$root"

    # --- io.max on the RAM disk: the container's direct reads go through the
    # throttle and io.stat accounts them (2 MiB at 4 MiB/s) ---
    write_config "$bundle" '["dd", "if=/dev/ram0", "of=/dev/null", "bs=64k", "count=32", "iflag=direct"]' \
        '{ "devices": [{ "allow": false, "access": "rwm" },
                       { "allow": true, "type": "b", "major": 1, "minor": 0, "access": "r" }],
           "blockIO": { "throttleReadBpsDevice": [{ "major": 1, "minor": 0, "rate": 4194304 }] } }' \
        '[{ "path": "/dev/ram0", "type": "b", "major": 1, "minor": 0, "fileMode": 288, "uid": 0, "gid": 0 }]'
    timeout -s KILL "$TIMEOUT" "$rt" --root "$root" create --bundle "$bundle" "$ID" >"$bundle/create.out" 2>&1 &&
        timeout -s KILL "$TIMEOUT" "$rt" --root "$root" start "$ID" >/dev/null 2>&1
    i=0
    while [ "$(status_of "$rt" "$root")" = running ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    rbytes=$(sed -n 's/^1:0 rbytes=\([0-9]*\).*/\1/p' "$CGDIR/io.stat" 2>/dev/null)
    if [ "${rbytes:-0}" -ge 2097152 ]; then
        report ok "$rt" res-io-read-accounted "io.stat 1:0 rbytes=$rbytes"
    else
        report not-ok "$rt" res-io-read-accounted "io.stat: '$(read_file "$CGDIR/io.stat" | tr '\n' ' ')' create: $(tail -n 2 "$bundle/create.out" | tr '\n' ' ')"
    fi
    clean_container "$rt" "$root"

    # --- fields the VM cannot honour, or that v2 does not have ---
    if [ "$rt" = runc ]; then want_rdma=rdma.max; else want_rdma='linux.resources.rdma'; fi
    check_create_fails "$rt" "$root" "$bundle" res-rdma-without-device-fails \
        '{ "rdma": { "mlx4_0": { "hcaHandles": 2, "hcaObjects": 2000 } } }' "$want_rdma"
    check_create_fails "$rt" "$root" "$bundle" res-hugetlb-bad-size-fails \
        '{ "hugepageLimits": [{ "pageSize": "3MB", "limit": 4194304 }] }' "3MB"
    # runc 1.1 ignores these without a word; nook warns (net_cls/net_prio
    # do not exist on v2; swappiness, disableOOMKiller and kernel are v1 files).
    check_create_accepts "$rt" "$root" "$bundle" res-network-ignored \
        '{ "network": { "classID": 1048577, "priorities": [{ "name": "lo", "priority": 1 }] } }'
    check_create_accepts "$rt" "$root" "$bundle" res-v1-memory-fields-ignored \
        '{ "memory": { "limit": 67108864, "swappiness": 10, "disableOOMKiller": true, "kernel": 67108864 } }'
    check_create_fails "$rt" "$root" "$bundle" res-unified-escape-fails \
        '{ "unified": { "../memory.max": "1" } }' "../memory.max"
    rmdir "$CG/nook-vm-test" 2>/dev/null
}

# --- linux.resources.devices: the eBPF device filter ----------------------
# cgroup v2 has no devices controller; the runtime must attach a device
# program to the container's cgroup. The VM's /dev/kmsg (c 1:11, not among
# the default devices) is bind-mounted into the container, which opens it for
# writing (opening kmsg write-only needs no capability, and the open writes
# nothing). Without a program the open succeeds, so "devices-default-denies"
# fails for a runtime that attaches none.
DEVICES_CGPATH=/nook-vm-test/devices

write_devices_config() { # BUNDLE DEVICES_JSON
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "user": { "uid": 0, "gid": 0 },
    "args": ["sh", "-c", "echo x >/dev/null && echo null-ok; if (exec 3>/dev/probe-kmsg) 2>/dev/null; then echo kmsg-opened; else echo kmsg-denied; fi"],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
    },
    "noNewPrivileges": true
  },
  "root": { "path": "/rootfs" },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/probe-kmsg", "type": "bind", "source": "/dev/kmsg",
      "options": ["bind"] }
  ],
  "linux": {
    "cgroupsPath": "$DEVICES_CGPATH",
    "resources": { "devices": $2 },
    "namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "ipc" } ]
  }
}
EOF
}

# Run the devices probe with DEVICES_JSON; prints what the container printed.
run_devices_probe() { # RUNTIME ROOT BUNDLE DEVICES_JSON
    write_devices_config "$3" "$4"
    timeout -s KILL "$TIMEOUT" "$1" --root "$2" run --bundle "$3" devices >"$3/devices.out" 2>&1
    timeout -s KILL "$TIMEOUT" "$1" --root "$2" delete --force devices >/dev/null 2>&1
    tr '\n' ' ' <"$3/devices.out"
}

test_devices() { # RUNTIME
    rt=$1
    root=/run/vm-test-$rt
    bundle=/tmp/bundle-devices-$rt
    mkdir -p "$bundle"

    # No rules: only the default devices (config-linux.md#default-devices).
    out=$(run_devices_probe "$rt" "$root" "$bundle" '[]')
    case $out in
    *null-ok*) report ok "$rt" devices-default-allows-null ;;
    *) report not-ok "$rt" devices-default-allows-null "writing /dev/null failed: $out" ;;
    esac
    case $out in
    *kmsg-denied*) report ok "$rt" devices-default-denies "open of c 1:11 refused" ;;
    *) report not-ok "$rt" devices-default-denies "c 1:11 is not in the allow-list: $out" ;;
    esac

    # A rule allowing c 1:11 w after a deny-all opens it.
    out=$(run_devices_probe "$rt" "$root" "$bundle" \
        '[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]')
    case $out in
    *kmsg-opened*) report ok "$rt" devices-rule-allows "c 1:11 w opened" ;;
    *) report not-ok "$rt" devices-rule-allows "allowed c 1:11 w not opened: $out" ;;
    esac

    [ -e "$CG$DEVICES_CGPATH" ] && rmdir "$CG$DEVICES_CGPATH" 2>/dev/null
    rmdir "$CG/nook-vm-test" 2>/dev/null
}

# Rootless in a delegated cgroup v2 subtree (as systemd --user would
# delegate one): root creates /nook-rl-test with pids enabled for its
# children and chowns it (cgroup.procs, cgroup.subtree_control,
# cgroup.threads) to an unprivileged user, uid 1000. A shell moves itself
# into the leaf /nook-rl-test/shell and becomes that user; as that user,
# RUNTIME creates a rootless container (a single mapping of the own uid)
# with cgroupsPath /nook-rl-test/c1 and pids limit 20: the cgroup must exist
# with pids.max 20, and `delete --force` must remove it.
test_rootless_delegation() { # RUNTIME
    rt=$1
    top=$CG/nook-rl-test
    home=/tmp/nook-rl
    grep -q '^nookrl:' /etc/passwd 2>/dev/null || {
        mkdir -p /etc
        echo "nookrl:x:1000:1000:nookrl:$home:/bin/sh" >>/etc/passwd
        echo "nookrl:x:1000:" >>/etc/group
    }
    mkdir -p "$home/run" "$home/bundle" "$top/shell"
    chown -R 1000:1000 "$home"
    chmod 700 "$home/run"
    echo +pids >"$CG/cgroup.subtree_control"
    chown 1000:1000 "$top" "$top/cgroup.procs" "$top/cgroup.subtree_control" \
        "$top/cgroup.threads" "$top/shell" "$top/shell/cgroup.procs"
    cat >"$home/bundle/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false, "user": { "uid": 0, "gid": 0 },
    "args": ["sleep", "30"], "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/"
  },
  "root": { "path": "/rootfs" },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] }
  ],
  "linux": {
    "cgroupsPath": "/nook-rl-test/c1",
    "resources": { "pids": { "limit": 20 } },
    "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }],
    "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }],
    "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "mount" }, { "type": "user" } ]
  }
}
EOF
    as_user="cd $home/bundle && HOME=$home XDG_RUNTIME_DIR=$home/run timeout $TIMEOUT $rt"
    # The shell moves itself into the delegated leaf, then becomes the user.
    if sh -c "echo \$\$ >$top/shell/cgroup.procs && exec su -s /bin/sh nookrl -c '$as_user create rl1'" \
        </dev/null >/dev/null 2>"$home/create.err"; then
        report ok "$rt" rootless-delegated-create
    else
        report not-ok "$rt" rootless-delegated-create "$(cat "$home/create.err")"
    fi
    check_eq "$rt" rootless-delegated-pids.max 20 "$(read_file "$top/c1/pids.max")"
    sh -c "echo \$\$ >$top/shell/cgroup.procs && exec su -s /bin/sh nookrl -c '$as_user delete --force rl1'" \
        </dev/null >/dev/null 2>&1
    if [ -e "$top/c1" ]; then
        report not-ok "$rt" rootless-delegated-delete "$top/c1 still there"
        rmdir "$top/c1" 2>/dev/null
    else
        report ok "$rt" rootless-delegated-delete
    fi
    rmdir "$top/shell" "$top" 2>/dev/null
    rm -rf "$home"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

echo "vm: $(uname -r), cgroup controllers: $(cat $CG/cgroup.controllers), up $(uptime_s) s"
for rt in nook runc; do
    if command -v "$rt" >/dev/null; then
        echo "vm: $rt: $("$rt" --version 2>&1 | head -n 1)"
        started=$(uptime_s)
        test_runtime "$rt"
        test_resources_v2 "$rt"
        test_devices "$rt"
        test_rootless_delegation "$rt"
        echo "vm: $rt checks took $(echo "$(uptime_s) $started" | awk '{ printf "%.1f", $1 - $2 }') s"
    else
        report not-ok "$rt" present "not in the initramfs"
    fi
done
exit $nook_failed
