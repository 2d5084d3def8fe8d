//! `nook create ID`: the init is left waiting for `start`.
use crate::cli::{CreateOpts, GlobalOpts};
use crate::container::Container;
use crate::launch::{self, CreateRequest};
use crate::spec::Bundle;
use anyhow::{bail, Context, Result};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

pub fn run(g: &GlobalOpts, id: &str, opts: &CreateOpts) -> Result<Container> {
    crate::timing::mark("create: load bundle");
    let bundle = crate::spec::load_bundle(opts.bundle.as_deref())?;
    create_from_bundle(g, id, opts, bundle, None)
}

/// process.terminal of a loaded bundle.
pub fn wants_terminal(bundle: &Bundle) -> bool {
    bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

/// Create from a loaded bundle. `console` is an already connected console
/// socket (`run` makes its own when it relays a terminal in the foreground);
/// otherwise --console-socket is connected here.
pub fn create_from_bundle(
    g: &GlobalOpts,
    id: &str,
    opts: &CreateOpts,
    mut bundle: Bundle,
    console: Option<OwnedFd>,
) -> Result<Container> {
    let terminal = wants_terminal(&bundle);
    let console = match (console, &opts.console_socket) {
        (Some(fd), _) => Some(fd),
        (None, Some(path)) if terminal => Some(connect_console_socket(path)?),
        (None, _) => None,
    };
    if terminal && console.is_none() {
        bail!("process.terminal is true: --console-socket is required to receive the pty");
    }
    let root = super::open_root(g)?;
    // The desktop layer names its proxy sockets after the container: an id
    // in use must fail before a second proxy replaces the first one's socket.
    // (An empty directory a killed create left does not count.)
    if crate::container::validate_id(id).is_ok()
        && root.container_dir(id).exists()
        && !root.remove_if_abandoned(id)?
    {
        bail!("container with id {id:?} already exists");
    }
    crate::timing::mark("create: desktop prepare");
    let desktop = crate::desktop::prepare(&mut bundle.spec, &root.path, id)?;
    crate::timing::mark("create: launch");
    let created = launch::create(CreateRequest {
        id: id.to_string(),
        bundle,
        root: &root,
        console_socket: console,
        pid_file: opts.pid_file.clone(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        systemd_cgroup: g.systemd_cgroup,
        rootless: super::rootless(g)?,
    })?;
    if let Some(desktop) = desktop {
        if let Err(e) = desktop.attach(created.container.state.pid) {
            let _ = crate::lifecycle::delete(created.container, true);
            return Err(e);
        }
    }
    Ok(created.container)
}

pub fn connect_console_socket(path: &std::path::Path) -> Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .with_context(|| format!("--console-socket {}: cannot connect", path.display()))?;
    Ok(stream.into())
}
