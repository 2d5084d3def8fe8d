//! cgroups: one `Manager` trait with a driver per host layout.
//!
//! The launcher creates the manager before the init runs, moves the init into
//! the cgroup before it runs any user code, applies `linux.resources`, and
//! stores `CgroupSpec` in the container state so later commands (`delete`,
//! `kill --all`, `pause`) can rebuild the same manager.

mod block_io;
mod cpu_shared;
mod devices;
mod fs;
pub mod host;
mod hugetlb;
mod memory_check;
pub mod path;
mod pids;
mod rdma;
mod self_join;
pub mod stats;
pub mod sub;
mod systemd;
pub mod systemd_path;
mod v1;
mod v2;

pub use devices::{default_allowed_rules, validate_rules, DeviceRule};
pub use self_join::SelfJoin;
pub use sub::SubCgroups;
pub use v2::cpu_shares_to_weight;
pub use v2::devices_bpf;

use anyhow::Result;
use host::{HostPaths, Layout};
use oci_spec::runtime::{LinuxMemory, LinuxResources, Spec};
use path::CgroupPath;
use serde::{Deserialize, Serialize};

/// What is needed to rebuild a container's cgroup manager in a later command.
/// Stored verbatim in state.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupSpec {
    /// `linux.cgroupsPath` as given (None when the config has none).
    pub cgroups_path: Option<String>,
    /// The container id (used for the default path).
    pub container_id: String,
    /// `--systemd-cgroup` was given.
    pub systemd: bool,
    /// `--rootless` or not running as root.
    pub rootless: bool,
}

impl CgroupSpec {
    /// The cgroup of a container made from `spec` (by create or restore).
    pub fn for_config(
        spec: &Spec,
        container_id: &str,
        systemd: bool,
        rootless: bool,
    ) -> CgroupSpec {
        CgroupSpec {
            cgroups_path: spec
                .linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().as_ref())
                .map(|p| p.display().to_string()),
            container_id: container_id.to_string(),
            systemd,
            rootless,
        }
    }
}

/// A container's cgroup, whatever the driver.
pub trait Manager {
    /// Create the cgroup (every hierarchy on v1) and move `pid` into it.
    fn apply(&self, pid: i32) -> Result<()>;
    /// `exec`: move `pid` into the container's existing cgroup, or into the
    /// existing sub-cgroups named by `exec --cgroup`. Creates nothing.
    fn enter(&self, pid: i32, sub: &SubCgroups) -> Result<()>;
    /// Write `linux.resources`. Each field is applied in one function named after it.
    fn set(&self, resources: &LinuxResources) -> Result<()>;
    /// Every pid in the cgroup (recursively on v2), for `kill --all`, `ps`, delete.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Freeze (`true`) or thaw (`false`) every process in the cgroup.
    fn freeze(&self, frozen: bool) -> Result<()>;
    /// Whether the cgroup is frozen now.
    fn is_frozen(&self) -> Result<bool>;
    /// Resource usage now, for `events` (runc's stats layout).
    fn stats(&self) -> Result<stats::Stats>;
    /// Remove the cgroup (every hierarchy). Succeeds if it is already gone.
    fn destroy(&self) -> Result<()>;
    /// The cgroup's directory per hierarchy, for messages and tests.
    fn paths(&self) -> Vec<std::path::PathBuf>;
    /// `linux.resources.memory.checkBeforeUpdate`: an error when the flag is
    /// set and `memory.limit` is at or below the cgroup's current usage.
    /// `set` runs it first; `update` may call it to check before anything.
    /// The default (for drivers that cannot read usage) accepts everything.
    fn check_memory_before_update(&self, _memory: &LinuxMemory) -> Result<()> {
        Ok(())
    }
    /// `create`'s fast way in, instead of `apply`: create the cgroup now,
    /// before the clone, and say how the new process gets into it without
    /// the runtime migrating it (see `self_join`). `child_has_host_creds`:
    /// the new process keeps the runtime's credentials (no user namespace),
    /// so it may write the host's cgroup files itself. None: use `apply`.
    fn prepare_self_join(&self, _child_has_host_creds: bool) -> Result<Option<SelfJoin>> {
        Ok(None)
    }
    /// `exec`'s fast way in, instead of `enter`: how a process cloned with
    /// the runtime's credentials joins the container's existing cgroup (or
    /// the `exec --cgroup` sub-cgroups) by itself. None: use `enter`.
    fn prepare_self_enter(&self, _sub: &SubCgroups) -> Result<Option<SelfJoin>> {
        Ok(None)
    }
}

/// Build the manager for a container from its stored spec, for this host.
pub fn manager_for(spec: &CgroupSpec) -> Result<Box<dyn Manager>> {
    manager_for_host(spec, &HostPaths::system())
}

/// The manager `create` uses: with the systemd driver, it also carries the
/// config's resources and `org.systemd.property.*` annotations, which become
/// properties of the unit it starts (a bad annotation is an error here).
pub fn manager_for_create(spec: &CgroupSpec, config: &Spec) -> Result<Box<dyn Manager>> {
    if !spec.systemd {
        return manager_for(spec);
    }
    let resources = config.linux().as_ref().and_then(|l| l.resources().as_ref());
    let start = systemd::start_config(resources, config.annotations().as_ref())?;
    Ok(Box::new(systemd::SystemdManager::new(
        spec,
        &HostPaths::system(),
        Some(start),
    )?))
}

/// `manager_for` with the host's cgroup files somewhere else (tests).
pub fn manager_for_host(spec: &CgroupSpec, host: &HostPaths) -> Result<Box<dyn Manager>> {
    if spec.systemd {
        return Ok(Box::new(systemd::SystemdManager::new(spec, host, None)?));
    }
    let path = CgroupPath::parse(spec.cgroups_path.as_deref(), &spec.container_id)?;
    Ok(match host::detect(host)? {
        Layout::Unified(hierarchy) => Box::new(v2::V2Manager::with_rootless(
            &hierarchy,
            &path,
            spec.rootless,
        )),
        Layout::Legacy(hierarchies) => {
            Box::new(v1::V1Manager::new(hierarchies, &path, spec.rootless))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: Option<&str>, systemd: bool) -> CgroupSpec {
        CgroupSpec {
            cgroups_path: path.map(str::to_string),
            container_id: "ctr".into(),
            systemd,
            rootless: false,
        }
    }

    #[test]
    fn systemd_driver_validates_the_path() {
        let err = manager_for(&spec(Some("/not/systemd"), true))
            .err()
            .unwrap();
        assert!(err.to_string().contains("linux.cgroupsPath"));
    }

    #[test]
    fn escaping_path_is_rejected_before_touching_the_host() {
        let err = manager_for(&spec(Some("/a/../../etc"), false))
            .err()
            .unwrap();
        assert!(err.to_string().contains("linux.cgroupsPath"));
    }
}
