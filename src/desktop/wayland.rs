//! `run.nook.wayland`: the compositor's socket, bound read-only as a single
//! file in the private runtime dir, and WAYLAND_DISPLAY.
//!
//! A socket bound as a file keeps pointing at the old inode when the
//! compositor restarts: the container must be restarted too. Binding the
//! whole runtime dir instead would expose every other socket in it.
use super::Setup;
use anyhow::Result;

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    let Some(name) = setup.req.wayland.clone() else {
        return Ok(());
    };
    let host = setup.host_runtime_dir.join(&name);
    if setup.runtime_dir_socket("run.nook.wayland", &host, &name)? {
        setup.edits.set_env("WAYLAND_DISPLAY", name);
    }
    Ok(())
}
