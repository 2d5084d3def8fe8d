//! `nook restore ID`: restore a container from a checkpoint, then (unless
//! --detach) wait for it like `run`: forward signals, delete it when it
//! exits and exit with its status.
use crate::checkpoint::{self, Criu, RestoreRequest};
use crate::cli::{GlobalOpts, RestoreArgs};
use crate::foreground;
use anyhow::{Context, Result};

pub fn run(g: &GlobalOpts, a: &RestoreArgs) -> Result<i32> {
    let set = foreground::block_forwarded_signals()?;
    if !a.no_subreaper && !a.detach {
        // Children the restored init leaves behind are reparented to us.
        nix::sys::prctl::set_child_subreaper(true).context("cannot become a subreaper")?;
    }
    let bundle = crate::spec::load_bundle(a.bundle.as_deref())?;
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
    })?;
    if a.detach {
        return Ok(0);
    }
    let mut c = restored.container;
    c.unlock();
    let code = foreground::wait_forwarding(c.state.pid, &set, None)?;
    let c = root.load_locked(&a.id)?;
    crate::lifecycle::delete(c, true)?;
    Ok(code)
}
