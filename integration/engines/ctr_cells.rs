//! containerd's everyday operations through ctr: `ctr run` and `ctr task
//! exec/kill/pause/resume/ps/metrics`, one cell each, each checking a
//! concrete result (output, exit code, task status, cgroup value).

use super::cells::{runtime_own_error, unescape_quotes};
use super::containerd::Ctr;
use super::host;
use super::matrix::{Cell, Runtime};
use super::pty::run_on_pty;
use std::fs;

pub fn ctr_cells() -> Vec<Cell<Ctr>> {
    vec![
        Cell {
            name: "ctr run --rm (output)",
            run: run_rm_output,
        },
        Cell {
            name: "ctr run exit code",
            run: run_exit_code,
        },
        Cell {
            name: "ctr run -t (pty)",
            run: run_tty,
        },
        Cell {
            name: "ctr run -d + task ls",
            run: run_detached,
        },
        Cell {
            name: "task exec",
            run: task_exec,
        },
        Cell {
            name: "task exec -t (pty)",
            run: task_exec_tty,
        },
        Cell {
            name: "task exec exit code",
            run: task_exec_exit_code,
        },
        Cell {
            name: "task kill TERM then KILL",
            run: kill_term_then_kill,
        },
        Cell {
            name: "task kill -s USR1",
            run: kill_with_signal,
        },
        Cell {
            name: "task pause/resume",
            run: pause_resume,
        },
        Cell {
            name: "task ps",
            run: task_ps,
        },
        Cell {
            name: "task metrics",
            run: task_metrics,
        },
        Cell {
            name: "--memory-limit OOM kill",
            run: oom_kill,
        },
        Cell {
            name: "--read-only",
            run: read_only,
        },
        Cell {
            name: "--cap-drop/--cap-add",
            run: caps,
        },
        Cell {
            name: "--seccomp",
            run: seccomp,
        },
        Cell {
            name: "--device",
            run: device,
        },
        Cell {
            name: "--mount bind",
            run: bind_mount,
        },
        Cell {
            name: "--mount tmpfs",
            run: tmpfs,
        },
        Cell {
            name: "--with-ns ipc/pid (host)",
            run: host_namespaces,
        },
        Cell {
            name: "--uidmap/--gidmap",
            run: uidmap,
        },
        Cell {
            name: "runtime error shown",
            run: runtime_error_shown,
        },
    ]
}

fn id(label: &str, rt: &Runtime) -> String {
    format!("{label}-{}", rt.name)
}

/// `ctr run --rm` that must succeed: its stdout.
#[track_caller]
fn run_rm_ok(ctr: &Ctr, rt: &Runtime, flags: &[&str], label: &str, args: &[&str]) -> String {
    let mut all = vec!["--rm"];
    all.extend_from_slice(flags);
    let out = ctr.run(rt, &all, &id(label, rt), args);
    out.assert_ok();
    out.stdout
}

fn run_rm_output(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(ctr, rt, &[], "echo", &["echo", "hello from the container"]);
    assert_eq!(out, "hello from the container\n");
}

fn run_exit_code(ctr: &Ctr, rt: &Runtime) {
    let out = ctr.run(rt, &["--rm"], &id("exit", rt), &["sh", "-c", "exit 3"]);
    assert_eq!(out.code(), Some(3), "{out}");
}

fn run_tty(ctr: &Ctr, rt: &Runtime) {
    let mut cmd = ctr.run_command(rt, &["--rm", "-t"], &id("tty", rt), &["sh"]);
    let run = run_on_pty(
        &mut cmd,
        &[("# ", "tty; echo nook$((6*7))\r"), ("nook42", "exit 4\r")],
        super::containerd::TIMEOUT,
    );
    assert_eq!(
        run.status.code(),
        Some(4),
        "terminal showed:\n{}",
        run.output
    );
    assert!(
        run.output.contains("/dev/pts/") || run.output.contains("/dev/console"),
        "tty printed no terminal:\n{}",
        run.output
    );
}

fn sleeper(ctr: &Ctr, rt: &Runtime, label: &str) -> (String, i32) {
    let id = id(label, rt);
    let pid = ctr.run_detached(rt, &[], &id, &["sleep", "1000"]);
    (id, pid)
}

fn run_detached(ctr: &Ctr, rt: &Runtime) {
    let (id, pid) = sleeper(ctr, rt, "detach");
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(cmdline, "sleep\x001000\x00", "task {id}'s pid {pid}");
}

