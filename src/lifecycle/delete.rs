//! `delete`: a stopped or created container is removed; a running or paused
//! one only with --force, after it is killed. Removal takes the cgroup, runs
//! poststop hooks (failures are warnings) and removes the state directory.
use crate::cgroups::Manager;
use crate::container::{Container, Status};
use crate::hooks;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

pub fn delete(c: Container, force: bool) -> Result<()> {
    // One manager for the kill and the removal (building it reads the host's
    // cgroup layout).
    crate::timing::mark("delete: cgroup manager");
    let mgr = crate::cgroups::manager_for(&c.state.cgroup).ok();
    crate::timing::mark("delete: status");
    let status = c.status();
    crate::timing::mark("delete: kill");
    match status {
        Status::Stopped => {}
        Status::Created => kill_with(&c, mgr.as_deref())?,
        Status::Running | Status::Paused | Status::Creating => {
            if !force {
                bail!(
                    "cannot delete container {} that is not stopped: {status}",
                    c.state.id
                );
            }
            kill_with(&c, mgr.as_deref())?;
        }
    }
    crate::fault::point(crate::fault::DELETE_KILLED);
    crate::timing::mark("delete: cgroup destroy");
    if let Some(mgr) = &mgr {
        kill_leftovers(&c, mgr.as_ref())?;
        mgr.destroy()?;
    }
    crate::fault::point(crate::fault::DELETE_CGROUP_REMOVED);
    let state = hooks::state_json(
        &c.state.id,
        "stopped",
        0,
        &c.state.bundle,
        &c.state.annotations,
    );
    hooks::run_hooks_warn(
        "poststop",
        c.state
            .config
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().as_ref()),
        &state,
    );
    crate::timing::mark("delete: remove state");
    c.remove()
}

/// Processes still in the cgroup of a stopped container: children of an init
/// that was SIGKILLed without a pid namespace of its own, or what a `create`
/// that died half-way left. They are the container's, and the cgroup cannot
/// be removed while they live: SIGKILL them (thawing a frozen cgroup so the
/// signal is delivered) and wait until the cgroup is empty. With a pid
/// namespace of its own the kernel kills them when the init dies, so they are
/// only waited for (as runc, which signals the cgroup only without one).
fn kill_leftovers(c: &Container, mgr: &dyn Manager) -> Result<()> {
    let half_created = c.state.pid == 0;
    let signal_them = half_created || !c.state.new_pid_namespace;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = mgr.pids().unwrap_or_default();
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "container {}: processes {pids:?} are still in its cgroup after SIGKILL",
                c.state.id
            );
        }
        if signal_them {
            for pid in pids {
                // SAFETY: kill(2) has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if mgr.is_frozen().unwrap_or(false) {
            let _ = mgr.freeze(false);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILL the container and wait until its init is gone. Without a pid
/// namespace of its own, the init's death does not take the other processes
/// with it, so every process in the cgroup is killed too; a frozen cgroup is
/// thawed so the kill can be delivered.
pub fn kill_and_wait(c: &Container) -> Result<()> {
    let mgr = crate::cgroups::manager_for(&c.state.cgroup).ok();
    kill_with(c, mgr.as_deref())
}

fn kill_with(c: &Container, mgr: Option<&dyn Manager>) -> Result<()> {
    if c.init_alive() {
        // SAFETY: kill(2) has no memory effects.
        unsafe { libc::kill(c.state.pid, libc::SIGKILL) };
    }
    if let Some(mgr) = mgr {
        if !c.state.new_pid_namespace {
            for pid in mgr.pids().unwrap_or_default() {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if mgr.is_frozen().unwrap_or(false) {
            let _ = mgr.freeze(false);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.init_alive() {
        if Instant::now() > deadline {
            bail!("container init {} did not die after SIGKILL", c.state.pid);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
