//! The cgroup v2 driver (cgroupfs) for hosts where /sys/fs/cgroup is cgroup2.
//!
//! `linux.resources.devices` is an eBPF program on v2 (devices_bpf/).

mod cpu;
pub mod devices_bpf;
mod freezer;
mod io;
mod memory;

pub use cpu::cpu_shares_to_weight;
// The systemd driver converts memory.swap the same way for MemorySwapMax.
pub(super) use memory::swap_for_v2;

use super::fs;
use super::host::Hierarchy;
use super::hugetlb::{
    apply_hugepage_limits, validate_page_sizes, HugetlbFiles, HOST_HUGEPAGES_DIR,
};
use super::memory_check::check_memory_before_update;
use super::path::CgroupPath;
use super::pids::{apply_pids_limit, pids_max_value};
use super::rdma::apply_rdma;
use super::{Manager, SelfJoin, SubCgroups};
use crate::logging;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemory, LinuxNetwork, LinuxResources};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct V2Manager {
    /// The cgroup2 mount point (`/sys/fs/cgroup`).
    root: PathBuf,
    /// The container's cgroup directory.
    path: PathBuf,
    /// Where the host lists its huge page sizes (tests use a fake one).
    hugepages_dir: PathBuf,
    /// Unprivileged: the cgroup is used when the user was delegated a
    /// subtree (chown by root) and skipped when not, as runc does.
    rootless: bool,
}

impl V2Manager {
    pub fn new(hierarchy: &Hierarchy, path: &CgroupPath) -> Self {
        Self::with_rootless(hierarchy, path, false)
    }

    /// `new` for a rootless container (see `rootless`).
    pub fn with_rootless(hierarchy: &Hierarchy, path: &CgroupPath, rootless: bool) -> Self {
        V2Manager {
            rootless,
            root: hierarchy.mount_point.clone(),
            // runc uses the parent of its own cgroup for relative paths on v2.
            path: path.dir_in(hierarchy, true),
            hugepages_dir: PathBuf::from(HOST_HUGEPAGES_DIR),
        }
    }

    /// Make every available controller usable in the container's cgroup:
    /// a v2 controller only appears in a child when the parent lists it in
    /// cgroup.subtree_control, from the root down to the container's parent.
    fn enable_controllers(&self) -> Result<()> {
        let Ok(relative) = self.path.strip_prefix(&self.root) else {
            return Ok(());
        };
        let mut level = self.root.clone();
        for component in relative.components() {
            match enable_all_controllers_in(&level) {
                // Rootless: levels above the delegated subtree belong to
                // root; what they enable is what the user gets.
                Err(e) if self.rootless && fs::is_permission_error(&e) => {}
                other => other?,
            }
            level.push(component);
        }
        Ok(())
    }

    fn existing_path(&self) -> Result<&Path> {
        if !self.path.is_dir() {
            if self.rootless {
                bail!("{}", self.no_rootless_cgroup());
            }
            bail!("cgroup {} does not exist", self.path.display());
        }
        Ok(&self.path)
    }

    /// Why a rootless container has no cgroup (apply skipped it).
    fn no_rootless_cgroup(&self) -> String {
        format!(
            "the container has no cgroup: it runs rootless and uid {} may not create {} (delegate a cgroup v2 subtree to the user: chown by root)",
            nix::unistd::geteuid(),
            self.path.display()
        )
    }
}

/// The first `linux.resources` field that needs the container's own cgroup
/// (devices are not one: rootless cannot load a device filter anyway).
fn first_limit_field(r: &LinuxResources) -> Option<&'static str> {
    [
        (r.memory().is_some(), "linux.resources.memory"),
        (r.cpu().is_some(), "linux.resources.cpu"),
        (r.pids().is_some(), "linux.resources.pids"),
        (r.block_io().is_some(), "linux.resources.blockIO"),
        (
            r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()),
            "linux.resources.hugepageLimits",
        ),
        (r.rdma().is_some(), "linux.resources.rdma"),
        (
            r.unified().as_ref().is_some_and(|u| !u.is_empty()),
            "linux.resources.unified",
        ),
    ]
    .into_iter()
    .find_map(|(set, field)| set.then_some(field))
}

