//! `exec` through the real binary on real bundles: the exec'd process joins
//! every namespace and the cgroup of the container's init, gets the flags'
//! process fields, exits with its own status, and errors are runc's
//! ("exec failed: ...", status 255). Run with NOOK_TEST_RUNTIME=/usr/sbin/runc
//! to check the tests against runc 1.1.
mod common;

use common::procfs::{cgroup_dirs_of, ns_inode, proc_file, process_alive, status_field};
use common::{output_with_timeout, unique_id, Bundle, ConsoleSocket, Output, Runtime};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// A container started with `run --detach` whose init sleeps.
struct Running {
    rt: Runtime,
    _bundle: Bundle,
    id: String,
    pid: i32,
}

impl Running {
    #[track_caller]
    fn new(label: &str) -> Running {
        Running::with_config(label, |_| {})
    }

    #[track_caller]
    fn with_config(label: &str, edit: impl FnOnce(&mut Value)) -> Running {
        let rt = Runtime::new();
        let mut bundle = Bundle::new(&["sleep", "1000"]);
        bundle.edit_config(edit);
        let id = unique_id(label);
        rt.run(&id, &bundle, &["--detach"]).assert_ok();
        let pid = rt.pid(&id);
        Running {
            rt,
            _bundle: bundle,
            id,
            pid,
        }
    }

    /// `exec [FLAGS...] ID ARGS...`.
    fn exec(&self, flags: &[&str], args: &[&str]) -> Output {
        let mut all = vec!["exec"];
        all.extend_from_slice(flags);
        all.push(&self.id);
        all.extend_from_slice(args);
        self.rt.exec(&all)
    }

    /// `exec ID sh -c SCRIPT`, which must succeed; its stdout.
    #[track_caller]
    fn sh(&self, flags: &[&str], script: &str) -> String {
        let out = self.exec(flags, &["sh", "-c", script]);
        out.assert_ok();
        out.stdout
    }

    /// A host path inside the container's /dev/shm (a writable tmpfs).
    fn shm(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/dev/shm/{name}", self.pid))
    }
}

fn is_runc(rt: &Runtime) -> bool {
    rt.name() == "runc"
}

#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pid file the runtime wrote.
#[track_caller]
fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read pid file {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file {}: {text:?}: {e}", path.display()))
}

/// Kills a process this test started through `exec -d`, by pid, on drop.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) of a pid this test's exec started; no memory effects.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// Compares every namespace in `kinds` and the cgroups of `pid` with the init's.
#[track_caller]
fn assert_joined(c: &Running, pid: i32, kinds: &[&str]) {
    for kind in kinds {
        assert_eq!(
            ns_inode(pid, kind),
            ns_inode(c.pid, kind),
            "{kind} namespace of the exec'd process"
        );
        assert_ne!(
            ns_inode(pid, kind),
            ns_inode(std::process::id() as i32, kind),
            "{kind}: the container should have its own"
        );
    }
    assert_eq!(proc_file(pid, "cgroup"), proc_file(c.pid, "cgroup"));
}

/// `exec -d --pid-file F ID sleep 1000`: the pid of the exec'd sleep.
#[track_caller]
fn exec_sleeper(c: &Running) -> (i32, KillOnDrop, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("exec.pid");
    let out = c.exec(
        &["-d", "--pid-file", pid_file.to_str().unwrap()],
        &["sleep", "1000"],
    );
    out.assert_ok();
    assert_eq!(out.stdout, "", "exec -d prints nothing");
    let pid = read_pid(&pid_file);
    (pid, KillOnDrop(pid), dir)
}

// The exec'd process is in the init's pid, mount, network, ipc, uts, cgroup
// and user namespaces (with uid mappings) and in its cgroup.
#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let c = Running::with_config("joins", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({ "type": "cgroup" }));
        ns.push(json!({ "type": "user" }));
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    });
    let (pid, _kill, _dir) = exec_sleeper(&c);
    assert_joined(
        &c,
        pid,
        &["pid", "mnt", "net", "ipc", "uts", "cgroup", "user"],
    );
    // Root of the user namespace: host uid 100000.
    let status = proc_file(pid, "status");
    assert_eq!(
        status_field(&status, "Uid").as_deref(),
        Some("100000\t100000\t100000\t100000")
    );
    // In the cgroup namespace, the container's cgroup is the root.
    let inside = c.sh(&[], "cat /proc/self/cgroup");
    assert!(
        inside.lines().all(|l| l.ends_with(":/")),
        "cgroup paths inside a cgroup namespace: {inside}"
    );
}

