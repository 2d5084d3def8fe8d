//! Running an engine client on a real terminal: a pty pair opened here, the
//! slave as the client's controlling terminal and stdio, the master read
//! (and written, to type into the container) by the test.

use nix::pty::openpty;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct PtyRun {
    pub status: ExitStatus,
    /// Everything the terminal showed (echo of typed input included).
    pub output: String,
}

/// Run `cmd` on a new pty. `script` is a list of (wait for this text, then
/// type this); each step waits for its text in the output seen since the
/// previous step. Panics (with the output so far) after `timeout`.
pub fn run_on_pty(cmd: &mut Command, script: &[(&str, &str)], timeout: Duration) -> PtyRun {
    let pty = openpty(None, None).expect("openpty");
    let slave = pty.slave;
    cmd.stdin(Stdio::from(slave.try_clone().expect("dup pty slave")))
        .stdout(Stdio::from(slave.try_clone().expect("dup pty slave")))
        .stderr(Stdio::from(slave.try_clone().expect("dup pty slave")));
    // SAFETY: between fork and exec the closure calls only setsid(2) and
    // ioctl(2), both async-signal-safe, and touches no memory but errno.
    unsafe {
        cmd.pre_exec(|| {
            // A new session whose controlling terminal is the pty (fd 0),
            // as a terminal emulator would set it up: engines check isatty
            // and put this terminal into raw mode.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = Reaped(cmd.spawn().expect("start a command on the pty"));
    let child = &mut child.0;
    // Only the child holds the slave now, so a read returns EIO once the
    // child and everything it passed the terminal to are gone.
    drop(slave);
    let mut master = File::from(pty.master);

    let started = Instant::now();
    let mut seen = Vec::new();
    let mut step = 0;
    let mut step_from = 0;
    let mut buf = [0u8; 4096];
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16)).unwrap_or(0);
        let mut hung_up = false;
        if ready > 0 {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => hung_up = true,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        if let Some((wait_for, send)) = script.get(step) {
            let recent = String::from_utf8_lossy(&seen[step_from..]);
            if recent.contains(wait_for) {
                master
                    .write_all(send.as_bytes())
                    .expect("type into the pty");
                step += 1;
                step_from = seen.len();
            }
        }
        if exited.is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some((status, Instant::now()));
            }
        }
        if let Some((status, at)) = exited {
            // Drain what is still buffered, then stop: a daemon the client
            // started may keep the slave open.
            if hung_up || ready == 0 || at.elapsed() > Duration::from_millis(500) {
                return PtyRun {
                    status,
                    output: String::from_utf8_lossy(&seen).into_owned(),
                };
            }
        }
        if started.elapsed() > timeout {
            // Reaped (ended by its pid) on the way out.
            panic!(
                "{:?} on a pty: no exit within {timeout:?} (script step {step}); fd {} showed:\n{}",
                cmd,
                master.as_raw_fd(),
                String::from_utf8_lossy(&seen)
            );
        }
    }
}

/// The client on the pty, ended by its pid and reaped when the test leaves
/// early (timeout, a failed write); a no-op once it has exited.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