/// Write every controller of `dir/cgroup.controllers` to its
/// cgroup.subtree_control. All at once first; if the kernel refuses (e.g. a
/// controller busy in a threaded subtree), one at a time, keeping those it takes.
fn enable_all_controllers_in(dir: &Path) -> Result<()> {
    let available = fs::read(dir, "cgroup.controllers")?;
    let wanted: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    if fs::write_raw(dir, "cgroup.subtree_control", &wanted.join(" ")).is_ok() {
        return Ok(());
    }
    for controller in &wanted {
        // A controller the kernel will not enable here is reported when a
        // field needs its file (the write then names the missing file).
        let _ = fs::write_raw(dir, "cgroup.subtree_control", controller);
    }
    Ok(())
}

/// `linux.resources.network` (classID, priorities): the net_cls and
/// net_prio controllers exist only on cgroup v1. runc 1.1 ignores both on v2
/// without a word; we ignore them too, so configs made for v1 still run, but
/// say so. (On v2, match packets by cgroup path instead, e.g. nftables
/// `socket cgroupv2`.)
fn warn_network(network: &LinuxNetwork) {
    if network.class_id().is_some() {
        logging::warn(
            "linux.resources.network.classID: cgroup v2 has no net_cls controller; ignored",
        );
    }
    if network.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
        logging::warn(
            "linux.resources.network.priorities: cgroup v2 has no net_prio controller; ignored",
        );
    }
}

/// `linux.resources.unified`: raw v2 files, written last so they win over
/// the typed fields, as in runc. Keys must be plain file names: one with a
/// "/" or that is "." or ".." would write outside the container's cgroup.
fn apply_unified(dir: &Path, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort(); // a stable order makes errors reproducible
    for key in keys {
        let field = format!("linux.resources.unified[{key:?}]");
        if key.is_empty() || key.contains('/') || key == "." || key == ".." {
            bail!(
                "{field}: not a cgroup file name (it would leave the container's cgroup directory)"
            );
        }
        let value = &unified[key];
        if !dir.join(key).exists() {
            bail!(
                "{field}: {} does not exist (controller not enabled or not in this kernel)",
                dir.join(key).display()
            );
        }
        fs::write(dir, key, value).context(field)?;
    }
    Ok(())
}

impl Manager for V2Manager {
    fn apply(&self, pid: i32) -> Result<()> {
        let joined = fs::create_levels(&self.root, &self.path, |_| Ok(()))
            .and_then(|()| self.enable_controllers())
            .and_then(|()| fs::write(&self.path, "cgroup.procs", &pid.to_string()));
        match joined {
            // Rootless without a delegated subtree: no cgroup, as runc.
            Err(e) if self.rootless && fs::is_permission_error(&e) => {
                logging::debug(&format!("rootless: no cgroup: {e:#}"));
                if self.path.is_dir() {
                    // Made but not joinable (a parent we may not write):
                    // remove it so the container really has none.
                    let _ = fs::remove_tree(&self.path);
                }
                Ok(())
            }
            other => other.with_context(|| format!("moving pid {pid} into its cgroup")),
        }
    }

    fn prepare_self_join(&self, _child_has_host_creds: bool) -> Result<Option<SelfJoin>> {
        // Rootless: whether a cgroup is used at all depends on delegation,
        // which `apply` sorts out.
        if self.rootless {
            return Ok(None);
        }
        fs::create_levels(&self.root, &self.path, |_| Ok(()))
            .and_then(|()| self.enable_controllers())
            .context("creating the container's cgroup")?;
        Ok(Some(SelfJoin {
            clone_into: Some(super::self_join::open_cgroup_dir(&self.path)?),
            tasks_dirs: Vec::new(),
        }))
    }

