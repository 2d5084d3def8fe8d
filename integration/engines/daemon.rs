//! Private daemons (containerd, dockerd) started by a test and stopped by
//! their pid, and the process housekeeping around them: this test process
//! becomes a child subreaper, so the shims and conmons that daemonize are
//! re-parented to it and can be found, reaped and, if still running after
//! everything was removed, ended by pid.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon running in the background with its output in a log file.
pub struct Daemon {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Start `cmd` with stdout and stderr going to `log`, then wait until
    /// `ready` says it serves (e.g. its socket answers).
    pub fn start(name: &str, mut cmd: Command, log: &Path, ready: impl Fn() -> bool) -> Daemon {
        let file = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup daemon log"))
            .stderr(file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({cmd:?}): {e}"));
        let mut daemon = Daemon {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ready() {
                return daemon;
            }
            let exited = daemon
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log_text = daemon.log_tail();
                daemon.stop();
                panic!("{name} did not come up ({exited:?}); its log ends:\n{log_text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The last lines of the daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM by pid, wait up to 30 s for a clean shutdown, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} ignored SIGTERM for 30 s; killing pid {pid}", self.name);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Make this process the reaper of its orphaned descendants (shims and
/// conmon daemonize); on this machine PID 1 does not reap them.
pub fn become_subreaper() {
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

/// Reap our exited children; end (by pid) and report those still running
/// once everything was removed and the daemons stopped. `keep` are pids not
/// to touch (a daemon still needed).
pub fn reap_orphans(keep: &[i32]) -> Vec<String> {
    let me = std::process::id() as i32;
    let others = || -> Vec<i32> {
        children_of(me)
            .into_iter()
            .filter(|p| !keep.contains(p))
            .collect()
    };
    // A shim or conmon may need a moment to exit after its container went.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && others().iter().any(|p| process_alive(*p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut problems = Vec::new();
    for pid in others() {
        if process_alive(pid) {
            let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            problems.push(format!(
                "process {pid} ({}) still running; killed it",
                name.trim()
            ));
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        } else {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
    problems
}

/// True when PID exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Pids whose parent is `parent`, from /proc/PID/stat.
pub fn children_of(parent: i32) -> Vec<i32> {
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
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}
