//! `nook checkpoint`: dump a running (or paused) container with
//! `criu dump` (or `criu pre-dump`).
//!
//! After a full dump without --leave-running CRIU has killed the
//! container's processes, and nook then destroys the container (cgroup,
//! poststop hooks, state), as runc does: the same id is free for `restore`.

use super::criu::Criu;
use super::options::{config_file_args, CriuOptions};
use super::{descriptors, mounts, terminal};
use crate::container::{Container, Status};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub struct CheckpointRequest {
    pub criu: Criu,
    pub options: CriuOptions,
    /// --parent-path: images of an earlier pre-dump.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    /// --page-server ADDRESS:PORT.
    pub page_server: Option<String>,
    /// --status-fd (lazy pages).
    pub status_fd: Option<i32>,
}

pub fn checkpoint(c: Container, req: &CheckpointRequest) -> Result<()> {
    let status = c.status();
    if !matches!(status, Status::Running | Status::Paused) {
        bail!("container {} is not running: {status}", c.state.id);
    }
    let o = &req.options;
    make_dir(&o.image_path, "--image-path")?;
    make_dir(o.work_dir(), "--work-path")?;
    let log_name = if req.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let pid = c.state.pid;
    let spec = &c.state.config;

    let mut args: Vec<OsString> = vec![
        if req.pre_dump { "pre-dump" } else { "dump" }.into(),
        "--tree".into(),
        pid.to_string().into(),
    ];
    args.extend(o.common_args(log_name));
    args.extend(config_file_args(&c.state.annotations));
    if let Some(parent) = &req.parent_path {
        // CRIU takes it relative to the image directory, as runc passes it.
        args.extend(["--prev-images-dir".into(), parent.clone().into()]);
        args.push("--track-mem".into());
    } else if req.pre_dump {
        args.push("--track-mem".into());
    }
    if req.leave_running && !req.pre_dump {
        args.push("--leave-running".into());
    }
    if let Some(server) = &req.page_server {
        args.extend(page_server_args(server)?);
    }
    if let Some(fd) = req.status_fd {
        args.extend(["--status-fd".into(), fd.to_string().into()]);
    }
    if let Some(freezer) = freezer_cgroup(&c) {
        args.extend(["--freeze-cgroup".into(), freezer.into()]);
    }
    args.extend(external_namespace_args(spec)?);
    if !req.pre_dump {
        // Pre-dump saves memory only; mounts and stdio come with the dump.
        let mut ext = mounts::from_config(spec, &c.state.bundle)?;
        let dests = mounts::cgroup_bind_destinations(spec, &c.state.bundle)?;
        ext.cgroup_binds = mounts::dumped_cgroup_binds(pid, &dests)?;
        ext.masked_files = masked_files(spec, pid);
        args.extend(mounts::dump_externals(&ext));
        descriptors::save(pid, &o.image_path)?;
        args.extend(terminal_args(pid, &o.image_path)?);
    }
    req.criu.run(&args, &o.log_path(log_name))?;
    if !(req.leave_running || req.pre_dump) {
        crate::lifecycle::delete(c, true).context("checkpoint done, but removing the container")?;
    }
    Ok(())
}

/// A container with a terminal: its pty and devpts are external (see
/// terminal.rs), recorded in terminal.json for restore. A terminal.json of
/// an earlier checkpoint in the same directory is removed when there is
/// no terminal now.
fn terminal_args(pid: i32, image_dir: &Path) -> Result<Vec<OsString>> {
    match terminal::find(pid)? {
        Some(t) => {
            terminal::save(&t, image_dir)?;
            Ok(t.dump_args())
        }
        None => {
            let stale = image_dir.join(terminal::TERMINAL_FILE);
            match std::fs::remove_file(&stale) {
                Ok(()) => Ok(Vec::new()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e).with_context(|| format!("cannot remove {}", stale.display())),
            }
        }
    }
}

fn make_dir(path: &Path, flag: &str) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("{flag} {}: cannot create", path.display()))
}

/// --page-server ADDRESS:PORT → criu's --page-server --address A --port P.
fn page_server_args(server: &str) -> Result<Vec<OsString>> {
    let Some((address, port)) = server.rsplit_once(':') else {
        bail!("--page-server {server:?}: use ADDRESS:PORT");
    };
    if address.is_empty() || port.parse::<u16>().is_err() {
        bail!("--page-server {server:?}: use ADDRESS:PORT");
    }
    Ok(vec![
        "--page-server".into(),
        "--address".into(),
        address.into(),
        "--port".into(),
        port.into(),
    ])
}

/// The freezer cgroup CRIU stops the container with (v1 freezer hierarchy,
/// or the v2 cgroup itself): faster and race-free compared with ptrace-
/// stopping each task, and it keeps a paused container frozen.
fn freezer_cgroup(c: &Container) -> Option<PathBuf> {
    use crate::cgroups::host::{detect, HostPaths, Layout};
    let mgr = crate::cgroups::manager_for(&c.state.cgroup).ok()?;
    let paths = mgr.paths();
    match detect(&HostPaths::system()).ok()? {
        Layout::Unified(_) => paths.into_iter().next(),
        Layout::Legacy(_) => paths
            .into_iter()
            .find(|p| p.components().any(|c| c.as_os_str() == "freezer")),
    }
}

/// Network and pid namespaces joined by path are not the container's own:
/// CRIU leaves them out and restore hands them back (runc's names).
fn external_namespace_args(spec: &Spec) -> Result<Vec<OsString>> {
    let mut args = Vec::new();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        let (kind, key) = match ns.typ() {
            LinuxNamespaceType::Network => ("net", "extRootNetNS"),
            LinuxNamespaceType::Pid => ("pid", "extRootPidNS"),
            _ => continue,
        };
        let Some(path) = ns.path() else { continue };
        let ino = std::fs::metadata(path)
            .with_context(|| format!("linux.namespaces {kind} path {}", path.display()))?
            .ino();
        args.push("--external".into());
        args.push(format!("{kind}[{ino}]:{key}").into());
    }
    Ok(args)
}

/// `linux.maskedPaths` entries that are files in the running container
/// (/dev/null is bound over them); directories are tmpfs mounts CRIU saves.
fn masked_files(spec: &Spec, pid: i32) -> Vec<PathBuf> {
    let paths = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    paths
        .iter()
        .map(|p| crate::rootfs::safe_path::clean_container_path(Path::new(p)))
        .filter(|p| {
            let in_container = format!("/proc/{pid}/root{}", p.display());
            std::fs::metadata(in_container).is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_server_address_and_port() {
        let args: Vec<String> = page_server_args("10.0.0.1:27")
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            ["--page-server", "--address", "10.0.0.1", "--port", "27"]
        );
        assert!(page_server_args("nohost").is_err());
        assert!(page_server_args("h:notaport").is_err());
    }
}
