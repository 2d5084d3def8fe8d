//! `nook restore`: what `create` + `start` do, with `criu restore` in place
//! of the clone: reserve the id, make the cgroup, put criu into it before it
//! runs, give criu the rootfs as a mount point, the external mounts' host
//! paths and our stdio in place of the dumped pipes (and a new pty for a
//! terminal, terminal.rs; nook itself as the action script that runs the
//! hooks, action_script.rs), then record the restored init in state.json.
//! If any step fails, everything made so far
//! (restored processes, cgroup, mounts, state directory) is removed.

use super::criu::Criu;
use super::options::{config_file_args, CriuOptions};
use super::terminal::{self, NewTerminal};
use super::{descriptors, mounts};
use crate::cgroups::host::{detect, HostPaths, Layout};
use crate::cgroups::{self, CgroupSpec, Manager};
use crate::container::{process_start_time, Container, Root, State};
use crate::rootfs::mount_entry::{MountEntry, MountKind};
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
    /// Connected --console-socket: receives the new pty master of a
    /// container with a terminal.
    pub console_socket: Option<OwnedFd>,
    /// --no-pivot (see `check_no_pivot`).
    pub no_pivot: bool,
}

pub struct Restored {
    pub container: Container,
}

/// The directory in the container's state dir where the rootfs is bound for
/// criu: CRIU wants its --root to be a mount point whose parent is not
/// over-mounted.
const CRIU_ROOT: &str = crate::container::CRIU_ROOT_DIR;
/// Where the new devpts of a container with a terminal is mounted while
/// criu runs (see terminal.rs).
const CRIU_DEVPTS: &str = crate::container::CRIU_DEVPTS_DIR;
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
    check_no_pivot(spec, req.no_pivot)?;
    let dumped_terminal = terminal::load(&o.image_path)?;
    check_terminal(spec, dumped_terminal.as_ref(), req.console_socket.is_some())?;
    let plan = crate::launch::namespaces::plan(spec)?;
    let (dir, lock) = req.root.reserve(&req.id)?;
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        cgroup: None,
        criu_root: None,
        armed: true,
    };
    let cgroup_spec = CgroupSpec::for_config(spec, &req.id, req.systemd_cgroup, req.rootless);
    let mut container = Container::new(
        dir.clone(),
        lock,
        State::for_new_container(
            &req.id,
            &req.bundle,
            cgroup_spec.clone(),
            plan.new.contains(CloneFlags::CLONE_NEWPID),
            false,
        ),
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
    create_mountpoints(&req.bundle.rootfs, spec, &req.bundle.dir)?;
    let dests = mounts::cgroup_bind_destinations(spec, &req.bundle.dir)?;
    ext.cgroup_binds = mounts::restored_cgroup_binds(&dests, cgroup.as_ref())?;

    // Declared after `cleanup`, so dropped (unmounted) before it runs.
    let new_terminal = match &dumped_terminal {
        Some(t) => Some(NewTerminal::prepare(t, &dir.join(CRIU_DEVPTS))?),
        None => None,
    };

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
    if let (Some(nt), Some(t)) = (&new_terminal, &dumped_terminal) {
        args.extend(nt.restore_args(t));
    }
    let (ns_args, _ns_files) = external_namespace_args(spec)?;
    args.extend(ns_args);
    if let Some(p) = &req.lsm_profile {
        args.extend(["--lsm-profile".into(), p.into()]);
    }
    if let Some(c) = &req.lsm_mount_context {
        args.extend(["--lsm-mount-context".into(), c.into()]);
    }

    let env = hook_args(spec, &dir, &mut args)?;
    let criu = req.criu.spawn_gated(&args, &env)?;
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
    if let (Some(nt), Some(socket)) = (new_terminal, &req.console_socket) {
        if let Some(master) = nt.into_master() {
            crate::linux::tty::send_master(socket.as_raw_fd(), &master)?;
        }
    }

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

/// The checkpoint has a terminal exactly when `process.terminal` is true,
/// and then there is somewhere to send its new master.
fn check_terminal(
    spec: &Spec,
    dumped: Option<&terminal::Terminal>,
    has_console: bool,
) -> Result<()> {
    match (process_terminal(spec), dumped) {
        (true, None) => bail!(
            "process.terminal is true but the checkpoint has no {}: it was made without a terminal, or by another runtime (runc's terminal checkpoints need criu's RPC)",
            terminal::TERMINAL_FILE
        ),
        (false, Some(_)) => {
            bail!("the checkpoint has a terminal but process.terminal is false")
        }
        (true, Some(_)) if !has_console => bail!(
            "process.terminal is true: --console-socket is required to receive the pty"
        ),
        _ => Ok(()),
    }
}

/// `hooks.prestart` and `hooks.createRuntime`: nook itself as criu's
/// action script (see action_script.rs), told the state directory through
/// the environment it returns.
fn hook_args(
    spec: &Spec,
    dir: &Path,
    args: &mut Vec<OsString>,
) -> Result<Vec<(OsString, OsString)>> {
    if !super::action_script::has_restore_hooks(spec) {
        return Ok(Vec::new());
    }
    let nook = std::env::current_exe()
        .context("hooks: cannot find the nook binary for criu's --action-script")?;
    args.extend(["--action-script".into(), nook.into()]);
    Ok(vec![(
        super::action_script::RESTORE_DIR_ENV.into(),
        dir.as_os_str().to_os_string(),
    )])
}

/// --no-pivot, as runc 1.1 treats it on restore: CRIU always enters the
/// restored root with pivot_root(2) (it has no option to do otherwise, and
/// runc passes none), so the flag changes nothing there; but, as for
/// `create`, `linux.rootfsPropagation` [r]private is refused with it.
fn check_no_pivot(spec: &Spec, no_pivot: bool) -> Result<()> {
    let value = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    crate::rootfs::propagation::parse_rootfs_propagation(value, no_pivot).map(|_| ())
}

fn read_pidfile(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("criu wrote no pid file {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("bad pid {text:?} in {}", path.display()))
}

/// Mount points missing in the rootfs (a fresh copy of it, e.g. an
/// imported checkpoint) or in a bind mount's host directory, made as
/// `create` makes them: CRIU mounts onto them but does not create them.
/// A mount nested in a bind mount (/data a bind of a host dir, a tmpfs at
/// /data/sub) has its mount point in that host dir, where `create` made it
/// through the bind (runc binds the sources into the rootfs for a moment
/// to reach them; nook opens the source itself). Those on a tmpfs are left
/// to CRIU, which restores the tmpfs with its content; cgroup mounts are
/// made by CRIU (v1: on the /sys/fs/cgroup tmpfs; v2: in sysfs), as runc
/// leaves them.
fn create_mountpoints(rootfs: &Path, spec: &Spec, bundle: &Path) -> Result<()> {
    let entries = crate::rootfs::validate_mounts(spec, bundle)?;
    let rootfs = crate::rootfs::safe_path::Root::open(rootfs)?;
    for (i, entry) in entries.iter().enumerate() {
        let on_tmpfs = entries.iter().any(|t| {
            t.fstype() == "tmpfs"
                && entry.destination.starts_with(&t.destination)
                && entry.destination != t.destination
        });
        if on_tmpfs || entry.kind == MountKind::Cgroup {
            continue;
        }
        let is_dir = match &entry.kind {
            MountKind::Bind { source } => std::fs::metadata(source).map_or(true, |m| m.is_dir()),
            _ => true,
        };
        let context = || format!("mount point of {} for restore", entry.describe());
        match enclosing_bind(&entries[..i], &entry.destination) {
            Some((source, inner)) => {
                crate::rootfs::safe_path::Root::open(source)
                    .and_then(|r| r.create_mountpoint(inner, is_dir))
                    .with_context(context)?;
            }
            None => {
                rootfs
                    .create_mountpoint(&entry.destination, is_dir)
                    .with_context(context)?;
            }
        }
    }
    Ok(())
}

/// The bind mount among `earlier` entries that `dest` lies in (the deepest
/// one): its host source and `dest` relative to it.
fn enclosing_bind<'a>(earlier: &'a [MountEntry], dest: &'a Path) -> Option<(&'a Path, &'a Path)> {
    earlier
        .iter()
        .filter_map(|e| match &e.kind {
            MountKind::Bind { source } if dest != e.destination => {
                let inner = dest.strip_prefix(&e.destination).ok()?;
                Some((e.destination.components().count(), source.as_path(), inner))
            }
            _ => None,
        })
        .max_by_key(|(depth, _, _)| *depth)
        .map(|(_, source, inner)| (source, inner))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dest: &str, kind: MountKind) -> MountEntry {
        MountEntry {
            index: 0,
            destination: dest.into(),
            kind,
            options: Default::default(),
            id_mappings: None,
        }
    }

    fn bind(dest: &str, source: &str) -> MountEntry {
        entry(
            dest,
            MountKind::Bind {
                source: source.into(),
            },
        )
    }

    #[test]
    fn nested_mount_points_belong_to_the_deepest_earlier_bind() {
        let tmpfs = MountKind::Filesystem {
            fstype: "tmpfs".into(),
            source: "tmpfs".into(),
        };
        let earlier = vec![
            bind("/data", "/srv/data"),
            entry("/data/t", tmpfs),
            bind("/data/b", "/srv/b"),
        ];
        assert_eq!(
            enclosing_bind(&earlier, Path::new("/data/b/c")),
            Some((Path::new("/srv/b"), Path::new("c")))
        );
        assert_eq!(
            enclosing_bind(&earlier, Path::new("/data/x/y")),
            Some((Path::new("/srv/data"), Path::new("x/y")))
        );
        // Not nested: the bind itself, a sibling, a path sharing a prefix.
        assert_eq!(enclosing_bind(&earlier, Path::new("/data")), None);
        assert_eq!(enclosing_bind(&earlier, Path::new("/other")), None);
        assert_eq!(enclosing_bind(&earlier, Path::new("/database")), None);
    }
}
