//! `start`: release the init blocked on the exec FIFO, then run poststart hooks.
use crate::container::{Container, Status};
use crate::hooks;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;

pub fn start(c: &Container) -> Result<()> {
    crate::timing::mark("start: status");
    match c.status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running => bail!("cannot start an already running container"),
        Status::Paused => bail!("cannot start a paused container"),
        Status::Creating => bail!("cannot start a container that is being created"),
    }
    crate::timing::mark("start: release init");
    release_init(c)?;
    crate::timing::mark("start: released");
    crate::fault::point(crate::fault::START_RELEASED);
    let state = hooks::state_json(
        &c.state.id,
        "running",
        c.state.pid,
        &c.state.bundle,
        &c.state.annotations,
    );
    // runtime.md#lifecycle step 9: a failing poststart hook is an error and
    // the container is stopped (delete then runs poststop as usual).
    let poststart = c
        .state
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().as_ref());
    if let Err(e) = hooks::run_hooks("poststart", poststart, &state) {
        let _ = super::kill_and_wait(c);
        return Err(e);
    }
    Ok(())
}

/// Open the FIFO for reading (which lets the init's blocking open for
/// writing return), read its byte, then read to EOF: the init keeps its end
/// open until execve, so EOF means the user process has been executed (or the
/// init died). Non-blocking with a liveness check, so a dead init makes
/// `start` fail instead of hang.
fn release_init(c: &Container) -> Result<()> {
    let path = c.exec_fifo();
    let fifo = nix::fcntl::open(
        &path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    let mut released = false;
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {
                if !c.init_alive() {
                    if released {
                        return Ok(());
                    }
                    bail!("cannot start: the container init has exited");
                }
            }
            Ok(_) => {
                let mut buf = [0u8; 1];
                match nix::unistd::read(&fifo, &mut buf) {
                    Ok(1) => {
                        released = true;
                        // The FIFO's presence is what "created" means: gone
                        // the moment the init is released, so a `start` killed
                        // while waiting for the execve leaves an honest
                        // "running" (and a second start an error, not a hang).
                        let _ = std::fs::remove_file(&path);
                    }
                    // EOF: no writer left. Before the byte, no writer ever
                    // came (the init died); after it, the init has exec'd.
                    Ok(_) if released => return Ok(()),
                    Ok(_) if !c.init_alive() => {
                        bail!("cannot start: the container init has exited")
                    }
                    // EOF before the init opened its end: keep waiting.
                    Ok(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                    Err(nix::errno::Errno::EAGAIN) => continue,
                    Err(e) => bail!("cannot read {}: {e}", path.display()),
                }
            }
            Err(e) => bail!("cannot wait on {}: {e}", path.display()),
        }
    }
}
