//! Podman smoke test: podman 4.3 drives the runtime under test through conmon,
//! offline, with a private configuration and storage in a temporary directory.
//!
//! Run alone with `cargo test --test podman`. The runtime is the built nook,
//! or `NOOK_TEST_RUNTIME` (e.g. `NOOK_TEST_RUNTIME=/usr/sbin/runc` to check
//! the test itself against the reference runtime).
//!
//! What stays outside the temporary directory (podman's own choice):
//! /var/lib/containers/cache (blob info cache of `podman import`), the
//! runtime's default state dir (/run/nook, /run/runc: podman 4.3 passes no
//! --root), and short-lived files in /tmp.

mod common;

use common::procfs::{self, remove_dir_safely};
use common::{output_with_timeout, runtime_binary, Output};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Podman does a lot per call (storage, locks, conmon); be generous.
const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);
const IMAGE: &str = "localhost/busybox";

/// A podman with private config and storage, driving one runtime.
struct Podman {
    /// Kept temp dir; removed on drop without crossing leftover mounts.
    dir: PathBuf,
    runtime: PathBuf,
    /// Containers started with -d, to check the runtime forgot them.
    detached: Vec<String>,
}

impl Podman {
    fn new(runtime: PathBuf) -> Podman {
        become_subreaper();
        let dir = tempfile::Builder::new()
            .prefix("nook-test-podman-")
            .tempdir()
            .expect("create podman temp dir")
            .keep();
        let podman = Podman {
            dir,
            runtime,
            detached: Vec::new(),
        };
        podman.write_config();
        podman
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let name = self
            .runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "nook".into());
        // static_dir and volume_path stay at their defaults (graphroot/libpod,
        // graphroot/volumes), which are inside the temp dir: conmon's exit
        // command (`podman container cleanup`) gets --root but no
        // --static-dir, so a static_dir set here would make it look for the
        // container in another database, and every `run --rm`/`wait` would
        // hang for 20 s.
        let containers_conf = format!(
            r#"[containers]
# bridge networking would change the host's iptables and ip_forward
netns = "none"
# the VM's hard RLIMIT_NOFILE is 20000 and CAP_SYS_RESOURCE is not in the
# bounding set: podman's defaults would make every runtime fail
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# no systemd as PID 1
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
lock_type = "file"
tmp_dir = "{d}/tmp"

# Lets `podman --runtime {name}` find the runtime by name.
[engine.runtimes]
{name} = ["{rt}"]

[network]
network_config_dir = "{d}/net"
"#,
            rt = self.runtime.display()
        );
        let storage_conf = format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"
        );
        write(&self.dir.join("containers.conf"), &containers_conf);
        write(&self.dir.join("storage.conf"), &storage_conf);
        write(
            &self.dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        );
    }

    /// `podman --runtime RT ARGS...` with the private configuration.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--runtime").arg(&self.runtime).args(args);
        self.set_env(&mut cmd);
        cmd
    }

    fn set_env(&self, cmd: &mut Command) {
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.dir.join("registries.conf"),
            )
            .env("TMPDIR", self.dir.join("tmp"));
    }

    fn exec(&self, args: &[&str]) -> Output {
        output_with_timeout(&mut self.command(args), None, PODMAN_TIMEOUT)
    }

    fn import_busybox(&self) {
        fs::create_dir_all(self.dir.join("tmp")).expect("create podman tmp dir");
        let tar = common::rootfs::shared_rootfs_tar();
        self.exec(&["import", &tar.to_string_lossy(), IMAGE])
            .assert_ok();
    }

    /// `podman run -d IMAGE ARGS...`: the full container id.
    fn run_detached(&mut self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d", IMAGE];
        all.extend_from_slice(args);
        let out = self.exec(&all);
        out.assert_ok();
        let id = out.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "podman run -d printed no container id: {out}");
        self.detached.push(id.clone());
        id
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        let out = self.exec(&["inspect", "--format", format, id]);
        out.assert_ok();
        out.stdout.trim().to_string()
    }

    /// `RT state ID` with the runtime's default --root, as podman uses it.
    fn runtime_state(&self, id: &str) -> Output {
        output_with_timeout(
            Command::new(&self.runtime).args(["state", id]),
            None,
            Duration::from_secs(30),
        )
    }

    /// Remove containers, images and storage; report what was left behind.
    fn clean_up(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let out = self.exec(&["rm", "--all", "--force"]);
        if !out.success() {
            problems.push(format!("podman rm -af failed: {out}"));
        }
        let _ = self.exec(&["rmi", "--all", "--force"]);
        for id in &self.detached {
            if self.runtime_state(id).success() {
                problems.push(format!(
                    "{} still knows container {id}",
                    self.runtime.display()
                ));
            }
        }
        problems.extend(reap_orphans());
        // containers/storage keeps graph/overlay mounted (a private bind
        // mount of itself) after the last container: expected, not a leak.
        let mounts = remove_dir_safely(&self.dir);
        if !mounts.is_empty() {
            eprintln!("unmounted podman storage mounts: {mounts:?}");
        }
        problems
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let problems = self.clean_up();
        if problems.is_empty() {
            return;
        }
        let report = format!(
            "podman test left things behind:\n  {}",
            problems.join("\n  ")
        );
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// conmon daemonizes; as a subreaper this test process becomes its parent
/// (and that of any other orphan of ours) instead of PID 1, which on this
/// machine does not reap orphans, so leftovers can be found and reaped.
fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer flag and
    // touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(
        rc,
        0,
        "prctl(PR_SET_CHILD_SUBREAPER): {}",
        std::io::Error::last_os_error()
    );
}

