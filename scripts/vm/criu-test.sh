#!/bin/sh
# Checkpoint and restore with CRIU, run inside the test VM (busybox sh, as
# /test.sh; scripts/vm/criu-build.sh builds the VM) for each runtime with the
# same bundles and checks: runc passing them shows the checks are right.
#
# The containers run a counter: a shell loop that appends 1, 2, 3, ... to a
# file, one line every 0.1 s, keeping the number only in its memory. After a
# restore the file must go on from the last number written before the
# checkpoint (a restart would write 1 again; a lost process nothing).
#
# Per runtime:
#   criu-check            `criu check` passes in this VM
#   cr-*                  checkpoint stops the container (its pid is gone, the
#                         file stops growing); restore -d brings it back
#                         running, pid 1 of its own pid namespace, in its
#                         cgroup, with the pid its state and --pid-file name;
#                         the counter continues; kill and delete work after
#   leave-running-*       checkpoint --leave-running: the container keeps
#                         running; then, after it is deleted, the image
#                         restores under another id (newid-*)
#   predump-*             checkpoint --pre-dump keeps it running; a final
#                         checkpoint --parent-path ../pre links the pre-dump
#                         (final/parent) and writes fewer pages than it did;
#                         restore continues
#   tty-*                 process.terminal with --console-socket (recvtty):
#                         checkpoint --shell-job, restore --console-socket
#                         --shell-job; the terminal shows output after restore
#   bind-*                a bind mount of a VM directory at /data, where the
#                         counter writes: restored with the mount in place
# Then timings: ROUNDS rounds, the runtimes interleaved, of checkpoint,
# restore, pre-dump and final dump, in ms from /proc/uptime (10 ms steps),
# and of one `state` (what the runtime itself costs to start).
#
# Prints "ok RUNTIME CHECK DETAIL" / "not ok RUNTIME CHECK DETAIL" lines and
# "time RUNTIME OPERATION MS" lines. Exits 1 if any check failed for any
# runtime (runc failing means the test itself is wrong).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

CG=/sys/fs/cgroup
# Each runtime command gets this long before it counts as hung (criu under
# TCG takes a few seconds).
TIMEOUT=${VM_TEST_TIMEOUT:-30}
ROUNDS=${VM_TEST_ROUNDS:-3}
# (Comma-separated: the kernel command line passes VM_TEST_RUNTIMES=runc,nook
# to init as an environment variable.)
RUNTIMES=$(echo "${VM_TEST_RUNTIMES:-runc,nook}" | tr , " ")
# Which groups of checks to run (comma-separated), for debugging one.
TESTS=$(echo "${VM_TEST_ONLY:-checkpoint_restore,leave_running,pre_dump,tty,bind_mount}" | tr , " ")
failed=0

report() { # ok|not-ok RUNTIME NAME DETAIL...
    verdict=$1 runtime=$2 name=$3
    shift 3
    if [ "$verdict" = ok ]; then
        echo "ok $runtime $name${*:+ $*}"
    else
        echo "not ok $runtime $name${*:+ $*}"
        failed=1
    fi
}

# Milliseconds since boot (10 ms steps: /proc/uptime has two decimals).
now_ms() { awk '{ printf "%d", $1 * 1000 + 0.5 }' /proc/uptime; }

# The last lines of FILE on one line, for a report.
tail_of() { # FILE [N]
    tail -n "${2:-4}" "$1" 2>/dev/null | tr '\n' ' '
}

# The kernel modules criu needs (criu-build.sh lists them in load order).
load_modules() {
    while read -r m; do
        insmod "/lib/modules/criu/$m.ko" 2>/tmp/insmod.err ||
            grep -q "^$m " /proc/modules || echo "vm: insmod $m failed: $(cat /tmp/insmod.err)"
    done </lib/modules/criu.order
}