    fn prepare_self_enter(&self, sub: &SubCgroups) -> Result<Option<SelfJoin>> {
        if self.rootless {
            return Ok(None);
        }
        let dir = match sub.for_unified()? {
            Some(s) => super::sub::join_sub(&self.path, s)?,
            None => self.existing_path()?.to_path_buf(),
        };
        Ok(Some(SelfJoin {
            clone_into: Some(super::self_join::open_cgroup_dir(&dir)?),
            tasks_dirs: Vec::new(),
        }))
    }

    fn enter(&self, pid: i32, sub: &SubCgroups) -> Result<()> {
        let dir = match sub.for_unified()? {
            Some(s) => super::sub::join_sub(&self.path, s)?,
            None if self.rootless && !self.path.is_dir() => return Ok(()),
            None => self.existing_path()?.to_path_buf(),
        };
        fs::write(&dir, "cgroup.procs", &pid.to_string())
            .with_context(|| format!("moving pid {pid} into cgroup {}", dir.display()))
    }

    fn set(&self, resources: &LinuxResources) -> Result<()> {
        if self.rootless && !self.path.is_dir() {
            return match first_limit_field(resources) {
                Some(field) => bail!("{field}: {}", self.no_rootless_cgroup()),
                None => Ok(()),
            };
        }
        let dir = self.existing_path()?;
        if let Some(m) = resources.memory() {
            self.check_memory_before_update(m)?;
            memory::apply_memory(dir, m)?;
        }
        if let Some(c) = resources.cpu() {
            cpu::apply_cpu(dir, c)?;
            cpu::apply_cpuset(dir, c)?;
        }
        if let Some(p) = resources.pids() {
            if pids_max_value(p).is_some() {
                apply_pids_limit(dir, p)?;
            }
        }
        if let Some(b) = resources.block_io() {
            io::apply_block_io(dir, b)?;
        }
        if let Some(limits) = resources
            .hugepage_limits()
            .as_deref()
            .filter(|l| !l.is_empty())
        {
            validate_page_sizes(limits, &self.hugepages_dir)?;
            apply_hugepage_limits(dir, limits, HugetlbFiles::V2)?;
        }
        if let Some(n) = resources.network() {
            warn_network(n);
        }
        if let Some(r) = resources.rdma() {
            apply_rdma(dir, r)?;
        }
        // Like v1: always applied (no list = only the default devices).
        devices_bpf::apply_devices(dir, resources.devices().as_deref().unwrap_or(&[]))?;
        if let Some(unified) = resources.unified() {
            apply_unified(dir, unified)?;
        }
        Ok(())
    }

    fn check_memory_before_update(&self, memory: &LinuxMemory) -> Result<()> {
        check_memory_before_update(&self.path, "memory.current", memory)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        if self.rootless && !self.path.is_dir() {
            bail!(
                "the container's processes cannot be listed: {}",
                self.no_rootless_cgroup()
            );
        }
        fs::pids_recursive(&self.path)
    }

    fn freeze(&self, frozen: bool) -> Result<()> {
        freezer::set_frozen(self.existing_path()?, frozen)
    }

    fn is_frozen(&self) -> Result<bool> {
        if !self.path.is_dir() {
            return Ok(false);
        }
        freezer::events_frozen(&self.path)
    }

    fn stats(&self) -> Result<super::stats::Stats> {
        super::stats::v2::read(self.existing_path()?)
    }

    fn destroy(&self) -> Result<()> {
        match fs::remove_tree(&self.path) {
            // Rootless: a directory we may not remove is not one we made.
            Err(e) if self.rootless && fs::is_permission_error(&e) => Ok(()),
            other => other,
        }
    }

