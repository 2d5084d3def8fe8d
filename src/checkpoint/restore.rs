//! `nook restore`: what `create` + `start` do, with `criu restore` in place
//! of the clone: reserve the id, make the cgroup, put criu into it before it
//! runs, give criu the rootfs as a mount point, the external mounts' host
//! paths and our stdio in place of the dumped pipes, then record the
//! restored init in state.json. If any step fails, everything made so far
//! (restored processes, cgroup, mounts, state directory) is removed.

use super::criu::Criu;
use super::options::{config_file_args, CriuOptions};
use super::{descriptors, mounts};
use crate::cgroups::host::{detect, HostPaths, Layout};
use crate::cgroups::{self, CgroupSpec, Manager};
use crate::container::{process_start_time, rfc3339_now, Container, Root, State};
use crate::spec::Bundle;
use anyhow::{anyhow, bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct RestoreRequest<'a> {
    pub id: String,
    pub bundle: Bundle,
    pub root: &'a Root,
    pub criu: Criu,
    pub options: CriuOptions,
    pub pid_file: Option<PathBuf>,
    pub systemd_cgroup: bool,
    pub rootless: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

pub struct Restored {
    pub container: Container,
}

/// The directory in the container's state dir where the rootfs is bound for
/// criu: CRIU wants its --root to be a mount point whose parent is not
/// over-mounted.
const CRIU_ROOT: &str = crate::container::CRIU_ROOT_DIR;
/// Where criu writes the restored init's pid.
const CRIU_PIDFILE: &str = "criu.pid";
const LOG_NAME: &str = "restore.log";

/// Undo a half-made restore. Disarmed once the container exists.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<Box<dyn Manager>>,
    criu_root: Option<PathBuf>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(root) = self.criu_root.take() {
            unmount_criu_root(&root);
        }
        if !self.armed {
            return;
        }
        if let Some(cg) = &self.cgroup {
            kill_cgroup(cg.as_ref());
            if let Err(e) = cg.destroy() {
                crate::logging::warn(&format!("cleanup after failed restore: {e:#}"));
            }
        }
        if self.dir.join(CRIU_ROOT).exists() {
            // Still bound: removing the directory would delete the rootfs.
            crate::logging::warn(&format!(
                "cleanup after failed restore: {} is still mounted; not removing {}",
                self.dir.join(CRIU_ROOT).display(),
                self.dir.display()
            ));
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SIGKILL whatever a failed criu left in the cgroup and wait until it is empty.
fn kill_cgroup(cg: &dyn Manager) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(pids) = cg.pids() {
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if cg.is_frozen().unwrap_or(false) {
            let _ = cg.freeze(false);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn unmount_criu_root(root: &Path) {
    let _ = umount2(root, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(root);
}

pub fn restore(req: RestoreRequest) -> Result<Restored> {
    let spec = &req.bundle.spec;
    let o = &req.options;
    // Read before anything exists: a wrong --image-path fails here.
    let stdio = descriptors::load(&o.image_path)?;
    if process_terminal(spec) {
        bail!("process.terminal is true: restoring a container with a terminal is not supported by nook yet");
    }
    let plan = crate::launch::namespaces::plan(spec)?;
    let (dir, lock) = req.root.reserve(&req.id)?;
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        cgroup: None,
        criu_root: None,
        armed: true,
    };
    let cgroup_spec = CgroupSpec {
        cgroups_path: spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.display().to_string()),
        container_id: req.id.clone(),
        systemd: req.systemd_cgroup,
        rootless: req.rootless,
    };
    let mut container = Container::new(
        dir.clone(),
        lock,
        State {
            id: req.id.clone(),
            pid: 0,
            pid_start_time: 0,
            bundle: req.bundle.dir.clone(),
            rootfs: req.bundle.rootfs.clone(),
            created: rfc3339_now(),
            owner_uid: nix::unistd::geteuid().as_raw(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            cgroup: cgroup_spec.clone(),
            new_pid_namespace: plan.new.contains(CloneFlags::CLONE_NEWPID),
            no_new_keyring: false,
            config: spec.clone(),
        },
    );
    // Written first, so `delete --force` can clean up after a restore that
    // was killed half-way.
    container.save()?;

    let cgroup = cgroups::manager_for_create(&cgroup_spec, spec)?;
    let criu_root = dir.join(CRIU_ROOT);
    std::fs::create_dir(&criu_root)
        .with_context(|| format!("cannot create {}", criu_root.display()))?;
    mount(
        Some(&req.bundle.rootfs),
        &criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| {
        format!(
            "cannot bind the rootfs {} for criu",
            req.bundle.rootfs.display()
        )
    })?;
    cleanup.criu_root = Some(criu_root.clone());

    let mut ext = mounts::from_config(spec, &req.bundle.dir)?;
    create_bind_mountpoints(&req.bundle.rootfs, spec, &ext)?;
    let dests = mounts::cgroup_bind_destinations(spec, &req.bundle.dir)?;
    ext.cgroup_binds = mounts::restored_cgroup_binds(&dests, cgroup.as_ref())?;

    let pidfile = dir.join(CRIU_PIDFILE);
    let mut args: Vec<OsString> = vec!["restore".into()];
    args.extend(o.common_args(LOG_NAME));
    args.extend(config_file_args(&container.state.annotations));
    args.extend([
        "--root".into(),
        criu_root.clone().into(),
        // criu exits once the tree runs; the restored init becomes our
        // child (a sibling of criu), as `create` leaves its init.
        "--restore-detached".into(),
        "--restore-sibling".into(),
        "--pidfile".into(),
        pidfile.clone().into(),
        "--evasive-devices".into(),
    ]);
    args.extend(cgroup_root_args(cgroup.as_ref())?);
    args.extend(mounts::restore_externals(&ext));
    args.extend(descriptors::inherit_fd_args(&stdio));
    let (ns_args, _ns_files) = external_namespace_args(spec)?;
    args.extend(ns_args);
    if let Some(p) = &req.lsm_profile {
        args.extend(["--lsm-profile".into(), p.into()]);
    }
    if let Some(c) = &req.lsm_mount_context {
        args.extend(["--lsm-mount-context".into(), c.into()]);
    }

    let criu = req.criu.spawn_gated(&args)?;
    // criu runs only once it is in the container's cgroup, so every task it
    // restores starts there (with the limits already set).
    let placed = cgroup.apply(criu.pid()).and_then(|()| {
        let resources = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        cgroup.set(&resources)
    });
    cleanup.cgroup = Some(cgroup);
    if let Err(e) = placed {
        criu.abort();
        return Err(e);
    }
    criu.release_and_wait(&o.log_path(LOG_NAME))?;

    let pid = read_pidfile(&pidfile)?;
    let (start_time, _) =
        process_start_time(pid).ok_or_else(|| anyhow!("restored init {pid} exited at once"))?;
    container.state.pid = pid;
    container.state.pid_start_time = start_time;
    container.save()?;
    if let Some(path) = &req.pid_file {
        crate::launch::write_pid_file(path, pid)?;
    }
    let _ = std::fs::remove_file(&pidfile);
    cleanup.armed = false;
    Ok(Restored { container })
}

fn process_terminal(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

fn read_pidfile(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("criu wrote no pid file {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("bad pid {text:?} in {}", path.display()))
}

/// Mount points of bind mounts that are missing in the rootfs (a fresh copy
/// of it, e.g. an imported checkpoint), created as `create` would: CRIU
/// mounts onto them but does not create them. Those on a tmpfs are left to
/// CRIU, which restores the tmpfs with its content.
fn create_bind_mountpoints(rootfs: &Path, spec: &Spec, ext: &mounts::ExternalMounts) -> Result<()> {
    let tmpfs: Vec<PathBuf> = spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| crate::rootfs::safe_path::clean_container_path(m.destination()))
        .collect();
    let root = crate::rootfs::safe_path::Root::open(rootfs)?;
    for (dest, source) in &ext.binds {
        if tmpfs.iter().any(|t| dest.starts_with(t) && dest != t) {
            continue;
        }
        let is_dir = std::fs::metadata(source).map_or(true, |m| m.is_dir());
        root.create_mountpoint(dest, is_dir)
            .with_context(|| format!("mount point {} for restore", dest.display()))?;
    }
    Ok(())
}

/// `--cgroup-root`: restore the tree into the new container's cgroup, not
/// the dumped one's (the id, hence the path, may differ). One default root
/// when every managed hierarchy uses the same path; per controller otherwise.
fn cgroup_root_args(cgroup: &dyn Manager) -> Result<Vec<OsString>> {
    let managed = cgroup.paths();
    let hierarchies = match detect(&HostPaths::system())? {
        Layout::Unified(h) => vec![h],
        Layout::Legacy(hs) => hs,
    };
    let mut roots: Vec<(String, PathBuf)> = Vec::new();
    for h in &hierarchies {
        let Some(dir) = managed.iter().find(|p| p.starts_with(&h.mount_point)) else {
            continue;
        };
        let Ok(rel) = dir.strip_prefix(&h.mount_point) else {
            continue;
        };
        roots.push((h.controllers.join(","), Path::new("/").join(rel)));
    }
    let mut args = Vec::new();
    let first = roots.first().map(|(_, p)| p.clone());
    if let Some(first) = first.filter(|f| roots.iter().all(|(_, p)| p == f)) {
        args.extend(["--cgroup-root".into(), first.into()]);
        return Ok(args);
    }
    for (controllers, path) in roots {
        let mut spec = OsString::from(if controllers.is_empty() {
            ""
        } else {
            &controllers
        });
        if !controllers.is_empty() {
            spec.push(":");
        }
        spec.push(path.as_os_str());
        args.extend(["--cgroup-root".into(), spec]);
    }
    Ok(args)
}

/// Namespaces joined by path (`linux.namespaces[].path`, network and pid)
/// were left out of the dump; criu gets them back as inherited descriptors.
/// The files must stay open until criu has run.
fn external_namespace_args(spec: &Spec) -> Result<(Vec<OsString>, Vec<OwnedFd>)> {
    let mut args = Vec::new();
    let mut files = Vec::new();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        let key = match ns.typ() {
            LinuxNamespaceType::Network => "extRootNetNS",
            LinuxNamespaceType::Pid => "extRootPidNS",
            _ => continue,
        };
        let Some(path) = ns.path() else { continue };
        // Opened without O_CLOEXEC: criu inherits it under the same number.
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("linux.namespaces path {}", path.display()))?;
        args.push("--inherit-fd".into());
        args.push(format!("fd[{}]:{key}", fd.as_raw_fd()).into());
        files.push(fd);
    }
    Ok((args, files))
}