fn task_exec(ctr: &Ctr, rt: &Runtime) {
    let (id, _) = sleeper(ctr, rt, "exec");
    let out = ctr.exec(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        &id,
        "sh",
        "-c",
        "echo $((40+2)) $$",
    ]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"42"), "{out}");
    assert_ne!(words.get(1), Some(&"1"), "{out}");
}

fn task_exec_tty(ctr: &Ctr, rt: &Runtime) {
    let (id, _) = sleeper(ctr, rt, "exectty");
    let mut cmd = ctr.command(&["task", "exec", "-t", "--exec-id", "e2", &id, "sh"]);
    let run = run_on_pty(
        &mut cmd,
        &[("# ", "tty; echo nook$((6*7))\r"), ("nook42", "exit 6\r")],
        super::containerd::TIMEOUT,
    );
    assert_eq!(
        run.status.code(),
        Some(6),
        "terminal showed:\n{}",
        run.output
    );
    assert!(run.output.contains("/dev/pts/"), "{}", run.output);
}

fn task_exec_exit_code(ctr: &Ctr, rt: &Runtime) {
    let (id, _) = sleeper(ctr, rt, "execcode");
    let out = ctr.exec(&["task", "exec", "--exec-id", "e3", &id, "sh", "-c", "exit 7"]);
    assert_eq!(out.code(), Some(7), "{out}");
}

/// sleep as PID 1 has no TERM handler: TERM leaves it running, KILL ends
/// it, and the waiting `ctr run` exits 137.
fn kill_term_then_kill(ctr: &Ctr, rt: &Runtime) {
    let id = id("kill", rt);
    let run = ctr.run_background(rt, &["--rm"], &id, &["sleep", "1000"]);
    ctr.wait_for_status(&id, "RUNNING");
    ctr.exec(&["task", "kill", &id]).assert_ok();
    // kill(2) has returned: an ignored TERM is already discarded.
    assert_eq!(ctr.task(&id).map(|(_, s)| s), Some("RUNNING".into()));
    ctr.exec(&["task", "kill", "--signal", "SIGKILL", &id])
        .assert_ok();
    let out = run.finish();
    assert_eq!(out.code(), Some(137), "{out}");
}

fn kill_with_signal(ctr: &Ctr, rt: &Runtime) {
    let id = id("usr1", rt);
    let run = ctr.run_background(
        rt,
        &["--rm"],
        &id,
        &[
            "sh",
            "-c",
            "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done",
        ],
    );
    ctr.wait_for_status(&id, "RUNNING");
    ctr.exec(&["task", "kill", "--signal", "SIGUSR1", &id])
        .assert_ok();
    let out = run.finish();
    assert_eq!(out.code(), Some(9), "{out}");
    assert!(out.stdout.contains("got-usr1"), "{out}");
}

fn pause_resume(ctr: &Ctr, rt: &Runtime) {
    let (id, pid) = sleeper(ctr, rt, "pause");
    ctr.exec(&["task", "pause", &id]).assert_ok();
    assert_eq!(ctr.task(&id).map(|(_, s)| s), Some("PAUSED".into()));
    assert_eq!(
        host::cgroup_value(pid, "freezer", "freezer.state"),
        "FROZEN"
    );
    ctr.exec(&["task", "resume", &id]).assert_ok();
    assert_eq!(ctr.task(&id).map(|(_, s)| s), Some("RUNNING".into()));
    assert_eq!(
        host::cgroup_value(pid, "freezer", "freezer.state"),
        "THAWED"
    );
}

/// `ctr task ps` asks the runtime (`RT ps --format json ID`).
fn task_ps(ctr: &Ctr, rt: &Runtime) {
    let (id, pid) = sleeper(ctr, rt, "ps");
    let out = ctr.exec(&["task", "ps", &id]);
    out.assert_ok();
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, [pid.to_string().as_str()], "{out}");
}

/// The shim reads the container's cgroup files itself.
fn task_metrics(ctr: &Ctr, rt: &Runtime) {
    let id = id("metrics", rt);
    ctr.run_detached(rt, &["--memory-limit", "67108864"], &id, &["sleep", "1000"]);
    let out = ctr.exec(&["task", "metrics", &id]);
    out.assert_ok();
    let limit = out.stdout.lines().find_map(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        (words.first() == Some(&"memory.limit_in_bytes"))
            .then(|| words.get(1).map(|s| s.to_string()))
    });
    assert_eq!(limit, Some(Some("67108864".to_string())), "{out}");
}