    fn paths(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake cgroup2 root: plain files where the kernel would have them.
    /// The container's directory and files are created up front because plain
    /// mkdir does not populate control files.
    struct FakeRoot {
        tmp: tempfile::TempDir,
    }

    const LEAF_FILES: &[&str] = &[
        "cgroup.procs",
        "cgroup.freeze",
        "cgroup.events",
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "pids.max",
        "cpu.weight",
        "cpu.max",
        "cpu.max.burst",
        "cpuset.cpus",
        "cpuset.mems",
        "memory.high",
        "memory.current",
        "io.max",
        "io.weight",
        "hugetlb.2MB.max",
        "hugetlb.2MB.rsvd.max",
        "rdma.max",
    ];

    impl FakeRoot {
        fn new(leaf: &str) -> FakeRoot {
            let tmp = tempfile::tempdir().unwrap();
            let mut level = tmp.path().to_path_buf();
            std::fs::write(level.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
            std::fs::write(level.join("cgroup.subtree_control"), "").unwrap();
            let parts: Vec<&str> = leaf.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                level.push(part);
                std::fs::create_dir(&level).unwrap();
                if i + 1 < parts.len() {
                    std::fs::write(level.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
                    std::fs::write(level.join("cgroup.subtree_control"), "").unwrap();
                }
            }
            for f in LEAF_FILES {
                std::fs::write(level.join(f), "").unwrap();
            }
            FakeRoot { tmp }
        }

        fn manager(&self, path: &str) -> V2Manager {
            let hierarchy = Hierarchy {
                controllers: vec![],
                mount_point: self.tmp.path().to_path_buf(),
                own_cgroup: PathBuf::from("own/leaf"),
            };
            let mut m = V2Manager::new(&hierarchy, &CgroupPath::parse(Some(path), "id").unwrap());
            let sysfs = self.tmp.path().join("sysfs-hugepages");
            std::fs::create_dir_all(sysfs.join("hugepages-2048kB")).unwrap();
            m.hugepages_dir = sysfs;
            m
        }

        fn read(&self, relative: &str) -> String {
            std::fs::read_to_string(self.tmp.path().join(relative)).unwrap()
        }
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn apply_enables_controllers_in_every_parent_and_adds_the_pid() {
        let root = FakeRoot::new("a/b");
        let m = root.manager("/a/b");
        m.apply(4242).unwrap();
        assert_eq!(root.read("cgroup.subtree_control"), "+cpu +memory +pids");
        assert_eq!(root.read("a/cgroup.subtree_control"), "+cpu +memory +pids");
        assert_eq!(root.read("a/b/cgroup.procs"), "4242");
    }

    #[test]
    fn relative_paths_start_at_the_parent_of_the_own_cgroup() {
        let root = FakeRoot::new("own/ctr");
        let m = root.manager("ctr");
        assert_eq!(m.paths(), vec![root.tmp.path().join("own/ctr")]);
    }

    #[test]
    fn set_writes_v2_files() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        m.set(&resources(
            r#"{"memory": {"limit": 1000, "swap": 3000, "reservation": 500},
                "pids": {"limit": 5},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0-1", "mems": "0"},
                "unified": {"memory.high": "900"}}"#,
        ))
        .unwrap();
        for (file, want) in [
            ("c/memory.max", "1000"),
            ("c/memory.swap.max", "2000"),
            ("c/memory.low", "500"),
            ("c/pids.max", "5"),
            ("c/cpu.weight", "39"),
            ("c/cpu.max", "50000 100000"),
            ("c/cpu.max.burst", "1000"),
            ("c/cpuset.cpus", "0-1"),
            ("c/cpuset.mems", "0"),
            ("c/memory.high", "900"),
        ] {
            assert_eq!(root.read(file), want, "{file}");
        }
    }

    #[test]
    fn unlimited_values_are_max() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        m.set(&resources(
            r#"{"memory": {"limit": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}}"#,
        ))
        .unwrap();
        assert_eq!(root.read("c/memory.max"), "max");
        assert_eq!(root.read("c/memory.swap.max"), "max");
        assert_eq!(root.read("c/pids.max"), "max");
        assert_eq!(root.read("c/cpu.max"), "max 100000");
    }

