//! A private containerd 1.6 (for ctr, and under dockerd): its own config
//! with root, state and the grpc/ttrpc sockets in a temporary directory and
//! the CRI plugin disabled, started with `containerd --config FILE` and
//! stopped by pid.
//!
//! ctr picks the runtime binary per container: `ctr run --runtime
//! io.containerd.runc.v2 --runc-binary PATH --runc-root DIR` stores
//! BinaryName and Root as the runc shim's options. The shim prefixes every
//! call with `--root R --log B/log.json --log-format json`, and on a failed
//! create shows the last "msg" of that JSON log.
//!
//! Still written outside the directory: the shims' sockets in
//! /run/containerd/s (a fixed path in containerd 1.6), ctr's stdio FIFOs in
//! /run/containerd/fifo (removed by ctr), and an empty default runc root
//! /run/containerd/runc/NAMESPACE (removed by the test).

use super::daemon::{reap_orphans, Daemon};
use super::matrix::Runtime;
use crate::common::{output_with_timeout, Output};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Containerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    daemon: Daemon,
}

impl Containerd {
    /// Start a private containerd with its files under `dir`.
    pub fn start(dir: &Path) -> Containerd {
        let socket = dir.join("containerd.sock");
        let config = dir.join("containerd.toml");
        let d = dir.display();
        let text = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
# Kubernetes' CRI would want CNI and a sandbox image: not for these tests.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
        );
        fs::write(&config, text).expect("write containerd.toml");
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(&config);
        let probe_socket = socket.clone();
        let daemon = Daemon::start("containerd", cmd, &dir.join("containerd.log"), move || {
            probe_socket.exists()
                && Command::new("ctr")
                    .arg("--address")
                    .arg(&probe_socket)
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
        });
        Containerd {
            dir: dir.to_path_buf(),
            socket,
            daemon,
        }
    }

    pub fn pid(&self) -> Option<i32> {
        self.daemon.pid()
    }

    pub fn log_tail(&self) -> String {
        self.daemon.log_tail()
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

/// `ctr` against the private containerd in one namespace.
pub struct Ctr {
    pub containerd: Containerd,
    pub namespace: String,
    pub image: String,
    pub scratch: PathBuf,
}

impl Ctr {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(&self.containerd.socket)
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args);
        cmd
    }

    pub fn exec(&self, args: &[&str]) -> Output {
        output_with_timeout(&mut self.command(args), None, TIMEOUT)
    }

    /// `ctr run` with the runtime chosen by --runc-binary and its state
    /// under the test directory (--runc-root); then FLAGS, the image, ID
    /// and the command.
    pub fn run_command(&self, rt: &Runtime, flags: &[&str], id: &str, args: &[&str]) -> Command {
        let root = self.containerd.dir.join("runc-root").join(rt.name);
        let root = root.to_string_lossy().into_owned();
        let path = rt.path.to_string_lossy().into_owned();
        let mut all = vec![
            "run",
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            &path,
            "--runc-root",
            &root,
        ];
        all.extend_from_slice(flags);
        all.push(&self.image);
        all.push(id);
        all.extend_from_slice(args);
        self.command(&all)
    }

    pub fn run(&self, rt: &Runtime, flags: &[&str], id: &str, args: &[&str]) -> Output {
        output_with_timeout(&mut self.run_command(rt, flags, id, args), None, TIMEOUT)
    }

    /// `ctr run` in the background (for cells that signal the task while
    /// ctr waits for it); finish with [`Background::finish`].
    pub fn run_background(
        &self,
        rt: &Runtime,
        flags: &[&str],
        id: &str,
        args: &[&str],
    ) -> Background {
        Background::spawn(self.run_command(rt, flags, id, args))
    }

    /// `ctr run -d`, then wait until the task is RUNNING; its pid.
    #[track_caller]
    pub fn run_detached(&self, rt: &Runtime, flags: &[&str], id: &str, args: &[&str]) -> i32 {
        let mut all = vec!["-d"];
        all.extend_from_slice(flags);
        self.run(rt, &all, id, args).assert_ok();
        self.wait_for_status(id, "RUNNING");
        self.task(id)
            .map(|(pid, _)| pid)
            .unwrap_or_else(|| panic!("task {id} vanished"))
    }

    /// (pid, status) of task `id` from `ctr task ls`.
    pub fn task(&self, id: &str) -> Option<(i32, String)> {
        let out = self.exec(&["task", "ls"]);
        out.assert_ok();
        out.stdout.lines().find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [task, pid, status] if *task == id => Some((pid.parse().ok()?, status.to_string())),
                _ => None,
            }
        })
    }

    #[track_caller]
    pub fn wait_for_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.task(id);
            if now.as_ref().map(|(_, s)| s.as_str()) == Some(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task {id} never became {status}; now {now:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Remove every task and container of the namespace.
    pub fn remove_all(&self) {
        let out = self.exec(&["task", "ls", "--quiet"]);
        for id in out.stdout.split_whitespace() {
            if self.task(id).map(|(_, s)| s == "PAUSED").unwrap_or(false) {
                let _ = self.exec(&["task", "resume", id]);
            }
            let _ = self.exec(&["task", "kill", "--signal", "SIGKILL", id]);
            let deadline = Instant::now() + Duration::from_secs(20);
            while self.task(id).map(|(_, s)| s != "STOPPED").unwrap_or(false)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.exec(&["task", "delete", "--force", id]);
        }
        let out = self.exec(&["containers", "ls", "--quiet"]);
        let ids: Vec<&str> = out.stdout.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["containers", "delete"];
            args.extend(ids);
            self.exec(&args).assert_ok();
        }
    }

    /// Remove everything, stop containerd, reap shims; what was left.
    pub fn clean_up(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.remove_all();
        let left = self.exec(&["containers", "ls", "--quiet"]);
        if !left.stdout.trim().is_empty() {
            problems.push(format!("containers left: {}", left.stdout.trim()));
        }
        let _ = self.exec(&["images", "rm", &self.image]);
        self.containerd.stop();
        problems.extend(reap_orphans(&[]));
        problems
    }
}

/// A command running in the background with its output in temp files.
pub struct Background {
    child: Child,
    stdout: File,
    stderr: File,
    command: String,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        let stdout = tempfile::tempfile().expect("temp file for stdout");
        let stderr = tempfile::tempfile().expect("temp file for stderr");
        let command = format!("{cmd:?}");
        cmd.stdin(Stdio::null())
            .stdout(stdout.try_clone().expect("dup"))
            .stderr(stderr.try_clone().expect("dup"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {command}: {e}"));
        Background {
            child,
            stdout,
            stderr,
            command,
        }
    }

    /// Wait for the command (killing it by pid after TIMEOUT): its output.
    pub fn finish(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status: ExitStatus = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not finish within {TIMEOUT:?}", self.command);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            command: self.command.clone(),
            status,
            stdout: read_all(&mut self.stdout),
            stderr: read_all(&mut self.stderr),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A cell that failed before finish(): end our ctr by its pid.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_all(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    text
}
