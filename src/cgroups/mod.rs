//! cgroups: one `Manager` trait with a driver per host layout.
//!
//! The launcher creates the manager before the init runs, moves the init into
//! the cgroup before it runs any user code, applies `linux.resources`, and
//! stores `CgroupSpec` in the container state so later commands (`delete`,
//! `kill --all`, `pause`) can rebuild the same manager.

use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
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

/// A container's cgroup, whatever the driver.
pub trait Manager {
    /// Create the cgroup (every hierarchy on v1) and move `pid` into it.
    fn apply(&self, pid: i32) -> Result<()>;
    /// Write `linux.resources`. Each field is applied in one function named after it.
    fn set(&self, resources: &LinuxResources) -> Result<()>;
    /// Every pid in the cgroup (recursively on v2), for `kill --all`, `ps`, delete.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Freeze (`true`) or thaw (`false`) every process in the cgroup.
    fn freeze(&self, frozen: bool) -> Result<()>;
    /// Whether the cgroup is frozen now.
    fn is_frozen(&self) -> Result<bool>;
    /// Remove the cgroup (every hierarchy). Succeeds if it is already gone.
    fn destroy(&self) -> Result<()>;
    /// The cgroup's directory per hierarchy, for messages and tests.
    fn paths(&self) -> Vec<std::path::PathBuf>;
}

/// Build the manager for a container from its stored spec.
pub fn manager_for(spec: &CgroupSpec) -> Result<Box<dyn Manager>> {
    bail!("cgroups: no driver for {:?} yet", spec.cgroups_path)
}
