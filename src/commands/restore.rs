//! `nook restore ID`: restore a container from a checkpoint, then (unless
//! --detach) wait for it like `run`: forward signals, delete it when it
//! exits and exit with its status.
use crate::checkpoint::{self, Criu, RestoreRequest};
use crate::cli::{GlobalOpts, RestoreArgs};
use crate::console_relay;
use crate::foreground;
use anyhow::{Context, Result};

pub fn run(g: &GlobalOpts, a: &RestoreArgs) -> Result<i32> {
    let set = foreground::block_forwarded_signals()?;
    if !a.no_subreaper && !a.detach {
        // Children the restored init leaves behind are reparented to us.
        nix::sys::prctl::set_child_subreaper(true).context("cannot become a subreaper")?;
    }
    let bundle = crate::spec::load_bundle(a.bundle.as_deref())?;
    // A terminal: its new pty master goes to --console-socket, or, in the
    // foreground without one, to nook itself, which relays it as `run` does.
    let terminal = super::create::wants_terminal(&bundle);
    let mut relay = None;
    let console_socket = match &a.console_socket {
        Some(path) if terminal => Some(super::create::connect_console_socket(path)?),
        None if terminal && !a.detach => {
            let (ours, theirs) = console_relay::console_pair()?;
            relay = Some(ours);
            Some(theirs)
        }
        _ => None,
    };
    let root = super::open_root(g)?;
    let restored = checkpoint::restore(RestoreRequest {
        id: a.id.clone(),
        bundle,
        root: &root,
        criu: Criu::new(g.criu.as_deref()),
        options: super::checkpoint::criu_options(&a.criu)?,
        pid_file: a.pid_file.clone(),
        systemd_cgroup: g.systemd_cgroup,
        rootless: super::rootless(g)?,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
        console_socket,
        no_pivot: a.no_pivot,
    })?;
    if a.detach {
        return Ok(0);
    }
    let mut c = restored.container;
    let master = match &relay {
        Some(ours) => match console_relay::receive_master(ours) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = crate::lifecycle::delete(c, true);
                return Err(e);
            }
        },
        None => None,
    };
    c.unlock();
    let code = foreground::wait_forwarding(c.state.pid, &set, master.as_ref())?;
    let c = root.load_locked(&a.id)?;
    crate::lifecycle::delete(c, true)?;
    Ok(code)
}