/// Reap our exited orphans (conmon after its container is gone); end and
/// report any that still run. Only pids whose parent is this process are
/// touched, and only after every command this test ran has finished.
fn reap_orphans() -> Vec<String> {
    let me = std::process::id() as i32;
    let mut problems = Vec::new();
    // conmon may need a moment after `podman rm` to exit.
    let _ = common::runtime::wait_until(Duration::from_secs(10), || {
        children_of(me)
            .iter()
            .all(|pid| !procfs::process_alive(*pid))
    });
    for pid in children_of(me) {
        if procfs::process_alive(pid) {
            let name = procfs::proc_file(pid, "comm").trim().to_string();
            problems.push(format!("process {pid} ({name}) still running; killed it"));
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        } else {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
    problems
}

/// Pids whose parent is `parent`, from /proc/PID/stat.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // Fields after ")": state, ppid, ...
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Quote a word for sh -c.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn run_rm_echo(podman: &Podman) {
    let out = podman.exec(&["run", "--rm", IMAGE, "echo", "hi"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n", "{out}");
}

fn run_rm_exit_code(podman: &Podman) {
    let out = podman.exec(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), Some(3), "{out}");
}

/// `podman run -it` with a real terminal: script(1) gives podman a pty, and
/// the runtime must hand conmon the container's pty through --console-socket.
fn run_interactive_tty(podman: &Podman) {
    let podman_line = [
        "podman",
        "--runtime",
        &podman.runtime.to_string_lossy(),
        "run",
        "-it",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        // The sleep: podman 4.3 with conmon can lose the output of an -it
        // container that exits at once (seen with runc too, 1 run in 4).
        "tty; sleep 1; exit 5",
    ]
    .iter()
    .map(|w| shell_quote(w))
    .collect::<Vec<_>>()
    .join(" ");
    let mut cmd = Command::new("script");
    // -e: exit with the child's status; -q: no banner; log to /dev/null.
    cmd.args(["-qec", &podman_line, "/dev/null"]);
    podman.set_env(&mut cmd);
    let out = output_with_timeout(&mut cmd, None, PODMAN_TIMEOUT);
    assert_eq!(out.code(), Some(5), "{out}");
    assert!(
        out.stdout.contains("/dev/pts/"),
        "tty printed no pts: {out}"
    );
}

/// `podman stop` on a process that ignores SIGTERM (sleep as PID 1): podman
/// sends TERM, then KILL after --time.
fn run_detached_then_stop(podman: &mut Podman) {
    let id = podman.run_detached(&["sleep", "1000"]);
    assert_eq!(podman.inspect(&id, "{{.State.Status}}"), "running");
    let state = podman.runtime_state(&id);
    state.assert_ok();
    assert!(
        state.stdout.contains("\"running\""),
        "runtime state: {state}"
    );

    podman.exec(&["stop", "--time", "2", &id]).assert_ok();
    let code = podman.inspect(&id, "{{.State.ExitCode}}");
    assert!(
        code == "137" || code == "143",
        "exit code after stop: {code}"
    );
    podman.exec(&["rm", &id]).assert_ok();
}

/// `podman exec` (conmon calls the runtime's `exec` with --process,
/// --detach and --pid-file): output, exit status, the container's namespace.
fn exec_in_a_running_container(podman: &mut Podman) {
    let id = podman.run_detached(&["sleep", "1000"]);
    let out = podman.exec(&["exec", &id, "sh", "-c", "echo hi; hostname"]);
    out.assert_ok();
    assert_eq!(out.stdout, format!("hi\n{}\n", &id[..12]), "{out}");
    let out = podman.exec(&["exec", &id, "sh", "-c", "exit 4"]);
    assert_eq!(out.code(), Some(4), "{out}");
    podman.exec(&["rm", "--force", &id]).assert_ok();
}

fn run_detached_then_kill_and_rm(podman: &mut Podman) {
    let id = podman.run_detached(&["sleep", "1000"]);
    podman.exec(&["kill", &id]).assert_ok();
    let out = podman.exec(&["wait", &id]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "137", "{out}");
    podman.exec(&["rm", &id]).assert_ok();
    let out = podman.exec(&["ps", "--all", "--quiet", "--no-trunc"]);
    out.assert_ok();
    assert!(!out.stdout.contains(&id), "{id} still listed: {out}");
}

/// One test, steps in order: they share one podman setup, and as a
/// subreaper this process must not run other tests' children concurrently.
#[test]
fn podman_drives_the_runtime() {
    let runtime = runtime_binary();
    assert!(runtime.exists(), "runtime {} missing", runtime.display());
    let mut podman = Podman::new(runtime);
    podman.import_busybox();

    run_rm_echo(&podman);
    run_rm_exit_code(&podman);
    run_interactive_tty(&podman);
    run_detached_then_stop(&mut podman);
    run_detached_then_kill_and_rm(&mut podman);
    exec_in_a_running_container(&mut podman);
}
