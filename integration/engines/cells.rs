//! The everyday operations of podman and docker, one cell each. Every cell
//! checks a concrete result: output text, an exit code, a file's content, a
//! cgroup value or a namespace link. None measures time.

use super::cli::{Cli, Kind, IMAGE};
use super::host;
use super::matrix::{Cell, Runtime};
use super::pty::run_on_pty;
use crate::common::{Bundle, Runtime as Direct};
use std::fs;

/// The cells for podman (`Kind::Podman`) or docker.
pub fn docker_like_cells(kind: Kind) -> Vec<Cell<Cli>> {
    let mut cells: Vec<Cell<Cli>> = vec![
        Cell {
            name: "run --rm (output)",
            run: run_rm_output,
        },
        Cell {
            name: "run exit code",
            run: run_exit_code,
        },
        Cell {
            name: "run -it (pty)",
            run: run_interactive,
        },
        Cell {
            name: "run -d + logs",
            run: detach_and_logs,
        },
        Cell {
            name: "exec",
            run: exec_output,
        },
        Cell {
            name: "exec -it (pty)",
            run: exec_interactive,
        },
        Cell {
            name: "exec exit code",
            run: exec_exit_code,
        },
        Cell {
            name: "stop (TERM ignored)",
            run: stop_term_ignored,
        },
        Cell {
            name: "kill --signal USR1",
            run: kill_with_signal,
        },
        Cell {
            name: "restart",
            run: restart,
        },
        Cell {
            name: "pause/unpause",
            run: pause_unpause,
        },
        Cell {
            name: "update --memory",
            run: update_memory,
        },
        Cell {
            name: "top",
            run: top,
        },
        Cell {
            name: "stats",
            run: stats,
        },
        Cell {
            name: "--read-only",
            run: read_only,
        },
        Cell {
            name: "--user",
            run: user,
        },
        Cell {
            name: "--cap-drop/--cap-add",
            run: caps,
        },
        Cell {
            name: "default seccomp",
            run: default_seccomp,
        },
        Cell {
            name: "--memory OOM kill",
            run: oom_kill,
        },
        Cell {
            name: "--pids-limit",
            run: pids_limit,
        },
        Cell {
            name: "--device",
            run: device,
        },
        Cell {
            name: "-v bind mounts",
            run: bind_mounts,
        },
        Cell {
            name: "--tmpfs",
            run: tmpfs,
        },
        Cell {
            name: "--ipc host",
            run: ipc_host,
        },
        Cell {
            name: "--pid host",
            run: pid_host,
        },
    ];
    if kind == Kind::Podman {
        cells.push(Cell {
            name: "--uidmap",
            run: uidmap,
        });
    }
    cells.push(Cell {
        name: "runtime error shown",
        run: runtime_error_shown,
    });
    cells
}

fn run_rm_output(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(rt, &[IMAGE, "echo", "hello from the container"]);
    assert_eq!(out, "hello from the container\n");
}

fn run_exit_code(cli: &Cli, rt: &Runtime) {
    let out = cli.run(rt, &["--rm", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), Some(3), "{out}");
}

/// `run -it` on a pty opened here: type into the container's shell and
/// read its answer; the shell's tty must be a pty and its exit code must
/// come back.
fn run_interactive(cli: &Cli, rt: &Runtime) {
    let mut cmd = cli.run_command(rt, &["-it", "--rm", IMAGE, "sh"]);
    let run = run_on_pty(
        &mut cmd,
        &[
            // busybox sh's root prompt is "/ # ".
            ("# ", "tty; echo nook$((6*7))\r"),
            ("nook42", "exit 4\r"),
        ],
        super::cli::TIMEOUT,
    );
    assert_eq!(
        run.status.code(),
        Some(4),
        "terminal showed:\n{}",
        run.output
    );
    assert!(
        run.output.contains("/dev/pts/"),
        "tty printed no pts:\n{}",
        run.output
    );
}

fn detach_and_logs(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(
        rt,
        &[
            IMAGE,
            "sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2; sleep 1000",
        ],
    );
    let logs = cli.wait_for_log(&id, "to-stderr");
    assert!(logs.contains("to-stdout"), "logs: {logs}");
    assert_eq!(cli.inspect(&id, "{{.State.Status}}"), "running");
}

fn sleeper(cli: &Cli, rt: &Runtime) -> String {
    cli.run_detached(rt, &[IMAGE, "sleep", "1000"])
}

fn exec_output(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    let out = cli.exec(&["exec", &id, "sh", "-c", "echo $((40+2)) $$"]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"42"), "{out}");
    // The exec'd shell is a new process in the container, not its PID 1.
    assert_ne!(words.get(1), Some(&"1"), "{out}");
}

fn exec_interactive(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    let mut cmd = cli.command(&["exec", "-it", &id, "sh"]);
    let run = run_on_pty(
        &mut cmd,
        &[("# ", "tty; echo nook$((6*7))\r"), ("nook42", "exit 6\r")],
        super::cli::TIMEOUT,
    );
    assert_eq!(
        run.status.code(),
        Some(6),
        "terminal showed:\n{}",
        run.output
    );
    assert!(
        run.output.contains("/dev/pts/"),
        "tty printed no pts:\n{}",
        run.output
    );
}