# Write BUNDLE/config.json: the busybox root at /rootfs, running ARGS (a
# JSON array), in cgroup CGPATH; TERMINAL true|false; MOUNTS extra mounts
# (JSON objects with a leading comma, or empty).
write_config() { # BUNDLE ARGS_JSON CGPATH [TERMINAL [MOUNTS]]
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": ${4:-false},
    "user": { "uid": 0, "gid": 0 },
    "args": $2,
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
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
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }${5:-}
  ],
  "linux": {
    "cgroupsPath": "$3",
    "resources": { "pids": { "limit": 100 } },
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

# The counter's process args: appends 1, 2, 3, ... to FILE (a path in the
# container). Its stdio goes to /dev/null first: criu cannot dump a
# descriptor on a file outside the container (the runtime's output file).
counter_args() { # FILE
    echo "[\"sh\", \"-c\", \"exec </dev/null >/dev/null 2>&1; i=0; while :; do i=\$((i + 1)); echo \$i >>$1; sleep 0.1; done\"]"
}

# The same counter on a terminal: each number also goes to the terminal.
tty_counter_args() { # FILE
    echo "[\"sh\", \"-c\", \"i=0; while :; do i=\$((i + 1)); echo \$i >>$1; echo tick \$i; sleep 0.1; done\"]"
}

# RUNTIME's command with the test's --root, killed if it hangs.
rt_do() { # RUNTIME ARGS...
    _rt=$1
    shift
    timeout -s KILL "$TIMEOUT" "$_rt" --root "/run/criu-test-$_rt" "$@"
}

# A field of `RUNTIME state ID` ("status", "pid").
state_field() { # RUNTIME ID FIELD
    rt_do "$1" state "$2" 2>/dev/null | sed -n "s/.*\"$3\": *\"\{0,1\}\([a-z0-9]*\).*/\1/p" | head -n 1
}

lines_of() { # FILE: its number of lines (0 if missing)
    if [ -e "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# Wait until FILE has at least N lines (at most 10 s); true if it does.
wait_lines() { # FILE N
    _i=0
    while [ "$(lines_of "$1")" -lt "$2" ]; do
        [ $_i -ge 100 ] && return 1
        sleep 0.1
        _i=$((_i + 1))
    done
}

# Start the container ID from BUNDLE detached (run -d), with extra ARGS
# (e.g. --console-socket); its output in OUT. True if it runs.
run_detached() { # RUNTIME BUNDLE ID OUT [ARGS...]
    _rt=$1 _bundle=$2 _id=$3 _out=$4
    shift 4
    rt_do "$_rt" run -d --bundle "$_bundle" --pid-file "$_bundle/pid" "$@" "$_id" \
        </dev/null >"$_out" 2>&1 &&
        [ "$(state_field "$_rt" "$_id" status)" = running ]
}

# Kill and delete the container ID; remove its cgroup if left behind.
remove_container() { # RUNTIME ID CGPATH
    rt_do "$1" kill "$2" KILL >/dev/null 2>&1
    _i=0
    while [ "$(state_field "$1" "$2" status)" = running ] && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    rt_do "$1" delete --force "$2" >/dev/null 2>&1
    [ -d "$CG$3" ] && rmdir "$CG$3" 2>/dev/null
    return 0
}

# Checkpoint ID into DIR/IMAGE (criu's log in DIR/work) with extra ARGS;
# report NAME; prints the time taken in ms on fd 3. True on success.
checkpoint() { # RUNTIME ID DIR IMAGE NAME [ARGS...]
    _rt=$1 _id=$2 _dir=$3 _image=$4 _name=$5
    shift 5
    mkdir -p "$_dir/work"
    _t0=$(now_ms)
    if rt_do "$_rt" checkpoint --image-path "$_dir/$_image" --work-path "$_dir/work" "$@" "$_id" \
        >"$_dir/checkpoint.out" 2>&1; then
        LAST_MS=$(($(now_ms) - _t0))
        report ok "$_rt" "$_name" "${LAST_MS} ms"
        return 0
    fi
    LAST_MS=
    report not-ok "$_rt" "$_name" "$(tail_of "$_dir/checkpoint.out") | criu: $(tail_of "$_dir/work/dump.log" 3)"
    return 1
}

# Restore ID from DIR/IMAGE detached, with extra ARGS; report NAME.
restore() { # RUNTIME ID BUNDLE DIR IMAGE NAME [ARGS...]
    _rt=$1 _id=$2 _bundle=$3 _dir=$4 _image=$5 _name=$6
    shift 6
    mkdir -p "$_dir/work"
    rm -f "$_bundle/pid"
    _t0=$(now_ms)
    if rt_do "$_rt" restore -d --bundle "$_bundle" --image-path "$_dir/$_image" \
        --work-path "$_dir/work" --pid-file "$_bundle/pid" "$@" "$_id" \
        </dev/null >"$_dir/restore.out" 2>&1; then
        LAST_MS=$(($(now_ms) - _t0))
        report ok "$_rt" "$_name" "${LAST_MS} ms"
        return 0
    fi
    LAST_MS=
    report not-ok "$_rt" "$_name" "$(tail_of "$_dir/restore.out") | criu: $(tail_of "$_dir/work/restore.log" 3)"
    # What was left running (a hung restore is killed by the timeout).
    echo "vm: processes after the failed restore:"
    ps -o pid,ppid,stat,args | grep -v -e ' \[' -e 'ps -o' | sed 's/^/vm:   /'
    for _p in $(ps -o pid,args | awk -v rt="$_rt" '$2 == rt || $2 == "criu" { print $1 }'); do
        echo "vm:   $_p waits in $(cat "/proc/$_p/wchan" 2>/dev/null); fds: $(ls -l "/proc/$_p/fd" 2>/dev/null | sed -n 's/.* \([0-9]*\) -> \(.*\)/\1=\2/p' | tr '\n' ' ')"
    done
    return 1
}

# The container is gone after a checkpoint: its pid no longer exists, its
# counter FILE stops growing, and state either fails or says stopped.
check_stopped() { # RUNTIME ID PID FILE NAME
    _before=$(lines_of "$4")
    sleep 0.5
    _after=$(lines_of "$4")
    _status=$(state_field "$1" "$2" status)
    if [ -e "/proc/$3" ]; then
        report not-ok "$1" "$5" "pid $3 still exists"
    elif [ "$_before" != "$_after" ]; then
        report not-ok "$1" "$5" "the counter went on from $_before to $_after lines"
    elif [ -n "$_status" ] && [ "$_status" != stopped ]; then
        report not-ok "$1" "$5" "state says '$_status'"
    else
        report ok "$1" "$5" "state: ${_status:-no container}"
    fi
}

# The container runs: state says running, its pid is the --pid-file's, it
# is pid 1 of its own pid namespace and a member of cgroup CGPATH.
check_running() { # RUNTIME ID BUNDLE CGPATH NAME
    _status=$(state_field "$1" "$2" status)
    _pid=$(state_field "$1" "$2" pid)
    _pidfile=$(cat "$3/pid" 2>/dev/null)
    _nspid=$(sed -n 's/^NSpid:.*[[:space:]]\([0-9]*\)$/\1/p' "/proc/$_pid/status" 2>/dev/null)
    if [ "$_status" != running ]; then
        report not-ok "$1" "$5" "state says '$_status'"
    elif [ "$_pid" != "$_pidfile" ]; then
        report not-ok "$1" "$5" "state pid '$_pid', --pid-file '$_pidfile'"
    elif [ ! -e "/proc/$_pid" ]; then
        report not-ok "$1" "$5" "pid $_pid does not exist"
    elif [ "$_nspid" != 1 ]; then
        report not-ok "$1" "$5" "pid $_pid is '$_nspid' in its pid namespace, not 1"
    elif ! grep -qx "$_pid" "$CG$4/cgroup.procs" 2>/dev/null; then
        report not-ok "$1" "$5" "pid $_pid not in $CG$4 ($(cat "/proc/$_pid/cgroup" 2>/dev/null))"
    else
        report ok "$1" "$5" "pid $_pid"
    fi
}

# The counter FILE continued after a restore: the lines after the first
# SKIP go on from a number in LOW..HIGH, one by one, for at least 3 more.
check_counter() { # RUNTIME FILE SKIP LOW HIGH NAME
    if ! wait_lines "$2" $(($3 + 3)); then
        report not-ok "$1" "$6" "the counter stopped at $(lines_of "$2") lines (had $3 before the restore)"
        return
    fi
    _verdict=$(awk -v skip="$3" -v low="$4" -v high="$5" '
        NR <= skip { next }
        NR == skip + 1 { if ($1 < low || $1 > high) { print "restarted at " $1 ", want " low ".." high; bad = 1; exit } prev = $1; next }
        $1 != prev + 1 { print "jumped from " prev " to " $1; bad = 1; exit }
        { prev = $1 }
        END { if (!bad) print "continued from " low ".." high " to " prev }' "$2")
    case $_verdict in
    continued*) report ok "$1" "$6" "$_verdict" ;;
    *) report not-ok "$1" "$6" "$_verdict" ;;
    esac
}

# The last number in FILE (0 if none).
last_of() { tail -n 1 "$1" 2>/dev/null || echo 0; }

# --- checkpoint, restore, continue -------------------------------------------
test_checkpoint_restore() { # RUNTIME
    rt=$1 id=cr-$1 cgpath=/criu-test/cr-$1
    dir=/tmp/criu-$rt/cr bundle=/tmp/criu-$rt/cr/bundle
    file=/tmp/count-cr-$rt
    mkdir -p "$bundle"
    rm -f "/rootfs$file"
    write_config "$bundle" "$(counter_args "$file")" "$cgpath"
    if ! run_detached "$rt" "$bundle" "$id" "$dir/run.out"; then
        report not-ok "$rt" cr-run "$(tail_of "$dir/run.out")"
        remove_container "$rt" "$id" "$cgpath"
        return
    fi
    wait_lines "/rootfs$file" 10
    pid=$(cat "$bundle/pid")
    if checkpoint "$rt" "$id" "$dir" image cr-checkpoint; then
        check_stopped "$rt" "$id" "$pid" "/rootfs$file" cr-stopped
        n=$(lines_of "/rootfs$file")
        last=$(last_of "/rootfs$file")
        if restore "$rt" "$id" "$bundle" "$dir" image cr-restore; then
            check_running "$rt" "$id" "$bundle" "$cgpath" cr-restored-running
            check_counter "$rt" "/rootfs$file" "$n" $((last + 1)) $((last + 1)) cr-counter-continues
            # The restored container is managed as any other.
            rt_do "$rt" kill "$id" KILL >/dev/null 2>&1
            sleep 0.5
            _status=$(state_field "$rt" "$id" status)
            if [ "$_status" = stopped ] && rt_do "$rt" delete "$id" >"$dir/delete.out" 2>&1; then
                report ok "$rt" cr-kill-delete
            else
                report not-ok "$rt" cr-kill-delete "after kill: '$_status'; $(tail_of "$dir/delete.out")"
            fi
            if [ -d "$CG$cgpath" ]; then
                report not-ok "$rt" cr-cgroup-removed "$CG$cgpath left after delete"
            else
                report ok "$rt" cr-cgroup-removed
            fi
        fi
    fi
    remove_container "$rt" "$id" "$cgpath"
}

# --- --leave-running, then restore under a new id ----------------------------
test_leave_running() { # RUNTIME
    rt=$1 id=lr-$1 newid=lr-$1-new cgpath=/criu-test/lr-$1
    dir=/tmp/criu-$rt/lr bundle=/tmp/criu-$rt/lr/bundle
    file=/tmp/count-lr-$rt
    mkdir -p "$bundle"
    rm -f "/rootfs$file"
    write_config "$bundle" "$(counter_args "$file")" "$cgpath"
    if ! run_detached "$rt" "$bundle" "$id" "$dir/run.out"; then
        report not-ok "$rt" leave-running-run "$(tail_of "$dir/run.out")"
        remove_container "$rt" "$id" "$cgpath"
        return
    fi
    wait_lines "/rootfs$file" 10
    low=$(last_of "/rootfs$file")
    if checkpoint "$rt" "$id" "$dir" image leave-running-checkpoint --leave-running; then
        high=$(last_of "/rootfs$file")
        n=$(lines_of "/rootfs$file")
        if [ "$(state_field "$rt" "$id" status)" = running ] && wait_lines "/rootfs$file" $((n + 3)); then
            report ok "$rt" leave-running-still-running
        else
            report not-ok "$rt" leave-running-still-running "state '$(state_field "$rt" "$id" status)', $(lines_of "/rootfs$file") lines (had $n)"
        fi
        remove_container "$rt" "$id" "$cgpath"
        n=$(lines_of "/rootfs$file")
        # The image holds a number between the last one written before the
        # checkpoint and the last one written when it returned.
        if restore "$rt" "$newid" "$bundle" "$dir" image newid-restore; then
            check_running "$rt" "$newid" "$bundle" "$cgpath" newid-running
            check_counter "$rt" "/rootfs$file" "$n" $((low + 1)) $((high + 1)) newid-counter-continues
            if [ -n "$(state_field "$rt" "$id" status)" ]; then
                report not-ok "$rt" newid-old-id-gone "state $id: $(state_field "$rt" "$id" status)"
            else
                report ok "$rt" newid-old-id-gone
            fi
        fi
        remove_container "$rt" "$newid" "$cgpath"
    fi
    remove_container "$rt" "$id" "$cgpath"
}

# KiB of memory pages in an image directory (criu's pages-*.img files).
pages_kb() { # DIR
    cat "$1"/pages-*.img 2>/dev/null | wc -c | awk '{ printf "%d", $1 / 1024 }'
}

# --- --pre-dump, --parent-path, final dump, restore --------------------------
test_pre_dump() { # RUNTIME
    rt=$1 id=pd-$1 cgpath=/criu-test/pd-$1
    dir=/tmp/criu-$rt/pd bundle=/tmp/criu-$rt/pd/bundle
    file=/tmp/count-pd-$rt
    mkdir -p "$bundle"
    rm -f "/rootfs$file"
    write_config "$bundle" "$(counter_args "$file")" "$cgpath"
    if ! run_detached "$rt" "$bundle" "$id" "$dir/run.out"; then
        report not-ok "$rt" predump-run "$(tail_of "$dir/run.out")"
        remove_container "$rt" "$id" "$cgpath"
        return
    fi
    wait_lines "/rootfs$file" 10
    if checkpoint "$rt" "$id" "$dir" pre predump-pre-dump --pre-dump; then
        n=$(lines_of "/rootfs$file")
        if [ "$(state_field "$rt" "$id" status)" = running ] && wait_lines "/rootfs$file" $((n + 3)); then
            report ok "$rt" predump-still-running
        else
            report not-ok "$rt" predump-still-running "state '$(state_field "$rt" "$id" status)', $(lines_of "/rootfs$file") lines (had $n)"
        fi
        if checkpoint "$rt" "$id" "$dir" final predump-final-dump --parent-path ../pre; then
            # The counter's memory barely changes: a final dump on top of the
            # pre-dump writes a fraction of its pages.
            pre_kb=$(pages_kb "$dir/pre") final_kb=$(pages_kb "$dir/final")
            if [ ! -e "$dir/final/parent" ]; then
                report not-ok "$rt" predump-incremental "no $dir/final/parent: the final dump ignored --parent-path"
            elif [ "$final_kb" -ge "$pre_kb" ]; then
                report not-ok "$rt" predump-incremental "final dump $final_kb KiB of pages, pre-dump $pre_kb KiB: not incremental"
            else
                report ok "$rt" predump-incremental "pages: pre-dump $pre_kb KiB, final $final_kb KiB"
            fi
            n=$(lines_of "/rootfs$file")
            last=$(last_of "/rootfs$file")
            if restore "$rt" "$id" "$bundle" "$dir" final predump-restore; then
                check_running "$rt" "$id" "$bundle" "$cgpath" predump-restored-running
                check_counter "$rt" "/rootfs$file" "$n" $((last + 1)) $((last + 1)) predump-counter-continues
            fi
        fi
    fi
    remove_container "$rt" "$id" "$cgpath"
}

# --- a terminal container (--console-socket) ----------------------------------
test_tty() { # RUNTIME
    rt=$1 id=tty-$1 cgpath=/criu-test/tty-$1
    dir=/tmp/criu-$rt/tty bundle=/tmp/criu-$rt/tty/bundle
    file=/tmp/count-tty-$rt
    socket=$dir/console.sock
    log=$dir/console.log
    mkdir -p "$bundle"
    rm -f "/rootfs$file" "$log"
    recvtty "$socket" "$log" 2>"$dir/recvtty.err" &
    recvtty_pid=$!
    _i=0
    while [ ! -S "$socket" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
    write_config "$bundle" "$(tty_counter_args "$file")" "$cgpath" true
    if ! run_detached "$rt" "$bundle" "$id" "$dir/run.out" --console-socket "$socket"; then
        report not-ok "$rt" tty-run "$(tail_of "$dir/run.out")"
    else
        wait_lines "/rootfs$file" 10
        if grep -q "tick" "$log"; then
            report ok "$rt" tty-output "$(grep -c tick "$log") ticks on the terminal"
        else
            report not-ok "$rt" tty-output "nothing on the terminal: '$(tail_of "$log")' $(cat "$dir/recvtty.err")"
        fi
        if checkpoint "$rt" "$id" "$dir" image tty-checkpoint --shell-job; then
            n=$(lines_of "/rootfs$file")
            last=$(last_of "/rootfs$file")
            if restore "$rt" "$id" "$bundle" "$dir" image tty-restore --shell-job --console-socket "$socket"; then
                check_running "$rt" "$id" "$bundle" "$cgpath" tty-restored-running
                check_counter "$rt" "/rootfs$file" "$n" $((last + 1)) $((last + 1)) tty-counter-continues
                sleep 0.3
                if grep -q "tick $((last + 2))" "$log"; then
                    report ok "$rt" tty-output-after-restore "tick $((last + 2)) on the terminal"
                else
                    report not-ok "$rt" tty-output-after-restore "no 'tick $((last + 2))' on the terminal: '$(tail_of "$log" 2)' $(cat "$dir/recvtty.err")"
                fi
            fi
        fi
    fi
    remove_container "$rt" "$id" "$cgpath"
    kill "$recvtty_pid" 2>/dev/null
    wait "$recvtty_pid" 2>/dev/null
}

# --- a bind mount -------------------------------------------------------------
test_bind_mount() { # RUNTIME
    rt=$1 id=bind-$1 cgpath=/criu-test/bind-$1
    dir=/tmp/criu-$rt/bind bundle=/tmp/criu-$rt/bind/bundle
    data=/tmp/criu-$rt/bind-data
    file=$data/count
    mkdir -p "$bundle" "$data"
    rm -f "$file"
    write_config "$bundle" "$(counter_args /data/count)" "$cgpath" false \
        ", { \"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$data\", \"options\": [\"rbind\", \"rw\"] }"
    if ! run_detached "$rt" "$bundle" "$id" "$dir/run.out"; then
        report not-ok "$rt" bind-run "$(tail_of "$dir/run.out")"
        remove_container "$rt" "$id" "$cgpath"
        return
    fi
    wait_lines "$file" 10
    if checkpoint "$rt" "$id" "$dir" image bind-checkpoint; then
        n=$(lines_of "$file")
        last=$(last_of "$file")
        if restore "$rt" "$id" "$bundle" "$dir" image bind-restore; then
            check_running "$rt" "$id" "$bundle" "$cgpath" bind-restored-running
            # Written through the restored bind mount, seen in the VM's directory.
            check_counter "$rt" "$file" "$n" $((last + 1)) $((last + 1)) bind-counter-continues
        fi
    fi
    remove_container "$rt" "$id" "$cgpath"
}

# --- timings ------------------------------------------------------------------
# One round for RUNTIME: checkpoint + restore of a running counter, then
# pre-dump + final dump (--parent-path) + restore. "time RUNTIME OP MS" lines.
time_round() { # RUNTIME ROUND
    rt=$1 id=time-$1 cgpath=/criu-test/time-$1
    dir=/tmp/criu-$rt/time-$2 bundle=/tmp/criu-$rt/time-$2/bundle
    file=/tmp/count-time-$rt
    mkdir -p "$bundle"
    rm -f "/rootfs$file"
    write_config "$bundle" "$(counter_args "$file")" "$cgpath"
    if run_detached "$rt" "$bundle" "$id" "$dir/run.out"; then
        wait_lines "/rootfs$file" 5
        # The runtime's own start-up cost, for comparison: one `state`.
        _t0=$(now_ms)
        rt_do "$rt" state "$id" >/dev/null 2>&1 && echo "time $rt state $(($(now_ms) - _t0))"
        checkpoint "$rt" "$id" "$dir" image "time-checkpoint-$2" && echo "time $rt checkpoint $LAST_MS"
        [ -n "$LAST_MS" ] && restore "$rt" "$id" "$bundle" "$dir" image "time-restore-$2" &&
            echo "time $rt restore $LAST_MS"
        checkpoint "$rt" "$id" "$dir" pre "time-pre-dump-$2" --pre-dump && echo "time $rt pre-dump $LAST_MS"
        checkpoint "$rt" "$id" "$dir" final "time-final-dump-$2" --parent-path ../pre &&
            echo "time $rt final-dump $LAST_MS"
        [ -n "$LAST_MS" ] && restore "$rt" "$id" "$bundle" "$dir" final "time-restore-after-pre-dump-$2" &&
            echo "time $rt restore-after-pre-dump $LAST_MS"
    else
        report not-ok "$rt" "time-run-$2" "$(tail_of "$dir/run.out")"
    fi
    remove_container "$rt" "$id" "$cgpath"
    rm -rf "$dir"
}

# "timing RUNTIME OP: a b c ms (median m)" from the "time" lines in FILE.
summarize_times() { # FILE
    for rt in $RUNTIMES; do
        for op in state checkpoint restore pre-dump final-dump restore-after-pre-dump; do
            awk -v rt="$rt" -v op="$op" '
                $1 == "time" && $2 == rt && $3 == op { v[n++] = $4 }
                END {
                    if (!n) { print "timing " rt " " op ": none"; exit }
                    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                    s = ""; for (i = 0; i < n; i++) s = s v[i] " "
                    printf "timing %s %s: %sms (median %d)\n", rt, op, s, v[int(n / 2)]
                }' "$1"
        done
    done
}

echo "vm: $(uname -r), up $(now_ms) ms"
load_modules
# criu's feature detection connects over loopback (kerndat_tcp_repair).
ip link set lo up
mkdir -p "$CG/criu-test"
echo "vm: criu $(criu --version 2>&1 | head -n 1)"
for rt in $RUNTIMES; do
    if ! command -v "$rt" >/dev/null; then
        report not-ok "$rt" present "not in the initramfs"
        continue
    fi
    echo "vm: $rt: $("$rt" --version 2>&1 | head -n 1)"
    started=$(now_ms)
    if criu check >/tmp/criu-check.out 2>&1; then
        report ok "$rt" criu-check "$(tail_of /tmp/criu-check.out 1)"
    else
        report not-ok "$rt" criu-check "$(tail_of /tmp/criu-check.out)"
    fi
    for t in $TESTS; do
        "test_$t" "$rt"
    done
    echo "vm: $rt checks took $(($(now_ms) - started)) ms"
done

round=1
: >/tmp/times
while [ $round -le "$ROUNDS" ]; do
    for rt in $RUNTIMES; do
        command -v "$rt" >/dev/null && time_round "$rt" "$round" | tee -a /tmp/times
    done
    round=$((round + 1))
done
summarize_times /tmp/times
exit $failed
