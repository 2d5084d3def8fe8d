//! `nook run ID`: create + start, then (unless --detach) forward signals to
//! the init, wait for it, delete the container (unless --keep) and exit with
//! its status (128+N when killed by signal N).
//!
//! Every signal we forward, and SIGCHLD, is blocked before the container is
//! cloned and read from a signalfd afterwards: a container that exits at once
//! cannot lose its SIGCHLD, so `run` never hangs (the race youki and runc had).
use crate::cli::{GlobalOpts, RunArgs};
use crate::container::Container;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::AsFd;

pub fn run(g: &GlobalOpts, a: &RunArgs) -> Result<i32> {
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
    if !a.no_subreaper && !a.detach {
        // A container init forked by an intermediate process is reparented to us.
        nix::sys::prctl::set_child_subreaper(true).context("cannot become a subreaper")?;
    }
    let mut c = super::create::run(g, &a.id, &a.opts)?;
    if let Err(e) = crate::lifecycle::start(&c) {
        let _ = crate::lifecycle::kill_and_wait(&c);
        let _ = crate::lifecycle::delete(c, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    // Other commands (kill, state) must work while we wait.
    c.unlock();
    let code = wait_for_init(&c, &set)?;
    if !a.keep {
        let c = super::open_root(g)?.load_locked(&a.id)?;
        crate::lifecycle::delete(c, true)?;
    }
    Ok(code)
}

fn wait_for_init(c: &Container, set: &SigSet) -> Result<i32> {
    let init = c.state.pid;
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    loop {
        // Reap first: the init may have exited before we got here.
        if let Some(code) = reap(init)? {
            return Ok(code);
        }
        // The timeout only matters when the init is not our child (no SIGCHLD).
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => anyhow::bail!("poll: {e}"),
        }
        let Some(info) = sfd.read_signal().context("reading signals")? else {
            continue;
        };
        let sig = info.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(init, sig) };
        }
    }
}

/// Reap every exited child; Some(code) once the init is among them.
fn reap(init: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => {
                // Not our child (--no-subreaper with a forked init): we cannot
                // learn its status, only that it is gone.
                return Ok(if pid_alive(init) { None } else { Some(0) });
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
