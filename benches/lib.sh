# Helpers shared by the benchmark scripts (run-all.sh, desktop.sh); sourced,
# not run.

now_us() { # wall clock in microseconds, without a fork
    local t=${EPOCHREALTIME/./}
    printf -v "$1" '%s' "$t"
}

# start_headless_session DIR UID PIDS: make DIR (0700, owned by UID) and
# start in it, as UID, a headless weston and a session dbus-daemon (the
# desktop rows' session); their pids are appended to the array named PIDS.
# Fails unless both sockets (DIR/wayland-0, DIR/bus) appear within 10 s.
start_headless_session() {
    local dir=$1 uid=$2
    local -n started=$3
    mkdir -m 700 "$dir"
    chown "$uid:$uid" "$dir"
    session_as_user() {
        setpriv --reuid "$uid" --regid "$uid" --clear-groups \
            env XDG_RUNTIME_DIR="$dir" "$@" </dev/null >/dev/null 2>&1 &
        started+=($!)
    }
    session_as_user weston --backend=headless-backend.so --socket=wayland-0 --idle-time=0 --no-config
    session_as_user dbus-daemon --session --nofork --nopidfile --address="unix:path=$dir/bus"
    for _ in $(seq 100); do
        [ -S "$dir/wayland-0" ] && [ -S "$dir/bus" ] && return 0
        sleep 0.1
    done
    return 1
}