// A time namespace (config-linux.md#namespaces, linux.timeOffsets) is joined
// too: the exec'd process sees the init's offsets. runc 1.1 has no time
// namespace support, so this one checks nook only.
#[test]
fn exec_joins_the_time_namespace() {
    let rt = Runtime::new();
    if is_runc(&rt) {
        eprintln!("skipped: runc 1.1 does not support time namespaces");
        return;
    }
    drop(rt);
    let c = Running::with_config("timens", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({ "type": "time" }));
        c["linux"]["timeOffsets"] = json!({ "boottime": { "secs": 5000000, "nanosecs": 0 } });
    });
    let (pid, _kill, _dir) = exec_sleeper(&c);
    assert_joined(&c, pid, &["time", "pid", "mnt"]);
    let offsets = c.sh(&[], "cat /proc/self/timens_offsets");
    assert!(offsets.contains("5000000"), "{offsets}");
}

// The foreground exec exits with the process's status, 128+N for signal N.
#[test]
fn exit_status_of_the_process() {
    let c = Running::new("status");
    for (script, want) in [("exit 0", 0), ("exit 3", 3), ("kill -9 $$", 137)] {
        let out = c.exec(&[], &["sh", "-c", script]);
        assert_eq!(out.code(), Some(want), "{script}: {out}");
    }
    let out = c.exec(&[], &["sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.contains("err"), "{out}");
}

// SIGTERM to a foreground `exec` reaches the process.
#[test]
fn signals_are_forwarded() {
    let c = Running::new("signals");
    let script = "trap 'exit 42' TERM; touch /dev/shm/ready; while true; do sleep 0.05; done";
    let mut child =
        c.rt.command(&["exec", &c.id, "sh", "-c", script])
            .spawn()
            .unwrap();
    let ready = c.shm("ready");
    wait_for("the trap to be installed", || ready.exists());
    // SAFETY: signalling the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

// Without --process the exec'd process is the container's, with the flags
// over it: --cwd, -e (appends, a name given again wins), -u uid:gid and -g.
#[test]
fn flags_set_the_process_fields() {
    let c = Running::new("flags");
    let out = c.sh(
        &[
            "--cwd",
            "/tmp",
            "-e",
            "FOO=bar",
            "-e",
            "TERM=dumb",
            "-u",
            "1000:1001",
            "-g",
            "5",
            "-g",
            "6",
        ],
        "pwd; echo $FOO $TERM $PATH; id -u; id -g; id -G; echo home=$HOME",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "/tmp",
            "bar dumb /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "1000",
            "1001",
            "1001 5 6",
            "home=/"
        ],
        "{out}"
    );
    // Without flags: the container's user, cwd, and HOME from /etc/passwd.
    let out = c.sh(&[], "pwd; id -u; echo home=$HOME");
    assert_eq!(out, "/\n0\nhome=/root\n");
}

// --process FILE is the whole process: its args, env (no TERM from the
// container), cwd and user; flags that set process fields are not needed.
#[test]
fn process_file() {
    let c = Running::new("procfile");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("process.json");
    let process = json!({
        "args": ["sh", "-c", "pwd; id -u; env | sort"],
        "env": ["PATH=/bin", "ONLY=this", "HOME=/h"],
        "cwd": "/etc",
        "user": { "uid": 7, "gid": 7 }
    });
    std::fs::write(&path, process.to_string()).unwrap();
    let out = c.exec(&["--process", path.to_str().unwrap()], &[]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], ["/etc", "7"], "{out}");
    assert!(lines.contains(&"ONLY=this"), "{out}");
    assert!(!lines.iter().any(|l| l.starts_with("TERM=")), "{out}");
}

// --cap adds a capability (CapEff shows it); --no-new-privs sets NoNewPrivs.
#[test]
fn cap_and_no_new_privs() {
    let c = Running::with_config("caps", |c| c["process"]["noNewPrivileges"] = false.into());
    let cap_eff = |flags: &[&str]| -> u64 {
        let out = c.sh(flags, "grep CapEff /proc/self/status");
        let hex = out.trim().trim_start_matches("CapEff:").trim().to_string();
        u64::from_str_radix(&hex, 16).unwrap_or_else(|e| panic!("{out}: {e}"))
    };
    const SYS_ADMIN: u64 = 1 << 21;
    assert_eq!(cap_eff(&[]) & SYS_ADMIN, 0);
    assert_ne!(cap_eff(&["--cap", "CAP_SYS_ADMIN"]) & SYS_ADMIN, 0);
    let nnp = |flags: &[&str]| c.sh(flags, "grep NoNewPrivs /proc/self/status");
    assert!(nnp(&[]).contains("0"), "{}", nnp(&[]));
    assert!(nnp(&["--no-new-privs"]).contains("1"));
}

// --preserve-fds N passes fds 3..3+N; without it they are closed.
#[test]
fn preserve_fds() {
    let c = Running::new("fds");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "preserved\n").unwrap();
    let run = |flags: &str| {
        let line = format!(
            "exec 3<{}; exec {} --root {} exec {flags} {} sh -c 'cat <&3'",
            file.display(),
            c.rt.binary().display(),
            c.rt.root().display(),
            c.id
        );
        output_with_timeout(
            Command::new("bash").args(["-c", &line]),
            None,
            Duration::from_secs(30),
        )
    };
    let out = run("--preserve-fds 1");
    out.assert_ok();
    assert_eq!(out.stdout, "preserved\n");
    run("").assert_fail();
}