fn oom_kill(ctr: &Ctr, rt: &Runtime) {
    // tail keeps the current line in memory: /dev/zero has no newline.
    let out = ctr.run(
        rt,
        &["--rm", "--memory-limit", "33554432"],
        &id("oom", rt),
        &["tail", "/dev/zero"],
    );
    assert_eq!(out.code(), Some(137), "{out}");
}

fn read_only(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &["--read-only"],
        "ro",
        &["sh", "-c", "touch /probe 2>&1; echo rc=$?"],
    );
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
}

fn caps(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &["--cap-drop", "CAP_CHOWN", "--cap-add", "CAP_SYS_ADMIN"],
        "caps",
        &["grep", "CapEff", "/proc/self/status"],
    );
    // containerd's default set 0xa80425fb without CHOWN (bit 0), with
    // SYS_ADMIN (bit 21).
    assert_eq!(out.trim(), "CapEff:\t00000000a82425fa");
}

fn seccomp(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &["--seccomp"],
        "seccomp",
        &["grep", "Seccomp:", "/proc/self/status"],
    );
    assert_eq!(out.trim(), "Seccomp:\t2");
}

fn device(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &["--device", "/dev/loop-control"],
        "device",
        &[
            "sh",
            "-c",
            "stat -c %F:%t:%T /dev/loop-control; : </dev/loop-control && echo opened",
        ],
    );
    // /dev/loop-control is character device 10:237, not in the default device list:
    // opening it needs the device cgroup rule --device adds.
    assert_eq!(out, "character special file:a:ed\nopened\n");
}

fn bind_mount(ctr: &Ctr, rt: &Runtime) {
    let dir = ctr.scratch.join(format!("bind-{}", rt.name));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create bind source");
    fs::write(dir.join("in"), "from the host\n").expect("write bind source file");
    let mount = format!("type=bind,src={},dst=/data,options=rbind:rw", dir.display());
    let out = run_rm_ok(
        ctr,
        rt,
        &["--mount", &mount],
        "bind",
        &[
            "sh",
            "-c",
            "cat /data/in; echo from the container > /data/out",
        ],
    );
    assert_eq!(out, "from the host\n");
    let written = fs::read_to_string(dir.join("out")).unwrap_or_default();
    assert_eq!(written, "from the container\n");
}

fn tmpfs(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &[
            "--mount",
            "type=tmpfs,src=tmpfs,dst=/scratch,options=size=1m:mode=1770",
        ],
        "tmpfs",
        &["grep", " /scratch ", "/proc/mounts"],
    );
    assert!(out.starts_with("tmpfs /scratch tmpfs"), "{out}");
    assert!(
        out.contains("size=1024k") && out.contains("mode=1770"),
        "{out}"
    );
}

/// Joining this test process's IPC and PID namespaces by path.
fn host_namespaces(ctr: &Ctr, rt: &Runtime) {
    let me = std::process::id();
    let ipc = format!("ipc:/proc/{me}/ns/ipc");
    let pid = format!("pid:/proc/{me}/ns/pid");
    let out = run_rm_ok(
        ctr,
        rt,
        &["--with-ns", &ipc, "--with-ns", &pid],
        "hostns",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid",
        ],
    );
    let want = format!(
        "{}\n{}\n",
        host::ns_link("self", "ipc"),
        host::ns_link("self", "pid")
    );
    assert_eq!(out, want);
}

fn uidmap(ctr: &Ctr, rt: &Runtime) {
    let out = run_rm_ok(
        ctr,
        rt,
        &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"],
        "uidmap",
        &["cat", "/proc/self/uid_map", "/proc/self/gid_map"],
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0 100000 65536", "0 100000 65536"], "{out}");
}

/// The shim reads the runtime's --log (JSON) on a failed create and puts
/// the last message into the error ctr prints.
fn runtime_error_shown(ctr: &Ctr, rt: &Runtime) {
    const MISSING: &str = "/no/such/command";
    let own = runtime_own_error(rt, MISSING);
    let out = ctr.run(rt, &["--rm"], &id("error", rt), &[MISSING]);
    out.assert_fail();
    let shown = unescape_quotes(&format!("{}{}", out.stdout, out.stderr));
    assert!(
        shown.contains(&own),
        "ctr did not pass on {}'s message {own:?}: {out}",
        rt.name
    );
}
