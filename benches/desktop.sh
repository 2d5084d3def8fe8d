#!/bin/bash
# What the desktop layer costs at create: `nook create` of a plain container
# against the same container with desktop annotations, medians and ratios.
#
#   benches/desktop.sh [NOOK_BINARY]      (default: the static release build,
#                                         target/<host triple>/release/nook)
#
# Environment: ROUNDS (default 30), SESSION_UID (default 1000).
#
# Three bundles, identical but for their annotations, created in turn
# (plain, wayland, full, plain, ...) so drift hits all alike; each create is
# timed alone (wall time, ms) and followed by an untimed delete --force:
#   plain    no annotation
#   wayland  run.nook.wayland (parse, checks, a tmpfs and one bind)
#   full     wayland + filtered session bus (starts xdg-dbus-proxy and its
#            supervisor and waits until it listens) + fonts + icons
# The session (weston headless, dbus-daemon) runs as SESSION_UID in a
# private runtime dir and is stopped by pid at exit.
# Runs in its own PID and mount namespaces (as benches/run-all.sh).
# Needs root and the packages of scripts/install-deps.sh. Asserts nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
if [ -z "${NOOK_BENCH_INSIDE:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root" >&2
        exit 1
    fi
    # A PID namespace whose init is this script: the session's helper
    # processes (weston's clients) are reaped and nothing outlives the run.
    export NOOK_BENCH_INSIDE=1
    exec unshare --mount --propagation private --pid --fork --mount-proc "$0" "$@"
fi
rounds=${ROUNDS:-30}
nook=${1:-$("$repo/scripts/build-release.sh" --dir)/nook}
uid=${SESSION_UID:-1000}

work=$(mktemp -d /tmp/nook-bench-desktop-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for b in plain wayland full; do
        "$nook" --root "$work/state" delete --force "bench-$b" >/dev/null 2>&1 || true
    done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    done
    rm -rf "$work"
}
trap cleanup EXIT

# now_us, start_headless_session
. "$(dirname "$0")/lib.sh"
rt=$work/rt
start_headless_session "$rt" "$uid" pids || true

"$repo/scripts/build-rootfs.sh" "$work/rootfs" >/dev/null
mkdir -p "$work/state"
for b in plain wayland full; do
    mkdir -p "$work/$b"
    ln -s "$work/rootfs" "$work/$b/rootfs"
    (cd "$work/$b" && "$nook" spec)
done
edit() { # BUNDLE JQ
    jq "$2" "$work/$1/config.json" >"$work/$1/c" && mv "$work/$1/c" "$work/$1/config.json"
}
common=".process.terminal=false | .process.args=[\"/bin/true\"] | .process.user={uid:$uid,gid:$uid}"
edit plain "$common"
edit wayland "$common | .annotations={\"run.nook.host-runtime-dir\":\"$rt\",\"run.nook.wayland\":\"1\"}"
edit full "$common | .annotations={\"run.nook.host-runtime-dir\":\"$rt\",\"run.nook.desktop\":\"wayland,dbus,fonts,icons\"}"

declare -A times=([plain]="" [wayland]="" [full]="")
for ((i = 0; i < rounds; i++)); do
    for b in plain wayland full; do
        now_us t0
        "$nook" --root "$work/state" create --bundle "$work/$b" "bench-$b" 2>/dev/null
        now_us t1
        times[$b]+="$((t1 - t0)) "
        "$nook" --root "$work/state" delete --force "bench-$b"
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'; }
plain=$(median <<<"${times[plain]}")
echo "nook create, median of $rounds (ms):"
for b in plain wayland full; do
    m=$(median <<<"${times[$b]}")
    printf '  %-8s %7s ms  x%s\n' "$b" "$m" "$(awk -v a="$m" -v b="$plain" 'BEGIN {printf "%.2f", a/b}')"
done