// -d returns at once with the pid in --pid-file; the process runs on.
#[test]
fn detach_writes_the_pid_file() {
    let c = Running::new("detach");
    let (pid, _kill, _dir) = exec_sleeper(&c);
    assert!(process_alive(pid));
    assert_eq!(ns_inode(pid, "pid"), ns_inode(c.pid, "pid"));
    assert!(proc_file(pid, "cmdline").starts_with("sleep"));
}

// -t with --console-socket: the pty master goes to the socket and the
// process's stdio is the pty.
#[test]
fn tty_with_console_socket() {
    let c = Running::new("ttysock");
    let socket = ConsoleSocket::new();
    let out = c.exec(
        &[
            "-d",
            "-t",
            "--console-socket",
            socket.path().to_str().unwrap(),
        ],
        &["sh", "-c", "tty; test -t 0 && echo stdin-is-tty; sleep 1"],
    );
    out.assert_ok();
    let master = socket.receive_master(Duration::from_secs(10));
    let text = common::console::read_pty_until(master, "stdin-is-tty", Duration::from_secs(10));
    assert!(text.contains("/dev/pts/"), "{text:?}");
    assert!(text.contains("stdin-is-tty"), "{text:?}");
}

// -t in the foreground without a console socket: the runtime relays the pty
// (driven here through script(1), which gives it a terminal).
#[test]
fn tty_relayed_in_the_foreground() {
    let c = Running::new("ttyrelay");
    let line = format!(
        "{} --root {} exec -t {} sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 5'",
        c.rt.binary().display(),
        c.rt.root().display(),
        c.id
    );
    let out = output_with_timeout(
        Command::new("script").args(["-qec", &line, "/dev/null"]),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(5), "{out}");
    let text = out.stdout.replace('\r', "");
    assert!(text.contains("/dev/pts/"), "{out}");
    assert!(text.contains("stdin-is-tty\n"), "{out}");
}

// runc allows exec in a created (not yet started) container.
#[test]
fn exec_in_a_created_container() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("created");
    rt.create(&id, &bundle, &[]).assert_ok();
    let out = rt.exec(&["exec", &id, "echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(rt.status(&id), "created");
}

#[track_caller]
fn assert_exec_failed(out: &Output, want: &str) {
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(out.stderr.contains("exec failed"), "{out}");
    assert!(out.stderr.contains(want), "want {want:?} in: {out}");
}

// Errors: a stopped container, an unknown id, a bad --user, a missing
// --process file, a missing program, no command, a bad --cgroup.
#[test]
fn errors_are_runcs() {
    let c = Running::new("errors");
    assert_exec_failed(&c.exec(&["-u", "abc"], &["true"]), "abc");
    assert_exec_failed(&c.exec(&["-u", "1:x"], &["true"]), "x");
    assert_exec_failed(
        &c.exec(&["--process", "/nonexistent/process.json"], &[]),
        "/nonexistent/process.json",
    );
    assert_exec_failed(&c.exec(&[], &["no-such-program"]), "no-such-program");
    assert_exec_failed(&c.exec(&[], &[]), "args");
    assert_exec_failed(&c.exec(&["--cgroup", "a:b:c"], &["true"]), "a:b:c");
    assert_exec_failed(
        &c.exec(&["--cgroup", "/../.."], &["true"]),
        "not a sub cgroup path",
    );
    assert_exec_failed(
        &c.rt.exec(&["exec", "no-such-container", "true"]),
        "does not exist",
    );

    c.rt.kill(&c.id, "KILL").assert_ok();
    wait_for("the container to stop", || c.rt.status(&c.id) == "stopped");
    assert_exec_failed(&c.exec(&[], &["true"]), "stopped");
}

/// Freezes a container's freezer cgroup directly (v1), thawing it on drop.
struct Frozen(PathBuf);

impl Frozen {
    fn new(init: i32) -> Frozen {
        let dir = cgroup_dirs_of(init)
            .into_iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/freezer"))
            .expect("the container's freezer cgroup");
        std::fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
        let frozen = Frozen(dir);
        wait_for("the freezer", || frozen.state() == "FROZEN");
        frozen
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.0.join("freezer.state"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
    }
}

// A paused container refuses exec unless --ignore-paused; with it, the
// process waits frozen and runs once the container is thawed.
#[test]
fn paused_container_needs_ignore_paused() {
    let c = Running::new("paused");
    let frozen = Frozen::new(c.pid);
    assert_eq!(c.rt.status(&c.id), "paused");
    assert_exec_failed(&c.exec(&[], &["true"]), "paused");

    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let out_file = std::fs::File::create(&out_path).unwrap();
    let mut child =
        c.rt.command(&["exec", "--ignore-paused", &c.id, "echo", "thawed"])
            .stdout(out_file)
            .spawn()
            .unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exec finished in a frozen container"
    );
    drop(frozen);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "thawed\n");
}