fn exec_exit_code(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    let out = cli.exec(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(out.code(), Some(7), "{out}");
    // A missing command is the runtime's exec failing: 126 or 127.
    let out = cli.exec(&["exec", &id, "/no/such/command"]);
    assert!(matches!(out.code(), Some(126 | 127)), "{out}");
}

/// sleep as PID 1 has no TERM handler, so TERM does nothing: the engine
/// must follow with KILL after the timeout.
fn stop_term_ignored(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    cli.exec(&["stop", "--time", "1", &id]).assert_ok();
    assert_eq!(cli.inspect(&id, "{{.State.Running}}"), "false");
    assert_eq!(cli.inspect(&id, "{{.State.ExitCode}}"), "137");
}

fn kill_with_signal(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(
        rt,
        &[
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done",
        ],
    );
    cli.wait_for_log(&id, "ready");
    cli.exec(&["kill", "--signal", "USR1", &id]).assert_ok();
    assert_eq!(cli.wait(&id), 9);
    assert!(cli.logs(&id).contains("got-usr1"));
}

fn restart(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(rt, &[IMAGE, "sh", "-c", "echo started; sleep 1000"]);
    cli.wait_for_log(&id, "started");
    let first_pid = cli.pid(&id);
    cli.exec(&["restart", "--time", "1", &id]).assert_ok();
    assert_eq!(cli.inspect(&id, "{{.State.Status}}"), "running");
    assert_ne!(cli.pid(&id), first_pid, "restart kept the old process");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cli.logs(&id).matches("started").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted container never logged again: {}",
            cli.logs(&id)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn pause_unpause(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    let pid = cli.pid(&id);
    cli.exec(&["pause", &id]).assert_ok();
    assert_eq!(cli.inspect(&id, "{{.State.Status}}"), "paused");
    assert_eq!(
        host::cgroup_value(pid, "freezer", "freezer.state"),
        "FROZEN"
    );
    cli.exec(&["unpause", &id]).assert_ok();
    assert_eq!(cli.inspect(&id, "{{.State.Status}}"), "running");
    assert_eq!(
        host::cgroup_value(pid, "freezer", "freezer.state"),
        "THAWED"
    );
}

fn update_memory(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(rt, &["--memory", "64m", IMAGE, "sleep", "1000"]);
    let pid = cli.pid(&id);
    assert_eq!(
        host::cgroup_value(pid, "memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    cli.exec(&["update", "--memory", "128m", "--memory-swap", "256m", &id])
        .assert_ok();
    assert_eq!(
        host::cgroup_value(pid, "memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
}

fn top(cli: &Cli, rt: &Runtime) {
    let id = sleeper(cli, rt);
    let out = cli.exec(&["top", &id]);
    out.assert_ok();
    assert!(out.stdout.contains("sleep 1000"), "{out}");
}

fn stats(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(rt, &["--memory", "64m", IMAGE, "sleep", "1000"]);
    let out = cli.exec(&["stats", "--no-stream", "--format", "{{.MemUsage}}", &id]);
    out.assert_ok();
    // "1.1MiB / 64MiB" (docker) or "335.9kB / 67.11MB" (podman): the usage
    // read from the container's cgroup, and its limit.
    let limit = match cli.kind {
        Kind::Podman => "/ 67.11MB",
        Kind::Docker => "/ 64MiB",
    };
    assert!(out.stdout.contains(limit), "{out}");
}

fn read_only(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &[
            "--read-only",
            IMAGE,
            "sh",
            "-c",
            "touch /probe 2>&1; echo rc=$?",
        ],
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
}

fn user(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(rt, &["--user", "65534:65534", IMAGE, "id"]);
    assert!(out.starts_with("uid=65534(nobody) gid=65534"), "{out}");
}

fn caps(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &[
            "--cap-drop",
            "all",
            "--cap-add",
            "chown",
            "--cap-add",
            "kill",
            IMAGE,
            "grep",
            "Cap",
            "/proc/self/status",
        ],
    );
    // CAP_CHOWN is bit 0, CAP_KILL bit 5.
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(
            out.contains(&format!("{set}:\t0000000000000021")),
            "{set}: {out}"
        );
    }
}

/// Podman and docker send their default seccomp profile unless told not
/// to: the container process must run under a filter (mode 2).
fn default_seccomp(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(rt, &[IMAGE, "grep", "Seccomp:", "/proc/self/status"]);
    assert_eq!(out.trim(), "Seccomp:\t2");
}

fn oom_kill(cli: &Cli, rt: &Runtime) {
    // tail keeps the current line in memory: /dev/zero has no newline.
    let id = cli.run_detached(
        rt,
        &[
            "--memory",
            "32m",
            "--memory-swap",
            "32m",
            IMAGE,
            "tail",
            "/dev/zero",
        ],
    );
    // Only SIGKILL gives 137, and only the OOM killer sends it here.
    assert_eq!(cli.wait(&id), 137);
    // Podman 4.3 with conmon on cgroup v1 reports OOMKilled=false even
    // with runc; docker's shim watches the cgroup's OOM events.
    if cli.kind == Kind::Docker {
        assert_eq!(cli.inspect(&id, "{{.State.OOMKilled}}"), "true");
    }
}

fn pids_limit(cli: &Cli, rt: &Runtime) {
    let id = cli.run_detached(
        rt,
        &[
            "--pids-limit",
            "10",
            IMAGE,
            "sh",
            "-c",
            "(for i in $(seq 20); do sleep 1000 & done); echo forked; exec sleep 1000",
        ],
    );
    // busybox sh exits when a fork fails: the subshell dies, the main
    // shell goes on.
    let logs = cli.wait_for_log(&id, "forked");
    assert!(
        logs.contains("can't fork"),
        "20 forks under pids 10: {logs}"
    );
    assert_eq!(host::cgroup_value(cli.pid(&id), "pids", "pids.max"), "10");
}

fn device(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &[
            "--device",
            "/dev/zero:/dev/nook-zero",
            IMAGE,
            "sh",
            "-c",
            "stat -c %F:%t:%T /dev/nook-zero; head -c 5 /dev/nook-zero | wc -c",
        ],
    );
    // /dev/zero is character device 1:5; reading it needs the device
    // cgroup to allow it.
    assert_eq!(out, "character special file:1:5\n5\n");
}

fn bind_mounts(cli: &Cli, rt: &Runtime) {
    let dir = cli.scratch.join(format!("bind-{}", rt.name));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create bind source");
    fs::write(dir.join("in"), "from the host\n").expect("write bind source file");
    let rw = format!("{}:/data", dir.display());
    let ro = format!("{}:/ro:ro", dir.display());
    let out = cli.run_rm_ok(
        rt,
        &[
            "-v",
            &rw,
            "-v",
            &ro,
            IMAGE,
            "sh",
            "-c",
            "cat /data/in; echo from the container > /data/out; touch /ro/x 2>&1; echo rc=$?",
        ],
    );
    assert!(out.starts_with("from the host\n"), "{out}");
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    let written = fs::read_to_string(dir.join("out")).unwrap_or_default();
    assert_eq!(written, "from the container\n");
}

fn tmpfs(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &[
            "--tmpfs",
            "/scratch:size=1m,mode=1770",
            IMAGE,
            "grep",
            " /scratch ",
            "/proc/mounts",
        ],
    );
    assert!(out.starts_with("tmpfs /scratch tmpfs"), "{out}");
    assert!(
        out.contains("size=1024k") && out.contains("mode=1770"),
        "{out}"
    );
}

fn ipc_host(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &["--ipc", "host", IMAGE, "readlink", "/proc/self/ns/ipc"],
    );
    assert_eq!(out.trim(), host::ns_link("self", "ipc"));
}

fn pid_host(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &["--pid", "host", IMAGE, "readlink", "/proc/self/ns/pid"],
    );
    assert_eq!(out.trim(), host::ns_link("self", "pid"));
}

