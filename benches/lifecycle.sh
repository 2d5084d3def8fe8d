#!/bin/bash
# Whole-process benchmark: nook against runc and crun, measured in the same
# run under the same arrangement, on identical bundles running /bin/true.
#
#   benches/lifecycle.sh [NOOK_BINARY]      (default: target/release/nook)
#
# Environment: ROUNDS (default 30), RUNTIMES (default "nook runc crun"),
# RUNC (default /usr/sbin/runc), CRUN (default /usr/bin/crun).
#
# Two measurements, wall time in ms, runtimes interleaved A B C A B C ... so
# that drift in the machine's load hits all of them alike:
#   lifecycle  create + start + wait for the process to exit + delete
#   run        one foreground `run` (create, start, wait, delete in one call)
# A runtime that cannot run the bundle is skipped, with its error printed.
#
# Arrangement: everything runs in a private mount namespace in which an empty
# file is bound over /sys/fs/cgroup/unified/cgroup.controllers (crun refuses
# this hybrid host otherwise), and in a new PID namespace whose init is this
# script, so that exited container inits are reaped (this machine's PID 1
# does not reap orphans) and nothing outlives the run.
# Needs root. Not a test: it asserts nothing about times.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

if [ -z "${NOOK_BENCH_INSIDE:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root" >&2
        exit 1
    fi
    export NOOK_BENCH_INSIDE=1
    exec unshare --mount --propagation private --pid --fork --mount-proc \
        "$0" "$@"
fi

rounds=${ROUNDS:-30}
nook_bin=${1:-$repo/target/release/nook}
declare -A binary=(
    [nook]=$nook_bin
    [runc]=${RUNC:-/usr/sbin/runc}
    [crun]=${CRUN:-/usr/bin/crun}
)
read -r -a runtimes <<<"${RUNTIMES:-nook runc crun}"

work=$(mktemp -d /tmp/nook-bench-XXXXXX)
cleanup() {
    # Containers left by an interrupted run die with this PID namespace; the
    # mounts with this mount namespace. Only files remain to remove.
    for rt in "${runtimes[@]}"; do
        for dir in "$work/state-$rt"/*/; do
            [ -d "$dir" ] || continue
            "${binary[$rt]}" --root "$work/state-$rt" delete --force "$(basename "$dir")" \
                >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [ -e "$controllers" ]; then
    : >"$work/empty"
    mount --bind "$work/empty" "$controllers"
fi

# One bundle, copied per runtime so no runtime sees another's leftovers.
"$repo/scripts/build-rootfs.sh" "$work/rootfs" >/dev/null
config='{
  "ociVersion": "1.0.2-dev",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
    "args": ["/bin/true"], "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]}],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                   {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]}
}'
for rt in "${runtimes[@]}"; do
    mkdir -p "$work/bundle-$rt" "$work/state-$rt"
    cp -a "$work/rootfs" "$work/bundle-$rt/rootfs"
    printf '%s\n' "$config" >"$work/bundle-$rt/config.json"
done

# rt_cmd, now_us, pause, wait_exited
. "$here/lib.sh"

one_lifecycle() { # RUNTIME ID: prints elapsed microseconds
    local rt=$1 id=$2 t0 t1 pid
    local pidfile=$work/pid-$rt
    now_us t0
    rt_cmd "$rt" create --bundle "$work/bundle-$rt" --pid-file "$pidfile" "$id" || return 1
    rt_cmd "$rt" start "$id" || return 1
    read -r pid <"$pidfile"
    wait_exited "$pid"
    rt_cmd "$rt" delete "$id" || return 1
    now_us t1
    echo $((t1 - t0))
}

one_run() { # RUNTIME ID: prints elapsed microseconds
    local rt=$1 id=$2 t0 t1
    now_us t0
    rt_cmd "$rt" run --bundle "$work/bundle-$rt" "$id" || return 1
    now_us t1
    echo $((t1 - t0))
}

# Try each runtime once; skip those that fail, saying why.
active=()
for rt in "${runtimes[@]}"; do
    if [ ! -x "${binary[$rt]}" ]; then
        echo "skipping $rt: ${binary[$rt]} not found" >&2
        continue
    fi
    if err=$(rt_cmd "$rt" run --bundle "$work/bundle-$rt" "probe-$rt" 2>&1) &&
        one_lifecycle "$rt" "probe2-$rt" >/dev/null 2>"$work/err"; then
        active+=("$rt")
    else
        err="$err$(cat "$work/err" 2>/dev/null || true)"
        echo "skipping $rt: it failed the probe run: ${err:0:300}" >&2
        rt_cmd "$rt" delete --force "probe-$rt" >/dev/null 2>&1 || true
        rt_cmd "$rt" delete --force "probe2-$rt" >/dev/null 2>&1 || true
    fi
done
if [ ${#active[@]} = 0 ]; then
    echo "no runtime works; nothing to measure" >&2
    exit 1
fi

echo "rounds: $rounds; runtimes: ${active[*]}; workload: /bin/true; $(nproc) CPUs"
for ((i = 0; i < rounds; i++)); do
    for rt in "${active[@]}"; do
        one_lifecycle "$rt" "bench-$i" >>"$work/lifecycle-$rt" ||
            { echo "$rt failed in round $i (lifecycle)" >&2; exit 1; }
        one_run "$rt" "bench-run-$i" >>"$work/run-$rt" ||
            { echo "$rt failed in round $i (run)" >&2; exit 1; }
    done
done

stats() { # FILE: "median min max" in ms
    sort -n "$1" | awk '{ v[NR] = $1 / 1000 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

declare -A median
printf '\n%-10s %-6s %10s %10s %10s\n' measure runtime "median ms" "min ms" "max ms"
for what in lifecycle run; do
    for rt in "${active[@]}"; do
        read -r med min max < <(stats "$work/$what-$rt")
        median[$what-$rt]=$med
        printf '%-10s %-6s %10s %10s %10s\n' "$what" "$rt" "$med" "$min" "$max"
    done
done

if [ -n "${median[lifecycle-nook]:-}" ]; then
    echo
    for what in lifecycle run; do
        for other in crun runc; do
            [ -n "${median[$what-$other]:-}" ] || continue
            awk -v a="${median[$what-nook]}" -v b="${median[$what-$other]}" -v w="$what" -v o="$other" \
                'BEGIN { printf "%-10s nook/%s = %.2f\n", w, o, a / b }'
        done
    done
else
    echo
    echo "(no nook column: ratios nook/crun and nook/runc need a working nook)"
fi
