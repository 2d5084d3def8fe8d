#!/bin/bash
# The whole-process benchmark suite (`make bench`): nook against runc and
# crun on identical bundles, interleaved round by round (nook runc crun
# nook runc crun ...) so that drift in the machine's load hits all alike.
# Prints one table; README.md ("Benchmarks") says what each row means.
#
#   benches/run-all.sh [NOOK_BINARY]
#
# Environment:
#   ROUNDS          rounds of each single-container scenario (default 20)
#   CONC_ROUNDS     rounds of each concurrent scenario (default 2)
#   CONCURRENCY     concurrent lifecycles per batch (default "16 64")
#   BENCH_QUICK=1   smoke check: ROUNDS=1 CONC_ROUNDS=1
#   BENCH_BIN_DIR   where nook and examples/{bench-probe,kernel-floor} are
#                   (default target/<host triple>/release, where
#                   scripts/build-release.sh puts them; `make bench` builds them)
#   SCENARIOS       which to run (default: all of
#                   "lifecycle run exec seccomp desktop concurrent podman ctr floor")
#   RUNC, CRUN      the other runtimes (default /usr/sbin/runc, /usr/bin/crun)
#
# Every operation is measured by benches/tools/probe.rs (bench-probe): wall
# time, CPU time (user+sys) of every process the runtime starts, and the
# largest peak RSS among them. The kernel floor is benches/tools/kernel_floor.rs.
#
# Arrangement (the same for every runtime): a private mount namespace in
# which an empty file covers /sys/fs/cgroup/unified/cgroup.controllers (crun
# refuses this hybrid host otherwise), and a new PID namespace whose init is
# this script, so that nothing outlives the run.
# Needs root, jq, busybox-static; podman, containerd/ctr, weston and
# xdg-dbus-proxy for their rows (a row whose tools are missing says so).
# Not a test: it asserts nothing about times.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# start_headless_session
. "$here/lib.sh"

if [ -z "${NOOK_BENCH_INSIDE:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root" >&2
        exit 1
    fi
    export NOOK_BENCH_INSIDE=1
    exec unshare --mount --propagation private --pid --fork --mount-proc \
        "$0" "$@"
fi

if [ -n "${BENCH_QUICK:-}" ]; then
    rounds=${ROUNDS:-1}
    conc_rounds=${CONC_ROUNDS:-1}
else
    rounds=${ROUNDS:-20}
    conc_rounds=${CONC_ROUNDS:-2}
fi
read -r -a concurrency <<<"${CONCURRENCY:-16 64}"
read -r -a scenarios <<<"${SCENARIOS:-lifecycle run exec seccomp desktop concurrent podman ctr floor}"
bin_dir=${BENCH_BIN_DIR:-$("$repo/scripts/build-release.sh" --dir)}
probe=$bin_dir/examples/bench-probe
floor=$bin_dir/examples/kernel-floor
declare -A binary=(
    [nook]=$(realpath "${1:-$bin_dir/nook}")
    [runc]=${RUNC:-/usr/sbin/runc}
    [crun]=${CRUN:-/usr/bin/crun}
)
runtimes=(nook runc crun)
for tool in "$probe" "$floor" "${binary[nook]}"; do
    if [ ! -x "$tool" ]; then
        echo "$0: $tool not found; build it (make bench does)" >&2
        exit 1
    fi
done
wants() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }

