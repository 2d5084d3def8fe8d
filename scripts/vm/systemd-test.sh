#!/bin/sh
# The systemd cgroup driver (--systemd-cgroup), run inside the systemd test
# VM as nook-vm-test.service, for nook and for runc: runc passing the same
# checks shows the checks themselves are right. Works on systemd's cgroup v2
# (unified) and v1 (legacy) layouts.
#
# For each runtime, with linux.cgroupsPath "system.slice:nook:c1" (unit
# nook-c1.scope), memory 64 MiB (swap the same: no swap), pids 20, cpu quota
# 50000/100000, shares 512, and the annotations
# org.systemd.property.CollectMode='inactive-or-failed' and
# org.systemd.property.TimeoutStopSec=7:
# - create starts nook-c1.scope with the limits as unit properties
#   (systemctl show) and in the cgroup files, the init already in it;
# - the annotations show up as unit properties;
# - the limits are enforced (cpu throttled, memory hog exits 137, forks
#   beyond TasksMax fail);
# - delete stops the unit and removes the cgroup: after a kill, with
#   --force of a running container, and after the init was SIGKILLed behind
#   the runtime's back.
#
# Prints "ok|not ok RUNTIME CHECK DETAIL" per check, then
# "NOOK-VM-EXIT RC" (RC 1 if a nook check failed) and hands RC + 1 to qemu
# through the isa-debug-exit port.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

SD_PATH=system.slice:nook:c1
UNIT=nook-c1.scope
REL=system.slice/$UNIT
ID=c1
TIMEOUT=${VM_TEST_TIMEOUT:-30}
nook_failed=0

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    layout=v2
    MEMDIR=/sys/fs/cgroup/$REL
    PIDSDIR=$MEMDIR
    CPUDIR=$MEMDIR
else
    layout=v1
    MEMDIR=/sys/fs/cgroup/memory/$REL
    PIDSDIR=/sys/fs/cgroup/pids/$REL
    CPUDIR=/sys/fs/cgroup/cpu,cpuacct/$REL
fi

leave() { # RC
    echo "NOOK-VM-EXIT $1"
    code=$(($1 + 1))
    printf "\\$(printf %03o "$code")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    systemctl poweroff --force --force
}

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

read_file() { cat "$1" 2>/dev/null || echo "<missing>"; }
# One `systemctl show` per check group (each systemctl run is slow under
# TCG): snapshot the unit's properties, then read them from the snapshot.
PROPS=/tmp/unit-props
snapshot_props() { systemctl show "$UNIT" >"$PROPS" 2>&1; }
prop() { sed -n "s/^$1=//p" "$PROPS"; }

