//! A runtime command in the foreground (`run`, `exec`): it forwards the
//! signals it gets to the container process, relays a terminal, and exits
//! with the process's status.
//!
//! Every signal we forward, and SIGCHLD, is blocked before the process is
//! cloned and read from a signalfd afterwards: a process that exits at once
//! cannot lose its SIGCHLD, so the command never hangs (the race youki and
//! runc had).
use crate::console_relay;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Block every signal but the faults (for the signalfd of `wait_forwarding`);
/// the container process unblocks them before its execve.
pub fn block_forwarded_signals() -> Result<SigSet> {
    let mut set = SigSet::all();
    // Faults are delivered to the faulting thread; never block them.
    for s in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGSYS,
    ] {
        set.remove(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("cannot block signals")?;
    Ok(set)
}

/// Wait for `pid` (the container's init for `run`, the exec'd process for
/// `exec`) to exit, forwarding signals to it and (with a terminal relay)
/// copying between our stdio and the pty master. Returns its exit status,
/// 128+N when signal N killed it.
pub fn wait_forwarding(pid: i32, set: &SigSet, master: Option<&OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    let _raw = master.map(|m| {
        console_relay::copy_window_size(m.as_fd());
        console_relay::RawMode::enter()
    });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = true;
    loop {
        // Reap first: the process may have exited before we got here.
        if let Some(code) = reap(pid)? {
            if let Some(m) = master {
                drain(m.as_fd(), stdout.as_fd());
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        // The timeout only matters when the process is not our child (no SIGCHLD).
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => anyhow::bail!("poll: {e}"),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if let Some(m) = master {
            if ready.get(1) == Some(&true) {
                console_relay::pump(m.as_fd(), stdout.as_fd());
            }
            if ready.get(2) == Some(&true) && !console_relay::pump(stdin.as_fd(), m.as_fd()) {
                stdin_open = false;
            }
        }
        while let Some(info) = sfd.read_signal().context("reading signals")? {
            let sig = info.ssi_signo as i32;
            match (sig, master) {
                (libc::SIGCHLD, _) => {}
                (libc::SIGWINCH, Some(m)) => console_relay::copy_window_size(m.as_fd()),
                // SAFETY: kill(2) has no memory effects.
                _ => unsafe {
                    libc::kill(pid, sig);
                },
            }
        }
    }
}

/// Copy what the container wrote before it exited.
fn drain(master: BorrowedFd, out: BorrowedFd) {
    let _ = nix::fcntl::fcntl(
        master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while console_relay::pump_some(master, out) {}
}

/// Reap every exited child; Some(code) once `target` is among them.
fn reap(target: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == target => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == target => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => {
                // Not our child (--no-subreaper with a forked init): we cannot
                // learn its status, only that it is gone.
                return Ok(if pid_alive(target) { None } else { Some(0) });
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => anyhow::bail!("waitpid: {e}"),
        }
    }
}

fn pid_alive(pid: i32) -> bool {
    matches!(
        crate::container::process_start_time(pid),
        Some((_, crate::container::ProcessState::Alive))
    )
}
