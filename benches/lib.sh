# Helpers shared by the benchmark scripts (sourced, not run). They expect
# `work` (the scratch dir) and, for rt_cmd, the `binary` map of runtime
# name -> path, set by the script that sources this file.

rt_cmd() { # RUNTIME ARGS...: the runtime with its private --root
    local rt=$1
    shift
    "${binary[$rt]}" --root "$work/state-$rt" "$@"
}

now_us() { # wall clock in microseconds, without a fork
    local t=${EPOCHREALTIME/./}
    printf -v "$1" '%s' "$t"
}

# A fd that never has data: `read -t` on it is a sleep without a fork.
exec {never}<> <(:)
pause() { read -r -t 0.0005 -u "$never" _ || true; }

wait_exited() { # PID: until it is gone or a zombie
    local stat
    while [ -e "/proc/$1/stat" ]; do
        { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
        stat=${stat##*) }
        case $stat in Z* | X*) return 0 ;; esac
        pause
    done
}
