//! The desktop layer: `run.nook.*` annotations give a container the user's
//! Wayland display, a filtered D-Bus, audio, X11, the GPU and fonts, the way
//! Flatpak gives them to an app (see nook-desktop(7)).
//!
//! [`prepare`] is called once by create, before the container is cloned. It
//! parses the annotations ([`annotations`]), finds who the container process
//! is on the host ([`identity`]), checks every host path without following
//! symlinks ([`host_path`]) and turns the request into ordinary config.json
//! edits ([`edits`]): a private tmpfs XDG_RUNTIME_DIR (`/run/user/<uid>`,
//! 0700, owned by the process uid) with each granted socket bind-mounted
//! read-only as a single file, environment variables, device nodes with
//! their cgroup rules, and supplementary groups.
//!
//! Sockets are bound by path: a descriptor opened here belongs to the
//! runtime's mount namespace, and the init (in its own) cannot bind from it
//! (EINVAL). The checked object is held open until the init exists, and the
//! path was checked component by component just before the clone; the
//! session user, who owns the runtime dir, could swap a name in that window,
//! but only for a file they can already reach. With a user namespace, the
//! container's root must be able to traverse the host runtime dir (0700 and
//! owned by the session user): map the session user to the container's root
//! or use a runtime without a user namespace.
//!
//! The one helper process is the D-Bus filter ([`proxy`]): started here as
//! the session user, handed the init's pidfd by [`Session::attach`] once the
//! init exists, and gone when the init is gone (exit, kill, delete), when
//! create fails, or when the runtime is killed half-way.
pub mod annotations;
mod audio;
mod dbus;
pub mod edits;
mod fonts;
mod gpu;
pub mod host_path;
pub mod identity;
pub mod proxy;
mod wayland;
mod x11;

use annotations::Request;
use anyhow::{bail, Context, Result};
use edits::Edits;
use host_path::Kind;
use identity::Identity;
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What create keeps until the init exists.
#[derive(Debug)]
pub struct Session {
    proxy: Option<proxy::Proxy>,
    /// Host files the container's mounts hold; removed on attach or drop.
    remove: Vec<PathBuf>,
    /// O_PATH descriptors of the host sockets the mounts name.
    _held: Vec<OwnedFd>,
}

