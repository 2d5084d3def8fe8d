//! Driving the runtime under test: a private --root, a timeout on every call,
//! and a Drop guard that deletes every container it created and checks that
//! nothing was left behind.

use super::bundle::Bundle;
use super::command::{default_timeout, output_with_timeout, Output};
use super::procfs;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The runtime binary the tests drive: `NOOK_TEST_RUNTIME` when set (e.g.
/// /usr/sbin/runc, to check that a test is right), else the nook built by cargo.
pub fn runtime_binary() -> PathBuf {
    match std::env::var_os("NOOK_TEST_RUNTIME") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_nook")),
    }
}

/// target/<profile>/ of the running test binary (it is
/// target/<profile>/deps/NAME-HASH), for tests that build or find other
/// artifacts of the same cargo target dir.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf()
}

/// A container id unique in this test run: "nook-test-<pid>-<n>-<label>".
/// The prefix also names the cgroups a runtime creates for it by default.
pub fn unique_id(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("nook-test-{}-{n}-{label}", std::process::id())
}

/// One runtime binary with its own state directory (`--root`).
pub struct Runtime {
    binary: PathBuf,
    /// A kept temp dir: removed by [`procfs::remove_dir_safely`], never by
    /// a plain recursive delete that could cross a leftover mount.
    root: PathBuf,
    timeout: Duration,
    /// Ids of containers this guard created; force-deleted on drop.
    containers: Mutex<Vec<String>>,
}

impl Runtime {
    /// The runtime under test (see [`runtime_binary`]).
    pub fn new() -> Runtime {
        Runtime::with_binary(runtime_binary())
    }

