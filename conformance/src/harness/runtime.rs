//! Driving one runtime binary: every command gets a private `--root`, stdio to files
//! (never pipes: a container inherits them and would hold a pipe open), and a timeout
//! after which the runtime process is killed by pid.

use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(15);

pub struct Runtime {
    pub name: String,
    pub path: PathBuf,
    /// Private state directory passed as `--root`.
    pub root: PathBuf,
    /// Where command output files go.
    pub scratch: PathBuf,
}

/// What one runtime command did.
pub struct Run {
    /// Exit status; None when it was killed (timeout or signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// A one-line description for failure details.
    pub fn describe(&self) -> String {
        let status = match (self.timed_out, self.code) {
            (true, _) => "timed out".to_string(),
            (false, Some(c)) => format!("exit {c}"),
            (false, None) => "killed by a signal".to_string(),
        };
        let err: String = self.stderr.trim().chars().take(300).collect();
        format!("{status}; stderr: {err}")
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Runtime {
    /// Run `RUNTIME --root ROOT ARGS...` with stdin from /dev/null (or `stdin`).
    pub fn cmd(&self, args: &[&str]) -> Run {
        self.cmd_with(args, None, TIMEOUT)
    }

    pub fn cmd_with(&self, args: &[&str], stdin: Option<&Path>, timeout: Duration) -> Run {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out_path = self.scratch.join(format!("cmd-{n}.out"));
        let err_path = self.scratch.join(format!("cmd-{n}.err"));
        let failed = |msg: String| Run {
            code: Some(-1),
            stdout: String::new(),
            stderr: msg,
            timed_out: false,
        };
        let (Ok(out), Ok(err)) = (File::create(&out_path), File::create(&err_path)) else {
            return failed(format!(
                "cannot create output files in {}",
                self.scratch.display()
            ));
        };
        let stdin = match stdin.map(File::open) {
            Some(Ok(f)) => Stdio::from(f),
            Some(Err(e)) => return failed(format!("open stdin: {e}")),
            None => Stdio::null(),
        };
        let mut command = Command::new(&self.path);
        command
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(stdin)
            .stdout(out)
            .stderr(err);
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return failed(format!("spawn {}: {e}", self.path.display())),
        };
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    // Kill only the runtime process we started, by its pid.
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let code = if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        };
        Run {
            code,
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
            timed_out,
        }
    }

    /// `state ID` parsed as JSON, or the failed run.
    pub fn state(&self, id: &str) -> Result<Value, Run> {
        let run = self.cmd(&["state", id]);
        if !run.ok() {
            return Err(run);
        }
        match serde_json::from_str(&run.stdout) {
            Ok(v) => Ok(v),
            Err(e) => Err(Run {
                code: Some(-1),
                stdout: run.stdout,
                stderr: format!("state output is not JSON: {e}"),
                timed_out: false,
            }),
        }
    }

    /// Remove a container whatever its status; used for cleanup, errors ignored.
    pub fn force_delete(&self, id: &str) {
        let run = self.cmd(&["delete", "--force", id]);
        if run.timed_out {
            eprintln!("# warning: {} delete --force {id} timed out", self.name);
        }
    }

    /// Poll `state` until the status is `want` or the timeout passes.
    pub fn wait_status(&self, id: &str, want: &str) -> Result<Value, String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.state(id) {
                Ok(v) if v["status"] == want => return Ok(v),
                Ok(v) => last = format!("status {}", v["status"]),
                Err(r) => last = r.describe(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("status never became {want:?} (last: {last})"))
    }
}