    #[test]
    fn equal_swap_and_limit_disables_swap() {
        let root = FakeRoot::new("c");
        root.manager("/c")
            .set(&resources(r#"{"memory": {"limit": 1000, "swap": 1000}}"#))
            .unwrap();
        assert_eq!(root.read("c/memory.swap.max"), "0");
    }

    #[test]
    fn bad_values_name_the_field() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        for (json, field) in [
            (
                r#"{"memory": {"limit": 1000, "swap": 10}}"#,
                "linux.resources.memory.swap",
            ),
            (r#"{"cpu": {"realtimeRuntime": 10}}"#, "realtimeRuntime"),
            (r#"{"unified": {"../x": "1"}}"#, "linux.resources.unified"),
            (
                r#"{"unified": {"misc.max": "1"}}"#,
                "linux.resources.unified",
            ),
            (
                r#"{"devices": [{"allow": true, "access": "x"}]}"#,
                "linux.resources.devices[0]",
            ),
        ] {
            let err = format!("{:#}", m.set(&resources(json)).unwrap_err());
            assert!(err.contains(field), "{json}: {err}");
        }
    }

    #[test]
    fn set_writes_io_hugetlb_and_rdma() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        m.set(&resources(
            r#"{"blockIO": {"weight": 500, "leafWeight": 10,
                            "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                            "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
                "network": {"classID": 1},
                "rdma": {"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}}"#,
        ))
        .unwrap();
        for (file, want) in [
            ("c/io.weight", "4950"),
            ("c/io.max", "254:0 rbps=1048576 wiops=100"),
            ("c/hugetlb.2MB.max", "2097152"),
            ("c/hugetlb.2MB.rsvd.max", "2097152"),
            ("c/rdma.max", "mlx4_0 hca_handle=2 hca_object=2000"),
        ] {
            assert_eq!(root.read(file), want, "{file}");
        }
    }

    #[test]
    fn v2_errors_name_the_field() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        std::fs::write(root.tmp.path().join("c/memory.current"), "800000\n").unwrap();
        for (json, want) in [
            (
                r#"{"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}"#,
                "hugepageLimits[0].pageSize",
            ),
            (
                r#"{"blockIO": {"weight": 2000}}"#,
                "linux.resources.blockIO.weight",
            ),
            (
                r#"{"memory": {"limit": 700000, "checkBeforeUpdate": true}}"#,
                "linux.resources.memory.checkBeforeUpdate",
            ),
            (
                r#"{"unified": {"..": "1"}}"#,
                "linux.resources.unified[\"..\"]",
            ),
            (
                r#"{"unified": {"a/b": "1"}}"#,
                "linux.resources.unified[\"a/b\"]",
            ),
        ] {
            let err = format!("{:#}", m.set(&resources(json)).unwrap_err());
            assert!(err.contains(want), "{json}: {err}");
        }
        assert_eq!(root.read("c/memory.max"), "");
        // Above the usage, or without the check, the limit is written.
        m.set(&resources(
            r#"{"memory": {"limit": 900000, "checkBeforeUpdate": true}}"#,
        ))
        .unwrap();
        assert_eq!(root.read("c/memory.max"), "900000");
    }

    #[test]
    fn freeze_waits_for_cgroup_events() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        std::fs::write(
            root.tmp.path().join("c/cgroup.events"),
            "populated 1\nfrozen 1\n",
        )
        .unwrap();
        m.freeze(true).unwrap();
        assert_eq!(root.read("c/cgroup.freeze"), "1");
        assert!(m.is_frozen().unwrap());
        std::fs::write(
            root.tmp.path().join("c/cgroup.events"),
            "populated 1\nfrozen 0\n",
        )
        .unwrap();
        m.freeze(false).unwrap();
        assert_eq!(root.read("c/cgroup.freeze"), "0");
        assert!(!m.is_frozen().unwrap());
    }

    #[test]
    fn pids_and_destroy() {
        let root = FakeRoot::new("c");
        let m = root.manager("/c");
        std::fs::write(root.tmp.path().join("c/cgroup.procs"), "1\n2\n").unwrap();
        assert_eq!(m.pids().unwrap(), vec![1, 2]);
        // Plain directories with files cannot be rmdir'ed; cgroupfs ones can.
        for f in LEAF_FILES {
            std::fs::remove_file(root.tmp.path().join("c").join(f)).unwrap();
        }
        m.destroy().unwrap();
        assert!(!root.tmp.path().join("c").exists());
        m.destroy().unwrap();
    }
}