work=$(mktemp -d /tmp/nook-bench-XXXXXX)
chmod 755 "$work"
mkdir -p "$work/res"
session_pids=()
containerd_pid=
cleanup() {
    set +e
    for rt in "${runtimes[@]}"; do
        for dir in "$work/state-$rt"/*/; do
            [ -d "$dir" ] || continue
            "${binary[$rt]}" --root "$work/state-$rt" delete --force "$(basename "$dir")" \
                >/dev/null 2>&1
        done
    done
    if [ -n "${podman_env:-}" ]; then
        env "${podman_env[@]}" podman rm --all --force --time 0 >/dev/null 2>&1
        env "${podman_env[@]}" podman rmi --all --force >/dev/null 2>&1
    fi
    [ -n "$containerd_pid" ] && ctr_cleanup
    for pid in "${session_pids[@]}" $containerd_pid; do kill "$pid" 2>/dev/null; done
    for pid in "${session_pids[@]}" $containerd_pid; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    done
    # Top-level cgroups the engines were told to use (ours by name).
    for top in /sys/fs/cgroup/*/"$cgroup_name"; do
        [ -d "$top" ] && find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    # Mounts die with this mount namespace; unmount the ones under $work
    # first so that rm -rf stays on this file system.
    findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r umount -l 2>/dev/null
    rm -rf "$work"
}
# Container ids and the engines' top-level cgroup carry a tag of this run:
# without a cgroupsPath the runtimes name cgroups after the id.
tag=nb$RANDOM$RANDOM
cgroup_name=nook-bench-$tag
trap cleanup EXIT

controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [ -e "$controllers" ]; then
    : >"$work/empty"
    mount --bind "$work/empty" "$controllers"
fi

# ---------------------------------------------------------------- bundles
"$repo/scripts/build-rootfs.sh" "$work/rootfs" "$work/rootfs.tar" >/dev/null
base_config='{
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
# Podman's default seccomp profile as podman writes it into config.json:
# the host's /usr/share/containers/seccomp.json resolved for amd64 and the
# default capability set (integration/data/seccomp/README.md), or the copy
# kept in the repository when the host has none.
seccomp_profile() {
    local data=$repo/integration/data/seccomp
    local caps='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'
    if [ -r /usr/share/containers/seccomp.json ] && [ "$(uname -m)" = x86_64 ]; then
        profile_source=/usr/share/containers/seccomp.json
        jq --arg arch amd64 --argjson caps "$caps" -f "$data/to-oci.jq" "$profile_source"
    else
        profile_source=$data/containers-default.oci-amd64.json
        cat "$profile_source"
    fi
}
seccomp_profile >"$work/seccomp.json"

# bundle NAME JQ_FILTER: $work/bundles/NAME with a copy of the rootfs (no
# runtime sees another's leftovers) and base_config edited by JQ_FILTER.
bundle() {
    local dir=$work/bundles/$1
    mkdir -p "$dir"
    cp -a "$work/rootfs" "$dir/rootfs"
    jq --slurpfile seccomp "$work/seccomp.json" "$2" <<<"$base_config" >"$dir/config.json"
}
for rt in "${runtimes[@]}"; do
    mkdir -p "$work/state-$rt"
    bundle "plain-$rt" .
    bundle "exec-$rt" '.process.args = ["sleep", "1000000"]'
    bundle "seccomp-$rt" '.linux.seccomp = $seccomp[0]'
done

# --------------------------------------------------------- measuring
# measure SCENARIO RUNTIME ARGS...: one bench-probe call; its numbers
# appended to res/SCENARIO.RUNTIME. A failed call is counted, its error
# kept for the report, and tried again (twice at most): a runtime's
# transient failure is a finding, not a reason to lose the run. A third
# failure in a row stops the bench.
declare -A failures=()
measure() {
    local sc=$1 rt=$2
    shift 2
    local line attempt
    for attempt in 1 2 3; do
        if line=$("$probe" "$@" 2>"$work/err"); then
            printf '%s\n' "$line" >>"$work/res/$sc.$rt"
            return 0
        fi
        failures[$rt $sc]=$((${failures[$rt $sc]:-0} + 1))
        printf '%s %s: %s\n' "$rt" "$sc" "$(head -c 300 "$work/err")" >>"$work/failures"
        # What a failed lifecycle or run left behind: its container, by id
        # (the last argument).
        case $1 in lifecycle | run)
            "${binary[$rt]}" --root "$work/state-$rt" delete --force "${!#}" >/dev/null 2>&1 || true ;;
        esac
    done
    echo "$rt failed 3 times in a row in scenario $sc: $(head -c 600 "$work/err")" >&2
    exit 1
}
rt_args() { printf '%s\n' "${binary[$1]}" "$work/state-$1"; }

