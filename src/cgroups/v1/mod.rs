//! The cgroup v1 driver (cgroupfs): one directory per mounted hierarchy,
//! including named ones (`name=systemd`) and, on a hybrid host, the cgroup2
//! tree, which runc 1.1 joins too.

mod blkio;
mod cpu;
mod devices;
mod freezer;
mod memory;
mod network;

use super::block_io::first_set_field;
use super::fs;
use super::host::Hierarchy;
use super::hugetlb::{
    apply_hugepage_limits, validate_page_sizes, HugetlbFiles, HOST_HUGEPAGES_DIR,
};
use super::memory_check::check_memory_before_update;
use super::path::CgroupPath;
use super::pids::apply_pids_limit;
use super::rdma::{apply_rdma, rdma_is_set};
use super::{Manager, SelfJoin, SubCgroups};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemory, LinuxResources};
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
    /// Where the host lists its huge page sizes (tests use a fake one).
    hugepages_dir: PathBuf,
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
        V1Manager {
            dirs,
            rootless,
            hugepages_dir: PathBuf::from(HOST_HUGEPAGES_DIR),
        }
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
                    "{field}: the container has no {controller} cgroup: it runs rootless on cgroup v1, where an unprivileged user (uid {}) cannot create cgroups unless {} is delegated to it (chown by root)",
                    nix::unistd::geteuid(),
                    dir.hierarchy.mount_point.display()
                );
            }
            bail!("{field}: cgroup {} does not exist", dir.path.display());
        }
        Ok(&dir.path)
    }

    /// Create the container's cgroup in one hierarchy and move `pid` into it.
    fn join(dir: &HierarchyDir, pid: i32) -> Result<()> {
        Self::create(dir)?;
        fs::write(&dir.path, "cgroup.procs", &pid.to_string())
    }

    /// Where `exec` joins in each hierarchy: the container's cgroup, or the
    /// `exec --cgroup` sub-cgroup given for that hierarchy.
    fn enter_paths(&self, sub: &SubCgroups) -> Result<Vec<(&HierarchyDir, PathBuf)>> {
        for controller in sub.controllers() {
            if self.dir_of(controller).is_none() {
                bail!("--cgroup {controller}:...: unknown controller {controller} (not mounted on this host)");
            }
        }
        let mut paths = Vec::new();
        for dir in &self.dirs {
            let path = match sub.for_hierarchy(&dir.hierarchy.controllers) {
                Some(s) => super::sub::join_sub(&dir.path, s)?,
                None => dir.path.clone(),
            };
            paths.push((dir, path));
        }
        Ok(paths)
    }

    /// Create the container's cgroup in one hierarchy (a new cpuset level
    /// gets its parent's cpus and mems, or nothing could join it).
    fn create(dir: &HierarchyDir) -> Result<()> {
        let is_cpuset = dir.hierarchy.has("cpuset");
        fs::create_levels(&dir.hierarchy.mount_point, &dir.path, |level| {
            if is_cpuset {
                cpu::inherit_cpuset_from_parent(level)?;
            }
            Ok(())
        })
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

    fn prepare_self_join(&self, child_has_host_creds: bool) -> Result<Option<SelfJoin>> {
        if self.rootless || !child_has_host_creds {
            return Ok(None);
        }
        let mut join = SelfJoin::default();
        for dir in &self.dirs {
            Self::create(dir).with_context(|| format!("creating the {} cgroup", dir.name()))?;
            if dir.hierarchy.is_unified() {
                // A hybrid host's cgroup2 tree: "0" in cgroup.threads cannot
                // cross domains, so the process is cloned into it.
                join.clone_into = Some(super::self_join::open_cgroup_dir(&dir.path)?);
            } else {
                join.tasks_dirs.push(dir.path.clone());
            }
        }
        Ok(Some(join))
    }

    fn prepare_self_enter(&self, sub: &SubCgroups) -> Result<Option<SelfJoin>> {
        if self.rootless {
            return Ok(None);
        }
        let mut join = SelfJoin::default();
        for (dir, path) in self.enter_paths(sub)? {
            if dir.hierarchy.is_unified() {
                join.clone_into = Some(super::self_join::open_cgroup_dir(&path)?);
            } else {
                join.tasks_dirs.push(path);
            }
        }
        Ok(Some(join))
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
            // Rootless: hierarchies the container never joined are skipped.
            if self.rootless && !path.is_dir() {
                continue;
            }
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
        if let Some(m) = resources.memory().as_ref() {
            self.check_memory_before_update(m)?;
            if memory::memory_is_set(m) {
                memory::apply_memory(self.dir_for("memory", "linux.resources.memory")?, m)?;
            }
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
        if let Some(b) = resources.block_io().as_ref() {
            if let Some(field) = first_set_field(b) {
                let field = format!("linux.resources.blockIO.{field}");
                blkio::apply_block_io(self.dir_for("blkio", &field)?, b)?;
            }
        }
        if let Some(limits) = resources
            .hugepage_limits()
            .as_deref()
            .filter(|l| !l.is_empty())
        {
            validate_page_sizes(limits, &self.hugepages_dir)?;
            let dir = self.dir_for("hugetlb", "linux.resources.hugepageLimits")?;
            apply_hugepage_limits(dir, limits, HugetlbFiles::V1)?;
        }
        if let Some(n) = resources.network().as_ref() {
            if n.class_id().is_some() {
                let dir = self.dir_for("net_cls", "linux.resources.network.classID")?;
                network::apply_network_class_id(dir, n.class_id())?;
            }
            if network::priorities_are_set(n) {
                let dir = self.dir_for("net_prio", "linux.resources.network.priorities")?;
                network::apply_network_priorities(dir, n)?;
            }
        }
        if let Some(r) = resources.rdma().as_ref().filter(|r| rdma_is_set(r)) {
            apply_rdma(self.dir_for("rdma", "linux.resources.rdma")?, r)?;
        }
        // Devices: like runc, the list is always applied (no list = deny all
        // but the default devices); rootless cannot write the devices cgroup,
        // so runc skips it there and so do we.
        if !self.rootless {
            let rules = resources.devices().as_deref().unwrap_or(&[]);
            devices::apply_devices(self.dir_for("devices", "linux.resources.devices")?, rules)?;
        }
        Ok(())
    }

    fn check_memory_before_update(&self, memory: &LinuxMemory) -> Result<()> {
        match self.dir_of("memory") {
            Some(dir) => check_memory_before_update(&dir.path, "memory.usage_in_bytes", memory),
            None => Ok(()),
        }
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
            // Without a cgroup the processes cannot be told apart from the
            // user's others: say why rather than report none.
            None if self.rootless => bail!(
                "the container's processes cannot be listed: it runs rootless on cgroup v1 and has no cgroup (an unprivileged user, uid {}, cannot create v1 cgroups that were not delegated to it)",
                nix::unistd::geteuid()
            ),
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
            // Rootless: hierarchies that were never joined have nothing to
            // remove, and rmdir there fails with EACCES before ENOENT.
            if self.rootless && !dir.path.is_dir() {
                continue;
            }
            if let Err(e) = fs::remove_tree(&dir.path) {
                // Rootless: a directory we may not remove is not one we made.
                if self.rootless && fs::is_permission_error(&e) {
                    continue;
                }
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
    /// A manager for cgroupsPath "/x" on the fake host under `tmp`.
    fn manager_at_x(tmp: &Path) -> V1Manager {
        V1Manager::new(
            fake_host(tmp),
            &CgroupPath::parse(Some("/x"), "id").unwrap(),
            false,
        )
    }

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
        let m = manager_at_x(tmp.path());
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
        let m = manager_at_x(tmp.path());
        let resources: LinuxResources =
            serde_json::from_str(r#"{"unified": {"memory.high": "1"}}"#).unwrap();
        assert!(m
            .set(&resources)
            .unwrap_err()
            .to_string()
            .contains("linux.resources.unified"));
    }

    #[test]
    fn missing_controllers_name_the_field_and_controller() {
        let tmp = tempfile::tempdir().unwrap();
        let mut m = manager_at_x(tmp.path());
        let sysfs = tmp.path().join("hugepages");
        std::fs::create_dir_all(sysfs.join("hugepages-2048kB")).unwrap();
        m.hugepages_dir = sysfs;
        for (json, want) in [
            (r#"{"blockIO": {"weight": 500}}"#, "linux.resources.blockIO.weight: the blkio cgroup controller is not mounted"),
            (
                r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1}]}}"#,
                "linux.resources.blockIO.throttleReadBpsDevice: the blkio cgroup controller is not mounted",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}"#,
                "linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "3MB", "limit": 0}]}"#,
                "linux.resources.hugepageLimits[0].pageSize: \"3MB\" is not a huge page size",
            ),
            (r#"{"network": {"classID": 7}}"#, "linux.resources.network.classID: the net_cls cgroup controller is not mounted"),
            (
                r#"{"network": {"priorities": [{"name": "lo", "priority": 1}]}}"#,
                "linux.resources.network.priorities: the net_prio cgroup controller is not mounted",
            ),
            (r#"{"rdma": {"mlx4_0": {"hcaHandles": 1}}}"#, "linux.resources.rdma: the rdma cgroup controller is not mounted"),
        ] {
            let err = format!("{:#}", m.set(&serde_json::from_str(json).unwrap()).unwrap_err());
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn new_controllers_are_written_where_mounted() {
        let tmp = tempfile::tempdir().unwrap();
        let mut hierarchies = fake_host(tmp.path());
        for (name, controllers, files) in [
            (
                "blkio",
                vec!["blkio"],
                vec!["blkio.bfq.weight", "blkio.throttle.read_bps_device"],
            ),
            (
                "hugetlb",
                vec!["hugetlb"],
                vec!["hugetlb.2MB.limit_in_bytes"],
            ),
            (
                "net_cls,net_prio",
                vec!["net_cls", "net_prio"],
                vec!["net_cls.classid", "net_prio.ifpriomap"],
            ),
            ("rdma", vec!["rdma"], vec!["rdma.max"]),
        ] {
            let leaf = tmp.path().join(name).join("x");
            std::fs::create_dir_all(&leaf).unwrap();
            for f in files {
                std::fs::write(leaf.join(f), "").unwrap();
            }
            hierarchies.push(Hierarchy {
                controllers: controllers.into_iter().map(String::from).collect(),
                mount_point: tmp.path().join(name),
                own_cgroup: PathBuf::new(),
            });
        }
        // The devices cgroup is always written: give it its leaf too.
        let devices = tmp.path().join("devices/x");
        std::fs::create_dir_all(&devices).unwrap();
        for f in ["devices.allow", "devices.deny"] {
            std::fs::write(devices.join(f), "").unwrap();
        }
        let mut m = V1Manager::new(
            hierarchies,
            &CgroupPath::parse(Some("/x"), "id").unwrap(),
            false,
        );
        let sysfs = tmp.path().join("hugepages");
        std::fs::create_dir_all(sysfs.join("hugepages-2048kB")).unwrap();
        m.hugepages_dir = sysfs;
        m.set(
            &serde_json::from_str(
                r#"{"blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}]},
                    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                    "network": {"classID": 1048577, "priorities": [{"name": "lo", "priority": 3}]},
                    "rdma": {"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let read = |f: &str| std::fs::read_to_string(tmp.path().join(f)).unwrap();
        assert_eq!(read("blkio/x/blkio.bfq.weight"), "300");
        assert_eq!(
            read("blkio/x/blkio.throttle.read_bps_device"),
            "254:0 1048576"
        );
        assert_eq!(read("hugetlb/x/hugetlb.2MB.limit_in_bytes"), "4194304");
        assert_eq!(read("net_cls,net_prio/x/net_cls.classid"), "1048577");
        assert_eq!(read("net_cls,net_prio/x/net_prio.ifpriomap"), "lo 3");
        assert_eq!(
            read("rdma/x/rdma.max"),
            "mlx4_0 hca_handle=2 hca_object=2000"
        );
    }

    #[test]
    fn check_before_update_refuses_a_limit_below_usage() {
        let tmp = tempfile::tempdir().unwrap();
        let m = manager_at_x(tmp.path());
        let memory = tmp.path().join("memory/x");
        std::fs::create_dir_all(&memory).unwrap();
        std::fs::write(memory.join("memory.usage_in_bytes"), "1000000\n").unwrap();
        std::fs::write(
            memory.join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            m.set(
                &serde_json::from_str(
                    r#"{"memory": {"limit": 500000, "checkBeforeUpdate": true}}"#
                )
                .unwrap()
            )
            .unwrap_err()
        );
        assert!(
            err.contains("checkBeforeUpdate") && err.contains("1000000"),
            "{err}"
        );
        // Nothing was written.
        assert_eq!(
            std::fs::read_to_string(memory.join("memory.limit_in_bytes")).unwrap(),
            "9223372036854771712\n"
        );
    }

    #[test]
    fn freezing_without_a_freezer_hierarchy_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let m = manager_at_x(tmp.path());
        assert!(m.freeze(true).unwrap_err().to_string().contains("freezer"));
        assert!(!m.is_frozen().unwrap());
    }
}