// --cgroup CONTROLLER:PATH runs the process in an existing sub-cgroup.
#[test]
fn cgroup_flag_selects_a_sub_cgroup() {
    let c = Running::new("subcg");
    let pids_dir = cgroup_dirs_of(c.pid)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids"))
        .expect("the container's pids cgroup");
    let sub = pids_dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    struct RemoveDir(PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _guard = RemoveDir(sub.clone());
    let out = c.sh(&["--cgroup", "pids:sub"], "cat /proc/self/cgroup");
    let pids_line = out
        .lines()
        .find(|l| l.contains(":pids:"))
        .unwrap_or_else(|| panic!("no pids line in {out}"));
    assert!(pids_line.ends_with("/sub"), "{out}");
    let memory_line = out.lines().find(|l| l.contains(":memory:")).unwrap();
    assert!(!memory_line.ends_with("/sub"), "{out}");
    assert_exec_failed(&c.exec(&["--cgroup", "memory:sub"], &["true"]), "sub");
}

// CVE-2019-5736 / CVE-2016-9962: nothing in the container can reach the
// runtime's binary: every process visible in the container's /proc while
// an exec runs is a container program, and the exec'd process's exe is
// the program it runs.
#[test]
fn runtime_is_not_reachable_from_the_container() {
    let c = Running::new("dumpable");
    let (pid, _kill, _dir) = exec_sleeper(&c);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, Path::new("/bin/busybox"));
    // A foreground exec in progress while another lists every process.
    let mut running =
        c.rt.command(&["exec", &c.id, "sh", "-c", "touch /dev/shm/up; sleep 1000"])
            .spawn()
            .unwrap();
    let up = c.shm("up");
    wait_for("the foreground exec", || up.exists());
    let listing = c.sh(
        &[],
        "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(readlink $p/exe)\"; done",
    );
    let _ = running.kill();
    let _ = running.wait();
    let runtime =
        c.rt.binary()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
    let lines: Vec<&str> = listing.lines().collect();
    assert!(
        lines.len() >= 4,
        "init, sleeper, sh and the lister: {listing}"
    );
    for line in lines {
        assert!(!line.contains(&runtime), "{line} in:\n{listing}");
    }
}

// Hooks belong to the container's lifecycle: exec runs none.
#[test]
fn exec_runs_no_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let hook = json!([{ "path": "/bin/sh", "args": ["sh", "-c", format!("echo hook >> {}", log.display())] }]);
    let c = Running::with_config("hooks", |c| {
        c["hooks"] = json!({ "prestart": hook, "createRuntime": hook, "poststart": hook });
    });
    let before = std::fs::read_to_string(&log).unwrap();
    c.sh(&[], "true");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), before);
}

// A container in its own user namespace that joined, by path, a network
// namespace owned by the host's user namespace: exec joins that one before
// the container's user namespace (inside it, it would have no rights over it).
// runc 1.1.5 gets this wrong ("failed to setns into net namespace: Operation
// not permitted"; runc 1.2 joins in two passes), so this checks nook only.
#[test]
fn exec_joins_a_namespace_the_user_namespace_does_not_own() {
    if is_runc(&Runtime::new()) {
        eprintln!("skipped: runc 1.1.5 fails to setns into such a namespace");
        return;
    }
    let mut holder = Command::new("unshare")
        .args(["--net", "sleep", "1000"])
        .spawn()
        .unwrap();
    let holder_pid = holder.id() as i32;
    let _kill = KillOnDrop(holder_pid);
    wait_for("the network namespace holder", || {
        ns_inode(holder_pid, "net") != ns_inode(std::process::id() as i32, "net")
    });
    let c = Running::with_config("foreignnet", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "network" {
                n["path"] = format!("/proc/{holder_pid}/ns/net").into();
            }
        }
        ns.push(json!({ "type": "user" }));
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        // sysfs and cgroupfs cannot be mounted from a user namespace that
        // does not own the network namespace: bind /sys instead (as rootless).
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({ "destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] });
            }
        }
    });
    let (pid, _kill_exec, _dir) = exec_sleeper(&c);
    assert_eq!(ns_inode(pid, "net"), ns_inode(holder_pid, "net"));
    assert_joined(&c, pid, &["user", "pid", "mnt"]);
    let _ = holder.kill();
    let _ = holder.wait();
}
