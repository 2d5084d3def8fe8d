//! `nook run ID`: create + start, then (unless --detach) forward signals to
//! the init, wait for it, delete the container (unless --keep) and exit with
//! its status (128+N when killed by signal N).
//!
//! Every signal we forward, and SIGCHLD, is blocked before the container is
//! cloned and read from a signalfd afterwards: a container that exits at once
//! cannot lose its SIGCHLD, so `run` never hangs (the race youki and runc had).
use crate::cli::{GlobalOpts, RunArgs};
use crate::console_relay;
use crate::container::Container;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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
    // A terminal in the foreground without --console-socket: nook takes the
    // pty master itself and relays it (runc does the same).
    let bundle = crate::spec::load_bundle(a.opts.bundle.as_deref())?;
    let relay =
        a.opts.console_socket.is_none() && !a.detach && super::create::wants_terminal(&bundle);
    let (mut c, master) = if relay {
        let (ours, theirs) = console_relay::console_pair()?;
        let c = super::create::create_from_bundle(g, &a.id, &a.opts, bundle, Some(theirs))?;
        (c, Some(console_relay::receive_master(&ours)?))
    } else {
        let c = super::create::create_from_bundle(g, &a.id, &a.opts, bundle, None)?;
        (c, None)
    };
    if let Err(e) = crate::lifecycle::start(&c) {
        // delete --force kills the init and waits for it.
        let _ = crate::lifecycle::delete(c, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    // Other commands (kill, state) must work while we wait.
    c.unlock();
    let code = wait_for_init(&c, &set, master.as_ref())?;
    if !a.keep {
        let c = super::open_root(g)?.load_locked(&a.id)?;
        crate::lifecycle::delete(c, true)?;
    }
    Ok(code)
}

/// Wait for the init to exit, forwarding signals and (with a terminal
/// relay) copying between our stdio and the pty master.
fn wait_for_init(c: &Container, set: &SigSet, master: Option<&OwnedFd>) -> Result<i32> {
    let init = c.state.pid;
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
        // Reap first: the init may have exited before we got here.
        if let Some(code) = reap(init)? {
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
        // The timeout only matters when the init is not our child (no SIGCHLD).
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
                    libc::kill(init, sig);
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