write_config() { # BUNDLE ARGS_JSON
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
  "annotations": {
    "org.systemd.property.CollectMode": "'inactive-or-failed'",
    "org.systemd.property.TimeoutStopSec": "7"
  },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": ["nosuid", "noexec", "nodev", "ro"] }
  ],
  "linux": {
    "cgroupsPath": "$SD_PATH",
    "resources": {
      "memory": { "limit": 67108864, "swap": 67108864 },
      "pids": { "limit": 20 },
      "cpu": { "shares": 512, "quota": 50000, "period": 100000 }
    },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

status_of() { # RUNTIME ROOT
    timeout -s KILL "$TIMEOUT" "$1" --systemd-cgroup --root "$2" state "$ID" 2>/dev/null |
        sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'
}

# The unit and its cgroup are gone (and no failed unit is left behind).
check_gone() { # RUNTIME NAME
    snapshot_props
    load=$(prop LoadState)
    if [ "$load" != not-found ]; then
        report not-ok "$1" "$2" "unit still known: LoadState=$load ActiveState=$(prop ActiveState)"
    elif [ -e "$MEMDIR" ] || [ -e "$PIDSDIR" ]; then
        report not-ok "$1" "$2" "cgroup $MEMDIR or $PIDSDIR still exists"
    else
        report ok "$1" "$2"
    fi
}

# Remove whatever a failed check left, so the next check starts clean.
cleanup() { # RUNTIME ROOT
    timeout -s KILL "$TIMEOUT" "$1" --systemd-cgroup --root "$2" delete --force "$ID" >/dev/null 2>&1
    systemctl stop "$UNIT" >/dev/null 2>&1
    systemctl reset-failed "$UNIT" >/dev/null 2>&1
}

test_runtime() { # RUNTIME
    rt=$1
    root=/run/vm-test-$rt
    bundle=/tmp/bundle-$rt
    mkdir -p "$bundle"
    r() { timeout -s KILL "$TIMEOUT" "$rt" --systemd-cgroup --root "$root" "$@"; }

    # --- create: the unit, its properties and files, the init inside ---
    write_config "$bundle" '["sh", "-c", "while :; do :; done"]'
    if r create --bundle "$bundle" --pid-file "$bundle/pid" "$ID" >"$bundle/create.out" 2>&1; then
        report ok "$rt" create
    else
        report not-ok "$rt" create "$(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
        cleanup "$rt" "$root"
        return
    fi
    snapshot_props
    check_eq "$rt" unit-active active "$(prop ActiveState)"
    check_eq "$rt" unit-slice system.slice "$(prop Slice)"
    check_eq "$rt" Delegate yes "$(prop Delegate)"
    check_eq "$rt" TasksMax 20 "$(prop TasksMax)"
    check_eq "$rt" CPUQuotaPerSecUSec 500ms "$(prop CPUQuotaPerSecUSec)"
    check_eq "$rt" CPUQuotaPeriodUSec 100ms "$(prop CPUQuotaPeriodUSec)"
    check_eq "$rt" DevicePolicy strict "$(prop DevicePolicy)"
    check_eq "$rt" annotation-CollectMode inactive-or-failed "$(prop CollectMode)"
    check_eq "$rt" annotation-TimeoutStopSec 7s "$(prop TimeoutStopUSec)"
    check_eq "$rt" pids.max 20 "$(read_file "$PIDSDIR/pids.max")"
    if [ $layout = v2 ]; then
        check_eq "$rt" MemoryMax 67108864 "$(prop MemoryMax)"
        check_eq "$rt" CPUWeight 20 "$(prop CPUWeight)"
        check_eq "$rt" memory.max 67108864 "$(read_file "$MEMDIR/memory.max")"
        check_eq "$rt" memory.swap.max 0 "$(read_file "$MEMDIR/memory.swap.max")"
        check_eq "$rt" cpu.max "50000 100000" "$(read_file "$CPUDIR/cpu.max")"
        check_eq "$rt" cpu.weight 20 "$(read_file "$CPUDIR/cpu.weight")"
    else
        check_eq "$rt" MemoryLimit 67108864 "$(prop MemoryLimit)"
        check_eq "$rt" CPUShares 512 "$(prop CPUShares)"
        check_eq "$rt" memory.limit_in_bytes 67108864 "$(read_file "$MEMDIR/memory.limit_in_bytes")"
        check_eq "$rt" cpu.cfs_quota_us 50000 "$(read_file "$CPUDIR/cpu.cfs_quota_us")"
        check_eq "$rt" cpu.shares 512 "$(read_file "$CPUDIR/cpu.shares")"
    fi
    pid=$(cat "$bundle/pid" 2>/dev/null)
    if [ -n "$pid" ] && grep -qx "$pid" "$MEMDIR/cgroup.procs" 2>/dev/null; then
        report ok "$rt" init-in-scope "pid $pid"
    else
        report not-ok "$rt" init-in-scope "pid '$pid' not in $MEMDIR/cgroup.procs: $(read_file "$MEMDIR/cgroup.procs" | tr '\n' ' ') ($(cat /proc/"$pid"/cgroup 2>/dev/null | tr '\n' ' '))"
    fi
    check_eq "$rt" status-created created "$(status_of "$rt" "$root")"

    # --- start: cpu quota throttles a busy loop ---
    if out=$(r start "$ID" 2>&1); then report ok "$rt" start; else report not-ok "$rt" start "$out"; fi
    sleep 1
    throttled=$(sed -n 's/^nr_throttled //p' "$CPUDIR/cpu.stat" 2>/dev/null)
    if [ "${throttled:-0}" -gt 0 ]; then
        report ok "$rt" cpu-throttled "nr_throttled $throttled"
    else
        report not-ok "$rt" cpu-throttled "nr_throttled '$throttled' after 1 s of a busy loop"
    fi

    # --- kill, delete: the unit stops and the cgroup goes ---
    r kill "$ID" KILL 2>/dev/null
    i=0
    while [ "$(status_of "$rt" "$root")" != stopped ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if out=$(r delete "$ID" 2>&1); then report ok "$rt" delete; else report not-ok "$rt" delete "$out"; fi
    check_gone "$rt" delete-removes-unit
    cleanup "$rt" "$root"

    # --- MemoryMax: a shell doubling a string to 64 MiB is OOM-killed ---
    write_config "$bundle" '["sh", "-c", "x=a; i=0; while [ $i -lt 26 ]; do x=$x$x; i=$((i + 1)); done; echo survived"]'
    out=$(r run --bundle "$bundle" "$ID" 2>&1)
    rc=$?
    if [ $rc = 137 ]; then
        report ok "$rt" memory-oom-kill "run exit 137"
    else
        report not-ok "$rt" memory-oom-kill "run exit $rc, want 137: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    fi
    cleanup "$rt" "$root"

    # --- TasksMax: 40 background sleeps cannot all be forked under 20 ---
    write_config "$bundle" '["sh", "-c", "for i in $(seq 1 40); do sleep 10 & done; echo forked-all"]'
    out=$(r run --bundle "$bundle" "$ID" 2>&1)
    rc=$?
    case $out in
    *forked-all*) report not-ok "$rt" pids-fork-limit "40 forks succeeded (run exit $rc)" ;;
    *"can't fork"* | *"Resource temporarily unavailable"*) report ok "$rt" pids-fork-limit "run exit $rc, fork failed" ;;
    *) report not-ok "$rt" pids-fork-limit "run exit $rc, no fork failure in: $(echo "$out" | tail -n 3 | tr '\n' ' ')" ;;
    esac
    cleanup "$rt" "$root"

    # --- delete --force of a running container ---
    write_config "$bundle" '["sleep", "100"]'
    r create --bundle "$bundle" --pid-file "$bundle/pid" "$ID" >"$bundle/create.out" 2>&1 && r start "$ID" >/dev/null 2>&1
    if [ "$(status_of "$rt" "$root")" != running ]; then
        report not-ok "$rt" force-delete-removes-unit "container not running: $(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
    elif ! out=$(r delete --force "$ID" 2>&1); then
        report not-ok "$rt" force-delete-removes-unit "delete --force failed: $out"
    else
        check_gone "$rt" force-delete-removes-unit
    fi
    cleanup "$rt" "$root"

    # --- the init SIGKILLed behind the runtime's back, then delete ---
    r create --bundle "$bundle" --pid-file "$bundle/pid" "$ID" >"$bundle/create.out" 2>&1 && r start "$ID" >/dev/null 2>&1
    pid=$(cat "$bundle/pid" 2>/dev/null)
    if [ -z "$pid" ] || [ "$(status_of "$rt" "$root")" != running ]; then
        report not-ok "$rt" delete-after-init-killed "container not running: $(tail -n 3 "$bundle/create.out" | tr '\n' ' ')"
    else
        kill -KILL "$pid"
        i=0
        while [ "$(status_of "$rt" "$root")" != stopped ] && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if ! out=$(r delete "$ID" 2>&1); then
            report not-ok "$rt" delete-after-init-killed "delete failed: $out"
        else
            check_gone "$rt" delete-after-init-killed
        fi
    fi
    cleanup "$rt" "$root"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

echo "vm: $(uname -r), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), cgroup $layout, test unit reached at $(uptime_s) s"
for rt in nook runc; do
    if command -v "$rt" >/dev/null; then
        echo "vm: $rt: $("$rt" --version 2>&1 | head -n 1)"
        started=$(uptime_s)
        test_runtime "$rt"
        echo "vm: $rt checks took $(echo "$(uptime_s) $started" | awk '{ printf "%.1f", $1 - $2 }') s"
    else
        report not-ok "$rt" present "not in the VM"
    fi
done
leave $nook_failed