impl Session {
    /// The container init exists: tie the helpers' lifetime to it.
    pub fn attach(mut self, init_pid: i32) -> Result<()> {
        if let Some(p) = self.proxy.take() {
            p.attach(init_pid)?;
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for path in &self.remove {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// State shared by the resource modules while they build the edits.
pub(crate) struct Setup<'a> {
    pub req: &'a Request,
    pub ident: Identity,
    /// The host runtime dir (`run.nook.host-runtime-dir`).
    pub host_runtime_dir: PathBuf,
    /// Its owner: the session user, as nook sees it (under rootless Podman,
    /// uid 0 of the user's namespace).
    pub session_uid: u32,
    pub session_gid: u32,
    /// The session user's uid outside nook's user namespace: the uid the
    /// buses see when a process of the user connects.
    pub session_outer_uid: u32,
    /// The owner, as nook sees it, of files that belong to the host's root
    /// (0, or the overflow uid 65534 in rootless Podman's namespace).
    pub host_root: u32,
    /// nook's --root, for the few host files the layer writes.
    pub state_root: PathBuf,
    /// Short name for this container's proxy sockets.
    pub short_id: String,
    pub edits: Edits,
    /// Sockets for the private runtime dir: (held fd, host path, name inside).
    runtime_dir_sockets: Vec<(OwnedFd, PathBuf, String)>,
    /// Other binds: (held fd, host path, destination).
    other_binds: Vec<(OwnedFd, PathBuf, PathBuf)>,
    pub proxy: Option<proxy::Proxy>,
    /// Host files written for this container, removed once it exists (its
    /// bind mounts keep them) or when create fails.
    pub remove_after_create: Vec<PathBuf>,
}

impl Setup<'_> {
    /// The private XDG_RUNTIME_DIR inside the container.
    pub fn container_runtime_dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/user/{}", self.ident.uid))
    }

    /// Check the host socket `path` (owned by the session user) and bind it
    /// as `name` in the private runtime dir. A missing socket is a warning
    /// and `false`, as in Flatpak.
    pub fn runtime_dir_socket(&mut self, what: &str, path: &Path, name: &str) -> Result<bool> {
        self.runtime_dir_entry(what, path, Kind::Socket, &[self.session_uid], name)
    }

    /// A regular file nook wrote (owned by `owner`) bound as `name` in the
    /// private runtime dir.
    pub fn runtime_dir_file(&mut self, path: &Path, name: &str) -> Result<bool> {
        let owner = self.ident.host_uid;
        self.runtime_dir_entry(name, path, Kind::File, &[owner], name)
    }

    fn runtime_dir_entry(
        &mut self,
        what: &str,
        path: &Path,
        kind: Kind,
        owners: &[u32],
        name: &str,
    ) -> Result<bool> {
        match host_path::check(path, kind, owners).with_context(|| what.to_string())? {
            Some(c) => {
                self.runtime_dir_sockets
                    .push((c.fd, path.to_path_buf(), name.to_string()));
                Ok(true)
            }
            None => {
                crate::logging::warn(&format!(
                    "{what}: {} does not exist; the container gets no {what}",
                    path.display()
                ));
                Ok(false)
            }
        }
    }

    /// Check the host `path` and bind it read-only at `destination`.
    pub fn bind(
        &mut self,
        what: &str,
        path: &Path,
        kind: Kind,
        owners: &[u32],
        destination: PathBuf,
    ) -> Result<bool> {
        match host_path::check(path, kind, owners).with_context(|| what.to_string())? {
            Some(c) => {
                self.other_binds
                    .push((c.fd, path.to_path_buf(), destination));
                Ok(true)
            }
            None => {
                crate::logging::warn(&format!(
                    "{what}: {} does not exist; the container gets no {what}",
                    path.display()
                ));
                Ok(false)
            }
        }
    }
}

impl Drop for Setup<'_> {
    /// A failed prepare removes what it wrote (finish takes the list over
    /// on success).
    fn drop(&mut self) {
        for path in &self.remove_after_create {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Apply the `run.nook.*` annotations of `spec` to it. `None` when there are
/// none. `root` (nook's --root) and `id` name the proxy sockets.
pub fn prepare(spec: &mut Spec, root: &Path, id: &str) -> Result<Option<Session>> {
    let Some(all) = spec.annotations().as_ref() else {
        return Ok(None);
    };
    let req = annotations::parse(all)?;
    if req.is_empty() {
        return Ok(None);
    }
    let ident = identity::of(spec);
    if ident.host_uid == u32::MAX {
        bail!(
            "run.nook.*: process.user.uid {} is not mapped by linux.uidMappings",
            ident.uid
        );
    }
    // Under rootless Podman nook runs as uid 0 of the user's namespace:
    // the runtime dir is named after the user's uid outside it.
    let Some(outer_uid) = crate::linux::userns::outer_uid(ident.host_uid) else {
        bail!(
            "run.nook.*: process.user.uid {} maps to uid {} of nook's user namespace, which is not mapped outside it",
            ident.uid,
            ident.host_uid
        );
    };
    let host_runtime_dir = req
        .host_runtime_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{outer_uid}")));
    // Any owner: the owner of the runtime dir is the session user.
    let Some(dir) = host_path::open_no_follow(&host_runtime_dir)
        .with_context(|| format!("run.nook.host-runtime-dir {}", host_runtime_dir.display()))?
    else {
        bail!(
            "run.nook.host-runtime-dir {}: does not exist",
            host_runtime_dir.display()
        );
    };
    let st = nix::sys::stat::fstat(&dir)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        bail!(
            "run.nook.host-runtime-dir {}: not a directory",
            host_runtime_dir.display()
        );
    }
    if req.host_runtime_dir.is_none() && st.st_uid != ident.host_uid {
        bail!(
            "{}: owned by uid {}, not by the container process's host uid {} (set run.nook.host-runtime-dir)",
            host_runtime_dir.display(),
            crate::linux::userns::outer_uid(st.st_uid).unwrap_or(st.st_uid),
            outer_uid
        );
    }
    let session_outer_uid = crate::linux::userns::outer_uid(st.st_uid).unwrap_or(st.st_uid);
    let mut setup = Setup {
        req: &req,
        ident,
        host_runtime_dir,
        session_uid: st.st_uid,
        session_gid: st.st_gid,
        session_outer_uid,
        host_root: crate::linux::userns::host_root_uid(),
        short_id: proxy::short_id(root, id),
        state_root: root.to_path_buf(),
        edits: Edits::default(),
        runtime_dir_sockets: Vec::new(),
        other_binds: Vec::new(),
        proxy: None,
        remove_after_create: Vec::new(),
    };
    wayland::add(&mut setup)?;
    audio::add(&mut setup)?;
    gpu::add(&mut setup, spec)?;
    fonts::add(&mut setup)?;
    x11::add(&mut setup)?;
    // Last, so most errors come before a process exists; a failure after it
    // still ends the proxy (dropping it closes the supervisor's socket).
    dbus::add(&mut setup)?;
    finish(spec, setup)
}

/// Turn the collected sockets into mounts (the tmpfs before the binds into
/// it) and apply every edit to the spec.
fn finish(spec: &mut Spec, mut setup: Setup<'_>) -> Result<Option<Session>> {
    let mut held = Vec::new();
    let mut edits = std::mem::take(&mut setup.edits);
    let mut mounts = std::mem::take(&mut edits.mounts);
    let mut first = Edits::default();
    if !setup.runtime_dir_sockets.is_empty() {
        let crt = setup.container_runtime_dir();
        first.tmpfs(&crt, 0o700, setup.ident.uid, setup.ident.gid)?;
        edits.set_env("XDG_RUNTIME_DIR", crt.display().to_string());
        for (fd, path, name) in std::mem::take(&mut setup.runtime_dir_sockets) {
            first.bind_ro(&path, &crt.join(&name))?;
            held.push(fd);
        }
    }
    // Directories made by the modules (the X11 tmpfs) before the binds into them.
    first.mounts.append(&mut mounts);
    for (fd, path, dest) in std::mem::take(&mut setup.other_binds) {
        first.bind_ro(&path, &dest)?;
        held.push(fd);
    }
    edits.mounts = first.mounts;
    edits.apply(spec)?;
    Ok(Some(Session {
        proxy: setup.proxy.take(),
        remove: std::mem::take(&mut setup.remove_after_create),
        _held: held,
    }))
}
