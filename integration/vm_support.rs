//! Support shared by the VM test targets (cgroup2_vm.rs, systemd_vm.rs,
//! checkpoint_vm.rs): where the scripts and the VM cache are, running a
//! command with a time limit while echoing its output, and judging the
//! "ok|not ok RUNTIME CHECK" lines a VM's test script prints.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository (the VM scripts are under scripts/vm/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/vm` next to the test binaries (CARGO_TARGET_TMPDIR is
/// `target/tmp`): the cache the scripts/vm/*-build.sh scripts use by default.
pub fn vm_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("vm")
}

/// What a command printed (stdout and stderr, merged by line) and how it
/// ended; `status` is None when it ran past its time limit and was killed.
pub struct Run {
    pub lines: Vec<String>,
    pub status: Option<ExitStatus>,
}

/// Run `command`, echoing its output to stderr (the test harness shows it when
/// the test fails), within `limit`. On timeout, `on_timeout` gets to end what
/// the child started (qemu), then the child itself is killed.
pub fn run_with_limit(mut command: Command, limit: Duration, on_timeout: impl Fn()) -> Run {
    let (sender, receiver) = mpsc::channel::<String>();
    let mut child: Child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                // The serial console ends lines with \r\n.
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);

    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) => {
                eprintln!("{line}");
                lines.push(line);
            }
            // Both streams closed: the command (and qemu) are done.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("timed out after {limit:?}: ending {command:?}");
                on_timeout();
                // Give the child a moment to reap what on_timeout ended (so
                // qemu is not left a zombie), then end it too.
                let grace = Instant::now() + Duration::from_secs(5);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
                return Run {
                    lines,
                    status: None,
                };
            }
        }
    }
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("waiting for {command:?}: {e}"));
    Run {
        lines,
        status: Some(status),
    }
}

/// The verdict on the lines the VM printed: every (runtime, check) pair must
/// have an `ok` line, and no line may be `not ok`. Returns the problems.
pub fn problems(lines: &[String], runtimes: &[&str], checks: &[&str]) -> Vec<String> {
    let mut problems: Vec<String> = lines
        .iter()
        .filter(|line| line.starts_with("not ok "))
        .cloned()
        .collect();
    for runtime in runtimes {
        for check in checks {
            let reported = |verdict: &str| {
                let prefix = format!("{verdict} {runtime} {check}");
                lines
                    .iter()
                    .any(|line| line == &prefix || line.starts_with(&format!("{prefix} ")))
            };
            if !reported("ok") && !reported("not ok") {
                problems.push(format!("no result for {runtime} {check}"));
            }
        }
    }
    problems
}
