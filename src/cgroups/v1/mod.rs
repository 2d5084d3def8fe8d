//! The cgroup v1 driver (cgroupfs): one directory per mounted hierarchy,
//! including named ones (`name=systemd`) and, on a hybrid host, the cgroup2
//! tree, which runc 1.1 joins too.

mod cpu;
mod devices;
mod freezer;
mod memory;

use super::fs;
use super::host::Hierarchy;
use super::path::CgroupPath;
use super::pids::apply_pids_limit;
use super::{Manager, SubCgroups};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// The container's cgroup in one hierarchy.
#[derive(Debug, Clone)]
struct HierarchyDir {
    hierarchy: Hierarchy,
    /// The container's cgroup directory in this hierarchy.
    path: PathBuf,
}

impl HierarchyDir {
    fn name(&self) -> String {
        if self.hierarchy.is_unified() {
            "cgroup2".to_string()
        } else {
            self.hierarchy.controllers.join(",")
        }
    }
}

pub struct V1Manager {
    dirs: Vec<HierarchyDir>,
    rootless: bool,
}

impl V1Manager {
    /// The manager for the container cgroup `path` in each of `hierarchies`.
    pub fn new(hierarchies: Vec<Hierarchy>, path: &CgroupPath, rootless: bool) -> Self {
        let dirs = hierarchies
            .into_iter()
            .map(|hierarchy| HierarchyDir {
                path: path.dir_in(&hierarchy, false),
                hierarchy,
            })
            .collect();
        V1Manager { dirs, rootless }
    }

    fn dir_of(&self, controller: &str) -> Option<&HierarchyDir> {
        self.dirs.iter().find(|d| d.hierarchy.has(controller))
    }

    /// The directory where `field` is written, or an error naming `field`
    /// when the controller is missing or the container is not in it.
    fn dir_for(&self, controller: &str, field: &str) -> Result<&Path> {
        let Some(dir) = self.dir_of(controller) else {
            bail!("{field}: the {controller} cgroup controller is not mounted on this host");
        };
        if !dir.path.is_dir() {
            if self.rootless {
                bail!(
                    "{field}: cannot set: the container could not join or create the {controller} cgroup (rootless)"
                );
            }
            bail!("{field}: cgroup {} does not exist", dir.path.display());
        }
        Ok(&dir.path)
    }

    /// Create the container's cgroup in one hierarchy and move `pid` into it.
    fn join(dir: &HierarchyDir, pid: i32) -> Result<()> {
        let is_cpuset = dir.hierarchy.has("cpuset");
        fs::create_levels(&dir.hierarchy.mount_point, &dir.path, |level| {
            if is_cpuset {
                cpu::inherit_cpuset_from_parent(level)?;
            }
            Ok(())
        })?;
        fs::write(&dir.path, "cgroup.procs", &pid.to_string())
    }
}

impl Manager for V1Manager {
    fn apply(&self, pid: i32) -> Result<()> {
        // NOTE: runc writes cpu.rt_* before moving the process so a process
        // already running SCHED_RR can join; our init starts with the default
        // policy, so `set` after `apply` is enough.
        for dir in &self.dirs {
            if let Err(e) = Self::join(dir, pid) {
                // Rootless: hierarchies that were not delegated to us are skipped
                // (their limits then fail in `set` with a clear message).
                if self.rootless && fs::is_permission_error(&e) {
                    continue;
                }
                return Err(e)
                    .with_context(|| format!("moving pid {pid} into the {} cgroup", dir.name()));
            }
        }
        Ok(())
    }

    fn enter(&self, pid: i32, sub: &SubCgroups) -> Result<()> {
        for controller in sub.controllers() {
            if self.dir_of(controller).is_none() {
                bail!("--cgroup {controller}:...: unknown controller {controller} (not mounted on this host)");
            }
        }
        for dir in &self.dirs {
            let path = match sub.for_hierarchy(&dir.hierarchy.controllers) {
                Some(s) => super::sub::join_sub(&dir.path, s)?,
                None => dir.path.clone(),
            };
            if let Err(e) = fs::write(&path, "cgroup.procs", &pid.to_string()) {
                // Rootless: hierarchies that were not delegated are skipped, as in `apply`.
                if self.rootless && fs::is_permission_error(&e) {
                    continue;
                }
                return Err(e).with_context(|| {
                    format!(
                        "moving pid {pid} into the {} cgroup {}",
                        dir.name(),
                        path.display()
                    )
                });
            }
        }
        Ok(())
    }

    fn set(&self, resources: &LinuxResources) -> Result<()> {
        if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            bail!("linux.resources.unified: needs cgroup v2, but this host uses cgroup v1");
        }
        if let Some(m) = resources
            .memory()
            .as_ref()
            .filter(|m| memory::memory_is_set(m))
        {
            memory::apply_memory(self.dir_for("memory", "linux.resources.memory")?, m)?;
        }
        if let Some(c) = resources.cpu().as_ref() {
            if cpu::cpu_controller_is_set(c) {
                cpu::apply_cpu(self.dir_for("cpu", "linux.resources.cpu")?, c)?;
            }
            if cpu::cpuset_is_set(c) {
                cpu::apply_cpuset(self.dir_for("cpuset", "linux.resources.cpu")?, c)?;
            }
        }
        if let Some(p) = resources.pids().as_ref() {
            if super::pids::pids_max_value(p).is_some() {
                apply_pids_limit(self.dir_for("pids", "linux.resources.pids")?, p)?;
            }
        }
        // Devices: like runc, the list is always applied (no list = deny all
        // but the default devices); rootless cannot write the devices cgroup,
        // so runc skips it there and so do we.
        // TODO(later issue): blockIO, hugepageLimits, network, rdma.
        if !self.rootless {
            let rules = resources.devices().as_deref().unwrap_or(&[]);
            devices::apply_devices(self.dir_for("devices", "linux.resources.devices")?, rules)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        // Every hierarchy holds every process. Prefer the usual ones, but take
        // one the container is really in (rootless may have skipped some).
        let joined = |d: &&HierarchyDir| d.path.is_dir();
        let dir = ["devices", "freezer", "pids", "memory"]
            .iter()
            .filter_map(|c| self.dir_of(c))
            .find(joined)
            .or_else(|| self.dirs.iter().find(joined));
        match dir {
            Some(dir) => fs::pids_recursive(&dir.path),
            None => Ok(Vec::new()),
        }
    }

