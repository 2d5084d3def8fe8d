//! `nook run ID`: create + start, then (unless --detach) forward signals to
//! the init, wait for it, delete the container (unless --keep) and exit with
//! its status (128+N when killed by signal N).
//!
//! Signals are blocked before the container is cloned and forwarded from a
//! signalfd afterwards (see `foreground`).
use crate::cli::{GlobalOpts, RunArgs};
use crate::console_relay;
use crate::foreground;
use anyhow::{Context, Result};

pub fn run(g: &GlobalOpts, a: &RunArgs) -> Result<i32> {
    let set = foreground::block_forwarded_signals()?;
    if !a.no_subreaper && !a.detach {
        // A container init forked by an intermediate process is reparented to us.
        nix::sys::prctl::set_child_subreaper(true).context("cannot become a subreaper")?;
    }
    // A terminal in the foreground without --console-socket: nook takes the
    // pty master itself and relays it (runc does the same).
    crate::timing::mark("run: load bundle");
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
    crate::timing::mark("run: start");
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
    crate::timing::mark("run: wait");
    let code = foreground::wait_forwarding(c.state.pid, &set, master.as_ref())?;
    crate::timing::mark("run: delete");
    if !a.keep {
        let c = super::open_root(g)?.load_locked(&a.id)?;
        crate::lifecycle::delete(c, true)?;
    }
    Ok(code)
}