    /// A specific binary, e.g. "/usr/sbin/runc" for a side-by-side check.
    pub fn with_binary(binary: impl Into<PathBuf>) -> Runtime {
        let root = tempfile::Builder::new()
            .prefix("nook-test-root-")
            .tempdir()
            .expect("create a temp dir for --root")
            .keep();
        Runtime {
            binary: binary.into(),
            root,
            timeout: default_timeout(),
            containers: Mutex::new(Vec::new()),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Runtime {
        self.timeout = timeout;
        self
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The private `--root` state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// "nook", "runc", "crun": the file name of the binary.
    pub fn name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// A Command for `BINARY --root ROOT ARGS...`, to adjust (env, cwd) and
    /// run with [`output_with_timeout`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Run `BINARY --root ROOT ARGS...` with no stdin.
    pub fn exec(&self, args: &[&str]) -> Output {
        output_with_timeout(&mut self.command(args), None, self.timeout)
    }

    /// Run `BINARY --root ROOT ARGS...` with `stdin` as standard input.
    pub fn exec_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        output_with_timeout(&mut self.command(args), Some(stdin), self.timeout)
    }

    /// Remember `id` so that drop force-deletes it. create/run do this
    /// themselves; call it when a test creates a container another way.
    pub fn track(&self, id: &str) {
        let mut ids = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }

    /// `create --bundle B [EXTRA...] ID`.
    pub fn create(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        self.track(id);
        let bundle_path = bundle.path().to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bundle_path];
        args.extend_from_slice(extra);
        args.push(id);
        self.exec(&args)
    }

    /// `run --bundle B [EXTRA...] ID` (foreground unless EXTRA has --detach).
    pub fn run(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        self.track(id);
        let bundle_path = bundle.path().to_string_lossy().into_owned();
        let mut args = vec!["run", "--bundle", &bundle_path];
        args.extend_from_slice(extra);
        args.push(id);
        self.exec(&args)
    }

    pub fn start(&self, id: &str) -> Output {
        self.exec(&["start", id])
    }

    pub fn state(&self, id: &str) -> Output {
        self.exec(&["state", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.exec(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.exec(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.exec(&["delete", "--force", id])
    }

    /// The parsed `state ID` JSON; fails the test if state fails.
    #[track_caller]
    pub fn state_json(&self, id: &str) -> Value {
        let out = self.state(id);
        out.assert_ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state {id}: not JSON ({e}): {out}"))
    }

    /// The `status` field of `state ID` ("created", "running", "stopped"...).
    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        self.state_json(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The init pid from `state ID`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let state = self.state_json(id);
        state["pid"]
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or_else(|| panic!("state {id} has no pid: {state}"))
    }

    /// Wait until `state ID` reports `status` (or fail after the timeout).
    #[track_caller]
    pub fn wait_for_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + self.timeout;
        loop {
            let now = self.status(id);
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} still {now:?} after {:?}, waiting for {status:?}",
                self.timeout
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Force-delete every tracked container and report what was left behind.
    fn clean_up(&self) -> Vec<String> {
        let ids = std::mem::take(&mut *self.containers.lock().unwrap_or_else(|e| e.into_inner()));
        let mut problems = Vec::new();
        for id in ids {
            let state = self.state(&id);
            // The init pid and its cgroups, if the container still exists.
            let pid = serde_json::from_str::<Value>(&state.stdout)
                .ok()
                .and_then(|s| s["pid"].as_i64())
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p > 0);
            let cgroups = pid.map(procfs::cgroup_dirs_of).unwrap_or_default();
            if state.success() {
                let out = self.delete_force(&id);
                if !out.success() {
                    problems.push(format!("delete --force {id} failed: {out}"));
                }
            }
            if let Some(pid) = pid {
                if !wait_until(Duration::from_secs(5), || !procfs::process_alive(pid)) {
                    problems.push(format!("{id}: init pid {pid} still alive after delete"));
                }
            }
            for dir in cgroups {
                // The kernel may need a moment to let go of an exited task.
                if !wait_until(Duration::from_secs(2), || !dir.exists()) {
                    problems.push(format!("{id}: cgroup {} left behind", dir.display()));
                }
            }
            if self.root().join(&id).exists() {
                problems.push(format!(
                    "{id}: state dir {} left behind",
                    self.root().join(&id).display()
                ));
            }
        }
        let leaked = procfs::remove_dir_safely(self.root());
        if !leaked.is_empty() {
            problems.push(format!("mounts left under --root: {leaked:?}"));
        }
        problems.extend(host_devices_changed());
        problems
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let problems = self.clean_up();
        if problems.is_empty() {
            return;
        }
        let report = format!(
            "{} left things behind:\n  {}",
            self.name(),
            problems.join("\n  ")
        );
        // A second panic while unwinding would abort the whole test binary;
        // report only, and let the first failure speak.
        if thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

/// The host's own device nodes must never be changed by a container (a
/// runtime that chowns a bind-mounted /dev/null in a user namespace changes
/// the host's). Checked after every runtime guard, so the test that did it
/// is the one that fails.
fn host_devices_changed() -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ]
    .iter()
    .filter_map(|dev| {
        let meta = std::fs::metadata(dev).ok()?;
        let mode = meta.mode() & 0o7777;
        (meta.uid() != 0 || meta.gid() != 0 || mode != 0o666).then(|| {
            format!(
                "host {dev} changed: owner {}:{} mode {mode:o}",
                meta.uid(),
                meta.gid()
            )
        })
    })
    .collect()
}

/// Poll `done` every 10 ms for up to `limit`; true once it holds.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// End processes a test started as process-group leaders (`process_group(0)`):
/// SIGTERM to each group, newest first, then SIGKILL to any group whose
/// leader has not exited within 5 s. Their helpers (weston's clients, …) go
/// with the group.
pub fn stop_process_groups(children: &mut [Child]) {
    for child in children.iter().rev() {
        // SAFETY: kill(2) of a process group this test started.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
    }
    for child in children.iter_mut() {
        let pid = child.id() as i32;
        let gone = wait_until(Duration::from_secs(5), || {
            child.try_wait().map(|s| s.is_some()).unwrap_or(true)
        });
        if !gone {
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}