    fn freeze(&self, frozen: bool) -> Result<()> {
        let field = if frozen { "freezing" } else { "thawing" };
        freezer::set_frozen(self.dir_for("freezer", field)?, frozen)
    }

    fn is_frozen(&self) -> Result<bool> {
        match self.dir_of("freezer") {
            Some(dir) if dir.path.is_dir() => freezer::is_frozen(&dir.path),
            _ => Ok(false),
        }
    }

    fn stats(&self) -> Result<super::stats::Stats> {
        super::stats::v1::read(&|c| {
            self.dir_of(c)
                .map(|d| d.path.clone())
                .filter(|p| p.is_dir())
        })
    }

    fn destroy(&self) -> Result<()> {
        // Try every hierarchy even if one fails, so as little as possible is left.
        let mut first_error = None;
        for dir in &self.dirs {
            if let Err(e) = fs::remove_tree(&dir.path) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake v1 host: plain directories and files standing in for cgroupfs.
    fn fake_host(tmp: &Path) -> Vec<Hierarchy> {
        let mut hierarchies = Vec::new();
        for (name, controllers, files) in [
            ("cpu,cpuacct", vec!["cpu", "cpuacct"], vec!["cpu.shares"]),
            ("cpuset", vec!["cpuset"], vec!["cpuset.cpus", "cpuset.mems"]),
            ("memory", vec!["memory"], vec!["memory.limit_in_bytes"]),
            ("pids", vec!["pids"], vec!["pids.max"]),
            (
                "devices",
                vec!["devices"],
                vec!["devices.allow", "devices.deny"],
            ),
        ] {
            let mount = tmp.join(name);
            std::fs::create_dir(&mount).unwrap();
            for f in &files {
                std::fs::write(
                    mount.join(f),
                    if f.starts_with("cpuset") { "0-1" } else { "" },
                )
                .unwrap();
            }
            hierarchies.push(Hierarchy {
                controllers: controllers.into_iter().map(String::from).collect(),
                mount_point: mount,
                own_cgroup: PathBuf::new(),
            });
        }
        hierarchies
    }

    #[test]
    fn apply_joins_every_hierarchy_and_fills_an_empty_cpuset() {
        let tmp = tempfile::tempdir().unwrap();
        let hierarchies = fake_host(tmp.path());
        // Plain mkdir makes no control files: create the leaves as cgroupfs would.
        for h in &hierarchies {
            let leaf = h.mount_point.join("ctr");
            std::fs::create_dir(&leaf).unwrap();
            std::fs::write(leaf.join("cgroup.procs"), "").unwrap();
            if h.has("cpuset") {
                std::fs::write(leaf.join("cpuset.cpus"), "").unwrap();
                std::fs::write(leaf.join("cpuset.mems"), "").unwrap();
            }
        }
        let m = V1Manager::new(
            hierarchies,
            &CgroupPath::parse(Some("/ctr"), "id").unwrap(),
            false,
        );
        m.apply(42).unwrap();
        for path in m.paths() {
            assert_eq!(
                std::fs::read_to_string(path.join("cgroup.procs")).unwrap(),
                "42"
            );
        }
        let cpuset = tmp.path().join("cpuset/ctr");
        assert_eq!(
            std::fs::read_to_string(cpuset.join("cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(m.pids().unwrap(), vec![42]);
    }

    #[test]
    fn paths_follow_every_hierarchy() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V1Manager::new(
            fake_host(tmp.path()),
            &CgroupPath::parse(Some("/a/b"), "id").unwrap(),
            false,
        );
        assert_eq!(m.paths()[0], tmp.path().join("cpu,cpuacct/a/b"));
        assert_eq!(m.paths().len(), 5);
    }

    #[test]
    fn set_on_a_missing_cgroup_names_the_field() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V1Manager::new(
            fake_host(tmp.path()),
            &CgroupPath::parse(Some("/x"), "id").unwrap(),
            false,
        );
        let resources: LinuxResources =
            serde_json::from_str(r#"{"memory": {"limit": 100}}"#).unwrap();
        let err = format!("{:#}", m.set(&resources).unwrap_err());
        assert!(
            err.contains("linux.resources.memory") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn unified_resources_are_rejected_on_v1() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V1Manager::new(
            fake_host(tmp.path()),
            &CgroupPath::parse(Some("/x"), "id").unwrap(),
            false,
        );
        let resources: LinuxResources =
            serde_json::from_str(r#"{"unified": {"memory.high": "1"}}"#).unwrap();
        assert!(m
            .set(&resources)
            .unwrap_err()
            .to_string()
            .contains("linux.resources.unified"));
    }

    #[test]
    fn freezing_without_a_freezer_hierarchy_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V1Manager::new(
            fake_host(tmp.path()),
            &CgroupPath::parse(Some("/x"), "id").unwrap(),
            false,
        );
        assert!(m.freeze(true).unwrap_err().to_string().contains("freezer"));
        assert!(!m.is_frozen().unwrap());
    }
}
