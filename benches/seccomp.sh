#!/bin/bash
# Seccomp benchmark: create + start + wait + delete of a /bin/true container
# under Docker's default seccomp profile (about 350 syscalls), for
#   nook-cold  nook with its compiled-filter cache emptied before each create
#              (libseccomp compiles the profile every time, as runc and crun do)
#   nook-warm  nook with the cache kept (the program is read from
#              <--root>/@seccomp-cache and loaded directly)
#   runc, crun the same profile, in the same run
#
#   benches/seccomp.sh [NOOK_BINARY]      (default: target/release/nook)
#
# Environment: ROUNDS (default 30), RUNTIMES (default "nook-cold nook-warm
# runc crun"), RUNC (default /usr/sbin/runc), CRUN (default /usr/bin/crun).
#
# Same arrangement as benches/lifecycle.sh: runtimes interleaved round by
# round, a private mount namespace hiding the hybrid host's cgroup2
# controllers file from crun, and a PID namespace whose init is this script
# so that exited container inits are reaped. Needs root and jq. Not a test:
# it asserts nothing about times.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
profile=$repo/integration/data/seccomp/docker-default.oci-amd64.json

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
    [nook-cold]=$nook_bin
    [nook-warm]=$nook_bin
    [runc]=${RUNC:-/usr/sbin/runc}
    [crun]=${CRUN:-/usr/bin/crun}
)
read -r -a runtimes <<<"${RUNTIMES:-nook-cold nook-warm runc crun}"

work=$(mktemp -d /tmp/nook-bench-seccomp-XXXXXX)
cleanup() {
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

"$repo/scripts/build-rootfs.sh" "$work/rootfs" >/dev/null
config=$(jq --slurpfile seccomp "$profile" '.linux.seccomp = $seccomp[0]' <<'JSON'
{
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
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]}],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                   {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]}
}
JSON
)
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
    if [ "$rt" = nook-cold ]; then
        # Outside the timed part: the cost measured is the compile itself.
        rm -rf "$work/state-$rt/@seccomp-cache"
    fi
    now_us t0
    rt_cmd "$rt" create --bundle "$work/bundle-$rt" --pid-file "$pidfile" "$id" || return 1
    rt_cmd "$rt" start "$id" || return 1
    read -r pid <"$pidfile"
    wait_exited "$pid"
    rt_cmd "$rt" delete "$id" || return 1
    now_us t1
    echo $((t1 - t0))
}

active=()
for rt in "${runtimes[@]}"; do
    if [ ! -x "${binary[$rt]}" ]; then
        echo "skipping $rt: ${binary[$rt]} not found" >&2
        continue
    fi
    if one_lifecycle "$rt" "probe-$rt" >/dev/null 2>"$work/err"; then
        active+=("$rt")
    else
        echo "skipping $rt: it failed the probe: $(head -c 300 "$work/err")" >&2
        rt_cmd "$rt" delete --force "probe-$rt" >/dev/null 2>&1 || true
    fi
done
if [ ${#active[@]} = 0 ]; then
    echo "no runtime works; nothing to measure" >&2
    exit 1
fi

echo "rounds: $rounds; runtimes: ${active[*]}; profile: Docker's default" \
    "($(jq '[.syscalls[].names | length] | add' "$profile") syscall names); $(nproc) CPUs"
for ((i = 0; i < rounds; i++)); do
    for rt in "${active[@]}"; do
        one_lifecycle "$rt" "bench-$i" >>"$work/lifecycle-$rt" ||
            { echo "$rt failed in round $i" >&2; exit 1; }
    done
done

stats() { # FILE: "median min max" in ms
    sort -n "$1" | awk '{ v[NR] = $1 / 1000 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

declare -A median
printf '\n%-10s %10s %10s %10s\n' runtime "median ms" "min ms" "max ms"
for rt in "${active[@]}"; do
    read -r med min max < <(stats "$work/lifecycle-$rt")
    median[$rt]=$med
    printf '%-10s %10s %10s %10s\n' "$rt" "$med" "$min" "$max"
done

echo
ratio() { # A B: "A/B = x" when both were measured
    [ -n "${median[$1]:-}" ] && [ -n "${median[$2]:-}" ] || return 0
    awk -v a="${median[$1]}" -v b="${median[$2]}" -v n="$1/$2" \
        'BEGIN { printf "%-20s = %.2f\n", n, a / b }'
}
ratio nook-warm nook-cold
ratio nook-cold runc
ratio nook-warm runc
ratio nook-cold crun
ratio nook-warm crun
