//! Running a command with a timeout and collecting its output.
//!
//! stdout and stderr go to temporary files, not pipes: a detached container
//! inherits them and may hold them open long after the runtime exits, and a
//! reader waiting for end-of-file on a pipe would hang with it.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command left: its exit status and everything it wrote.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code, or None when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panic with the whole output unless the command exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panic with the whole output if the command exited 0.
    #[track_caller]
    pub fn assert_fail(&self) -> &Self {
        assert!(!self.success(), "command unexpectedly succeeded: {self}");
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// The command ran past its deadline and was killed (SIGKILL, by its pid).
#[derive(Debug)]
pub struct TimedOut {
    pub after: Duration,
    /// What it had written (status is the SIGKILL it died of).
    pub partial: Output,
}

/// Run `cmd` with `stdin` (empty when None) and wait at most `timeout`.
pub fn try_output_with_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, TimedOut> {
    let command = describe(cmd);
    let stdout = tempfile::tempfile().expect("create a temp file for stdout");
    let stderr = tempfile::tempfile().expect("create a temp file for stderr");
    let stdin = match stdin {
        None => Stdio::null(),
        Some(bytes) => {
            let mut file = tempfile::tempfile().expect("create a temp file for stdin");
            file.write_all(bytes).expect("write stdin temp file");
            file.seek(SeekFrom::Start(0))
                .expect("rewind stdin temp file");
            Stdio::from(file)
        }
    };
    cmd.stdin(stdin)
        .stdout(stdout.try_clone().expect("dup stdout file"))
        .stderr(stderr.try_clone().expect("dup stderr file"));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));

    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, false),
            Ok(None) => {}
            Err(e) => panic!("waiting for `{command}`: {e}"),
        }
        if started.elapsed() >= timeout {
            // Child::kill sends SIGKILL to this child's pid only.
            let _ = child.kill();
            let status = child
                .wait()
                .unwrap_or_else(|e| panic!("reaping `{command}`: {e}"));
            break (status, true);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let output = Output {
        command,
        status,
        stdout: read_all(stdout),
        stderr: read_all(stderr),
    };
    if timed_out {
        Err(TimedOut {
            after: timeout,
            partial: output,
        })
    } else {
        Ok(output)
    }
}

/// Like [`try_output_with_timeout`], but a timeout fails the test.
#[track_caller]
pub fn output_with_timeout(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    match try_output_with_timeout(cmd, stdin, timeout) {
        Ok(out) => out,
        Err(t) => panic!("timed out after {:?} and killed: {}", t.after, t.partial),
    }
}

/// The timeout for one runtime call: `NOOK_TEST_TIMEOUT` seconds, default 30.
pub fn default_timeout() -> Duration {
    let secs = std::env::var("NOOK_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

fn read_all(mut file: File) -> String {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .expect("rewind output temp file");
    file.read_to_end(&mut bytes).expect("read output temp file");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}