# Try each runtime once; one that cannot run the plain bundle is left out.
active=()
for rt in "${runtimes[@]}"; do
    if [ ! -x "${binary[$rt]}" ]; then
        echo "skipping $rt: ${binary[$rt]} not found" >&2
        continue
    fi
    mapfile -t a < <(rt_args "$rt")
    if "$probe" lifecycle "${a[@]}" "$work/bundles/plain-$rt" "$tag-probe-$rt" >/dev/null 2>"$work/err"; then
        active+=("$rt")
    else
        echo "skipping $rt: it failed the probe: $(head -c 300 "$work/err")" >&2
    fi
done
[ ${#active[@]} -gt 0 ] || { echo "no runtime works; nothing to measure" >&2; exit 1; }

# Scenarios that cannot run here leave a reason, printed in their row.
declare -A unavailable=()

# ---------------------------------------------------------- desktop
# A headless session as uid 1000 (weston, dbus-daemon), as benches/desktop.sh.
# nook gets the desktop annotations; runc and crun (and nook, in the
# "plain binds" row) get what those annotations amount to, as plain mounts:
# a tmpfs XDG_RUNTIME_DIR with the Wayland and bus sockets bound in, the
# host's fonts and icons bound read-only. Not identical: nook filters the
# bus through xdg-dbus-proxy, the plain binds expose the raw bus.
desktop_setup() {
    local uid=1000 tool
    for tool in weston dbus-daemon xdg-dbus-proxy setpriv; do
        command -v "$tool" >/dev/null || { unavailable[desktop]="$tool not installed"; return; }
    done
    getent passwd "$uid" >/dev/null || { unavailable[desktop]="no user $uid"; return; }
    session_dir=$work/session
    if ! start_headless_session "$session_dir" "$uid" session_pids; then
        unavailable[desktop]="the headless session did not start"
        return
    fi
    local user=".process.user = {uid: $uid, gid: $uid}"
    bundle desktop-annotations "$user | .annotations = {
        \"run.nook.host-runtime-dir\": \"$session_dir\",
        \"run.nook.desktop\": \"wayland,dbus,fonts,icons\"}"
    local ro='["rbind", "ro", "nosuid", "nodev"]'
    local binds="$user | .mounts += [
        {destination: \"/run/user/$uid\", type: \"tmpfs\", source: \"tmpfs\",
         options: [\"nosuid\", \"nodev\", \"mode=0700\", \"uid=$uid\", \"gid=$uid\"]},
        {destination: \"/run/user/$uid/wayland-0\", type: \"bind\",
         source: \"$session_dir/wayland-0\", options: $ro},
        {destination: \"/run/user/$uid/bus\", type: \"bind\",
         source: \"$session_dir/bus\", options: $ro},
        {destination: \"/run/host/fonts\", type: \"bind\", source: \"/usr/share/fonts\", options: $ro},
        {destination: \"/run/host/share/icons\", type: \"bind\", source: \"/usr/share/icons\", options: $ro}]
      | .process.env += [\"XDG_RUNTIME_DIR=/run/user/$uid\", \"WAYLAND_DISPLAY=wayland-0\",
          \"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus\"]"
    for rt in "${runtimes[@]}"; do
        bundle "desktop-binds-$rt" "$binds"
    done
}

# ----------------------------------------------------------- podman
podman_setup() {
    command -v podman >/dev/null || { unavailable[podman]="podman not installed"; return; }
    local d=$work/podman
    mkdir -p "$d/tmp"
    cat >"$d/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
lock_type = "file"
tmp_dir = "$d/tmp"

[network]
network_config_dir = "$d/net"
EOF
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' \
        "$d" "$d" >"$d/storage.conf"
    echo 'unqualified-search-registries = []' >"$d/registries.conf"
    podman_env=(CONTAINERS_CONF="$d/containers.conf" CONTAINERS_STORAGE_CONF="$d/storage.conf"
        CONTAINERS_REGISTRIES_CONF="$d/registries.conf" TMPDIR="$d/tmp")
    if ! env "${podman_env[@]}" podman import "$work/rootfs.tar" localhost/nook-bench \
        >/dev/null 2>"$work/err"; then
        unavailable[podman]="podman import failed: $(head -c 200 "$work/err")"
        return
    fi
    # A first run of each runtime outside the timing (image mount, caches).
    local rt
    for rt in "${active[@]}"; do
        podman_run "$rt" warm >/dev/null 2>"$work/err" ||
            { unavailable[podman]="podman run with $rt failed: $(head -c 300 "$work/err")"; return; }
    done
}
podman_args() { # RUNTIME ID: the podman command line of one `run --rm`
    printf '%s\n' env "${podman_env[@]}" podman --runtime "${binary[$1]}" run --rm \
        --cgroup-parent "/$cgroup_name" --name "$tag-$2" localhost/nook-bench /bin/true
}
podman_run() { mapfile -t a < <(podman_args "$@"); "${a[@]}"; }

# ----------------------------------------------------- containerd/ctr
ctr_cmd() { ctr --address "$work/containerd/containerd.sock" --namespace "$cgroup_name" "$@"; }
ctr_setup() {
    local tool
    for tool in containerd ctr; do
        command -v "$tool" >/dev/null || { unavailable[ctr]="$tool not installed"; return; }
    done
    [ -z "${unavailable[podman]:-}" ] && [ -n "${podman_env:-}" ] ||
        { unavailable[ctr]="needs the podman image (podman unavailable)"; return; }
    local d=$work/containerd
    mkdir -p "$d"
    cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$d/containerd.sock"

[ttrpc]
  address = "$d/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
    containerd --config "$d/containerd.toml" >"$d/log" 2>&1 &
    containerd_pid=$!
    for _ in $(seq 100); do
        [ -S "$d/containerd.sock" ] && ctr_cmd version >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ! env "${podman_env[@]}" podman save --format docker-archive -o "$d/image.tar" \
        localhost/nook-bench >/dev/null 2>"$work/err" ||
        ! ctr_cmd images import "$d/image.tar" >/dev/null 2>>"$work/err"; then
        unavailable[ctr]="image import failed: $(head -c 200 "$work/err")"
        return
    fi
    ctr_image=$(ctr_cmd images ls -q | head -n 1)
    local rt
    for rt in "${active[@]}"; do
        ctr_run "$rt" warm >/dev/null 2>"$work/err" ||
            { unavailable[ctr]="ctr run with $rt failed: $(head -c 300 "$work/err")"; return; }
    done
}
ctr_args() { # RUNTIME ID: the ctr command line of one `run --rm`
    printf '%s\n' ctr --address "$work/containerd/containerd.sock" --namespace "$cgroup_name" \
        run --rm --runtime io.containerd.runc.v2 --runc-binary "${binary[$1]}" \
        --runc-root "$work/containerd/runc-root-$1" "$ctr_image" "$tag-$2" /bin/true
}
ctr_run() { mapfile -t a < <(ctr_args "$@"); "${a[@]}"; }
ctr_cleanup() {
    local id
    for id in $(ctr_cmd task ls -q 2>/dev/null); do ctr_cmd task delete --force "$id"; done
    for id in $(ctr_cmd containers ls -q 2>/dev/null); do ctr_cmd containers delete "$id"; done
    ctr_cmd images rm "$ctr_image" >/dev/null 2>&1
} >/dev/null 2>&1

wants desktop && desktop_setup
if wants podman || wants ctr; then podman_setup; fi
wants ctr && ctr_setup

# A long-running container per runtime for `exec`.
if wants exec; then
    for rt in "${active[@]}"; do
        rt_root=$work/state-$rt
        "${binary[$rt]}" --root "$rt_root" run --detach --bundle "$work/bundles/exec-$rt" "$tag-exec-$rt" \
            </dev/null >/dev/null 2>"$work/err" ||
            { echo "$rt: cannot start the exec target: $(head -c 300 "$work/err")" >&2; exit 1; }
    done
fi

# Warm-up, untimed: page cache, nook's seccomp cache (every nook create
# after this one is a cache hit; the "seccomp cold" line below measures the
# compile itself).
for rt in "${active[@]}"; do
    mapfile -t a < <(rt_args "$rt")
    "$probe" lifecycle "${a[@]}" "$work/bundles/seccomp-$rt" "$tag-warm-$rt" >/dev/null 2>&1 || true
done

# -------------------------------------------------------- the rounds
one_round() { # ROUND
    local i=$1 rt a
    for rt in "${active[@]}"; do
        mapfile -t a < <(rt_args "$rt")
        if wants lifecycle; then
            measure lifecycle "$rt" lifecycle "${a[@]}" "$work/bundles/plain-$rt" "$tag-l-$i"
        fi
        if wants run; then
            measure run "$rt" run "${a[@]}" "$work/bundles/plain-$rt" "$tag-r-$i"
        fi
        if wants exec; then
            measure exec "$rt" exec "${a[@]}" "$tag-exec-$rt"
        fi
        if wants seccomp; then
            measure seccomp-lifecycle "$rt" lifecycle "${a[@]}" "$work/bundles/seccomp-$rt" "$tag-sl-$i"
            measure seccomp-run "$rt" run "${a[@]}" "$work/bundles/seccomp-$rt" "$tag-sr-$i"
        fi
        if wants desktop && [ -z "${unavailable[desktop]:-}" ]; then
            local desktop_bundle=desktop-binds-$rt
            [ "$rt" = nook ] && desktop_bundle=desktop-annotations
            measure desktop "$rt" lifecycle "${a[@]}" "$work/bundles/$desktop_bundle" "$tag-d-$i"
            measure desktop-binds "$rt" lifecycle "${a[@]}" "$work/bundles/desktop-binds-$rt" "$tag-db-$i"
        fi
        if wants podman && [ -z "${unavailable[podman]:-}" ]; then
            mapfile -t c < <(podman_args "$rt" "$i")
            measure podman "$rt" cmd "${c[@]}"
        fi
        if wants ctr && [ -z "${unavailable[ctr]:-}" ]; then
            mapfile -t c < <(ctr_args "$rt" "$i")
            measure ctr "$rt" cmd "${c[@]}"
        fi
    done
    if wants floor; then
        measure floor floor cmd "$floor" "$work/bundles/plain-nook/rootfs"
    fi
}
for ((i = 0; i < rounds; i++)); do
    one_round "$i"
done

# nook compiling the profile on every create (its cache emptied first):
# what the cache saves. runc and crun always compile.
if wants seccomp && [[ " ${active[*]} " == *" nook "* ]]; then
    mapfile -t a < <(rt_args nook)
    for ((i = 0; i < rounds; i++)); do
        rm -rf "$work/state-nook/@seccomp-cache"
        measure seccomp-cold nook lifecycle "${a[@]}" "$work/bundles/seccomp-nook" "$tag-sc-$i"
    done
fi

# Concurrent lifecycles: N at once, one batch per runtime per round.
if wants concurrent; then
    for n in "${concurrency[@]}"; do
        for ((i = 0; i < conc_rounds; i++)); do
            for rt in "${active[@]}"; do
                mapfile -t a < <(rt_args "$rt")
                if ! line=$("$probe" concurrent "$n" "${a[@]}" "$work/bundles/plain-$rt" "$tag-c$n-$i" \
                    2>"$work/err"); then
                    echo "$rt failed $n concurrent lifecycles: $(head -c 600 "$work/err")" >&2
                    exit 1
                fi
                read -r -a v <<<"$line"
                # throughput (containers/s), CPU per container (µs), peak RSS
                awk -v n="$n" -v t="${v[0]}" -v c="${v[1]}" -v r="${v[2]}" \
                    'BEGIN { printf "%.3f %d %d\n", n * 1e6 / t, c / n, r }' \
                    >>"$work/res/conc$n.$rt"
                printf '%s\n' "${v[@]:3}" >>"$work/res/conc$n-lat.$rt"
            done
        done
    done
fi

# -------------------------------------------------------------- report
# stats FILE COLUMN SCALE: "median min max" of COLUMN (1-based) divided by SCALE
stats() {
    awk -v c="$2" -v s="$3" '{ print $c / s }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%g %g %g\n", m, v[1], v[NR] }'
}
# p99 FILE: "p99 p50 max" of a one-column file, in ms (from µs)
p99() {
    sort -g "$1" | awk '{ v[NR] = $1 / 1000 }
        END { i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; if (i < 1) i = 1
              printf "%g %g %g\n", v[i], v[int((NR + 1) / 2)], v[NR] }'
}
fmt() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f [%.1f-%.1f]", m, a, b }'; }
ratio() { # A B: A/B to 2 places, or "-"
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
    else
        echo -
    fi
}

# row LABEL METRIC KIND SCENARIO COLUMN SCALE
#   KIND: stats (median [min-max] of COLUMN/SCALE of res/SCENARIO.RT)
#         p99   (p99 [p50-max] of res/SCENARIO.RT)
row() {
    local label=$1 metric=$2 kind=$3 sc=$4 col=$5 scale=$6 rt file
    local -A med=()
    local cells=()
    for rt in "${runtimes[@]}"; do
        file=$work/res/$sc.$rt
        if [ -s "$file" ]; then
            if [ "$kind" = p99 ]; then
                read -r m a b < <(p99 "$file")
            else
                read -r m a b < <(stats "$file" "$col" "$scale")
            fi
            med[$rt]=$m
            cells+=("$(fmt "$m" "$a" "$b")")
        else
            cells+=("-")
        fi
    done
    printf '%-37s %-9s %-22s %-22s %-22s %-9s %-9s\n' "$label" "$metric" "${cells[@]}" \
        "$(ratio "${med[nook]:-}" "${med[crun]:-}")" "$(ratio "${med[nook]:-}" "${med[runc]:-}")"
}
missing() { # LABEL SCENARIO: a row for a scenario that could not run
    printf '%-37s %s\n' "$1" "n/a: ${unavailable[$2]}"
}
# The three measured rows of a scenario measured by bench-probe.
rows3() { # LABEL SCENARIO [CPU_NOTE]
    row "$1" "wall ms" stats "$2" 1 1000
    row "" "cpu ms${3:-}" stats "$2" 2 1000
    row "" "rss MiB${3:-}" stats "$2" 3 1024
}

echo
echo "nook benchmark: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "host: $(uname -srm); $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo));" \
    "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rt in "${runtimes[@]}"; do
    if [ -x "${binary[$rt]}" ]; then
        echo "$rt: ${binary[$rt]} ($("${binary[$rt]}" --version 2>/dev/null | head -n 1))"
    fi
done
echo "rounds: $rounds (concurrent: $conc_rounds); runtimes measured: ${active[*]};" \
    "workload /bin/true (busybox); seccomp profile: $profile_source" \
    "($(jq '[.syscalls[].names | length] | add' "$work/seccomp.json") syscall names)"
echo "cells: median [min-max]; ratios: nook median / other median (below 1: nook is faster or" \
    "smaller; for thr, above 1: nook does more per second)"
echo
printf '%-37s %-9s %-22s %-22s %-22s %-9s %-9s\n' scenario metric nook runc crun nook/crun nook/runc
wants lifecycle && rows3 "create+start+wait+delete" lifecycle
wants run && rows3 "run" run
wants exec && rows3 "exec /bin/true (running ctr)" exec
if wants seccomp; then
    rows3 "seccomp: create+start+wait+delete" seccomp-lifecycle
    rows3 "seccomp: run" seccomp-run
    row "seccomp: nook cache cold" "wall ms" stats seccomp-cold 1 1000
    row "" "cpu ms" stats seccomp-cold 2 1000
fi
if wants desktop; then
    if [ -n "${unavailable[desktop]:-}" ]; then
        missing "desktop" desktop
    else
        rows3 "desktop (nook: annotations)" desktop
        rows3 "desktop (all: plain binds)" desktop-binds
    fi
fi
if wants concurrent; then
    for n in "${concurrency[@]}"; do
        row "$n concurrent lifecycles" "thr /s" stats "conc$n" 1 1
        row "" "p99 ms" p99 "conc$n-lat" 1 1
        row "" "cpu ms/c" stats "conc$n" 2 1000
        row "" "rss MiB" stats "conc$n" 3 1024
    done
fi
if wants podman; then
    if [ -n "${unavailable[podman]:-}" ]; then missing "podman run --rm" podman
    else rows3 "podman run --rm" podman " *"; fi
fi
if wants ctr; then
    if [ -n "${unavailable[ctr]:-}" ]; then missing "ctr run --rm" ctr
    else row "ctr run --rm" "wall ms" stats ctr 1 1000; fi
fi
if wants floor; then
    read -r m a b < <(stats "$work/res/floor.floor" 1 1000)
    read -r cm ca cb < <(stats "$work/res/floor.floor" 2 1000)
    read -r rm ra rb < <(stats "$work/res/floor.floor" 3 1024)
    printf '%-37s %-9s %s\n' "kernel floor (clone+pivot_root+exec)" "wall ms" "$(fmt "$m" "$a" "$b")"
    printf '%-37s %-9s %s\n' "" "cpu ms" "$(fmt "$cm" "$ca" "$cb")"
    printf '%-37s %-9s %s\n' "" "rss MiB" "$(fmt "$rm" "$ra" "$rb")"
fi

# Derived figures: what a cached seccomp profile adds, the desktop layer's
# own cost, and how far each runtime is above the kernel floor.
median_of() { [ -s "$work/res/$1" ] && stats "$work/res/$1" "$2" 1000 | cut -d' ' -f1; }
echo
# delta NAME A B: "NAME +x ms wall, +y ms CPU" between the medians of
# res/A and res/B (wall drifts with the machine's load; CPU much less).
delta() {
    local w1 w2 c1 c2
    w1=$(median_of "$2" 1) w2=$(median_of "$3" 1) c1=$(median_of "$2" 2) c2=$(median_of "$3" 2)
    [ -n "$w1" ] && [ -n "$w2" ] || return 0
    awk -v n="$1" -v a="$w1" -v b="$w2" -v c="$c1" -v d="$c2" \
        'BEGIN { printf "%s %+.1f ms wall, %+.1f ms CPU\n", n, a - b, c - d }'
}
if wants seccomp && wants lifecycle; then
    for rt in "${active[@]}"; do
        delta "seccomp profile adds to $rt's lifecycle (medians):" \
            "seccomp-lifecycle.$rt" "lifecycle.$rt"
    done
fi
if wants desktop && [ -z "${unavailable[desktop]:-}" ]; then
    delta "desktop annotations cost nook, over the same plain binds (proxy start included):" \
        desktop.nook desktop-binds.nook
fi
if wants floor && wants lifecycle; then
    f=$(median_of floor.floor 1)
    for rt in "${active[@]}"; do
        p=$(median_of "lifecycle.$rt" 1)
        [ -n "$p" ] && awk -v r="$rt" -v f="$f" -v p="$p" \
            'BEGIN { printf "lifecycle above the kernel floor: %s %.1f ms (%.1fx the floor)\n", r, p - f, p / f }'
    done
fi
if [ -s "$work/failures" ]; then
    echo "failed calls (retried; their times are not in the table):"
    for key in "${!failures[@]}"; do echo "  $key: ${failures[$key]}"; done
    sort "$work/failures" | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
fi
if wants podman; then
    echo "* podman rows: CPU and RSS of podman, conmon and the runtime together."
fi
if wants ctr; then
    echo "ctr run --rm: wall only (the shim and the runtime run under containerd, not under ctr)."
fi