fn uidmap(cli: &Cli, rt: &Runtime) {
    let out = cli.run_rm_ok(
        rt,
        &[
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            IMAGE,
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ],
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0 100000 65536", "0 100000 65536"], "{out}");
}

/// When the runtime fails, the engine shows the runtime's own message: the
/// runtime is first run directly on a bundle with the same missing command,
/// and the engine's error must contain what it said.
fn runtime_error_shown(cli: &Cli, rt: &Runtime) {
    const MISSING: &str = "/no/such/command";
    let own = runtime_own_error(rt, MISSING);
    let out = cli.run(rt, &["--rm", IMAGE, MISSING]);
    assert!(matches!(out.code(), Some(126 | 127)), "{out}");
    let shown = unescape_quotes(&format!("{}{}", out.stdout, out.stderr));
    assert!(
        shown.contains(&own),
        "the engine did not pass on {}'s message {own:?}: {out}",
        rt.name
    );
}

/// What the runtime itself says when `command` is missing: its error from
/// `exec:` to the end of the message, quotes unescaped, e.g.
/// `exec: "/x": stat /x: no such file or directory`.
pub fn runtime_own_error(rt: &Runtime, command: &str) -> String {
    let direct = Direct::with_binary(&rt.path);
    let bundle = Bundle::new(&[command]);
    let id = crate::common::unique_id("engine-error");
    let out = direct.run(&id, &bundle, &[]);
    out.assert_fail();
    let text = unescape_quotes(&out.stderr);
    let start = text
        .find("exec: ")
        .unwrap_or_else(|| panic!("{} printed no exec error: {out}", rt.name));
    let line = text[start..].lines().next().unwrap_or("");
    line.trim_end().trim_end_matches('"').to_string()
}

/// Log lines quote messages (`msg="exec: \"/x\": ..."`); compare text.
pub fn unescape_quotes(text: &str) -> String {
    text.replace("\\\"", "\"")
}
