//! The systemd cgroup driver (`--systemd-cgroup`), like runc's: the
//! container's cgroup is a transient systemd unit (`prefix-name.scope` in the
//! slice of `linux.cgroupsPath` "slice:prefix:name"), created over D-Bus with
//! the limits as unit properties, so systemd knows about them and keeps them.
//! Then, as runc does, the cgroupfs driver of the host's cgroup version
//! writes every field to the unit's cgroup files too (systemd cannot express
//! all of them), and does the reading, freezing and listing.

mod annotations;
mod devices;
mod properties;
mod unit;

use super::host::{self, HostPaths, Layout};
use super::path::CgroupPath;
use super::stats::Stats;
use super::systemd_path::{expand_slice, SystemdCgroupPath};
use super::{v1, v2, CgroupSpec, Manager, SubCgroups};
use crate::dbus::Value;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use properties::{resource_properties, Property};
use std::collections::HashMap;
use std::path::PathBuf;
use unit::Systemd;

pub use annotations::properties_from_annotations;

/// The slice a container goes to when `linux.cgroupsPath` names none.
const DEFAULT_SLICE: &str = "system.slice";

/// What `create` knows beyond the stored `CgroupSpec`: the properties the
/// unit is started with. Later commands (delete, kill) rebuild the manager
/// without it.
pub struct StartConfig {
    pub resources: LinuxResources,
    /// From the `org.systemd.property.*` annotations, already parsed.
    pub extra_properties: Vec<Property>,
}

pub struct SystemdManager {
    /// `nook-c1.scope` (or a `.slice`).
    unit: String,
    /// The parent slice (`system.slice`).
    slice: String,
    /// `linux.cgroupsPath` and the container id, for messages.
    description: String,
    bus_address: String,
    /// systemd runs cgroup v2 (unified) here, else v1 (legacy or hybrid).
    unified: bool,
    /// The cgroupfs driver on the unit's cgroup.
    fs: Box<dyn Manager>,
    start: Option<StartConfig>,
}

/// The unit's cgroup, relative to each hierarchy's root:
/// `system.slice/nook-c1.scope`, or the expanded slice for a slice unit.
pub fn unit_cgroup(path: &SystemdCgroupPath) -> Result<PathBuf> {
    let unit = path.unit_name();
    if unit.ends_with(".slice") {
        return expand_slice(&unit).context("linux.cgroupsPath");
    }
    let slice = if path.slice.is_empty() {
        DEFAULT_SLICE
    } else {
        &path.slice
    };
    Ok(expand_slice(slice).context("linux.cgroupsPath")?.join(unit))
}

impl SystemdManager {
    /// The manager for `spec` on the host described by `host`.
    pub fn new(spec: &CgroupSpec, host: &HostPaths, start: Option<StartConfig>) -> Result<Self> {
        if spec.rootless {
            // TODO(rootless systemd): the user's bus (dbus::session_bus_address)
            // and user.slice; the D-Bus client already takes the address.
            bail!("the systemd cgroup driver is not supported for rootless containers yet (run without --systemd-cgroup)");
        }
        let path = SystemdCgroupPath::parse(spec.cgroups_path.as_deref(), &spec.container_id)?;
        let relative = unit_cgroup(&path)?;
        let cgroup = CgroupPath {
            absolute: true,
            inner: relative,
        };
        let (unified, fs): (bool, Box<dyn Manager>) = match host::detect(host)? {
            Layout::Unified(hierarchy) => (true, Box::new(v2::V2Manager::new(&hierarchy, &cgroup))),
            Layout::Legacy(hierarchies) => (
                false,
                Box::new(v1::V1Manager::new(hierarchies, &cgroup, spec.rootless)),
            ),
        };
        Ok(SystemdManager {
            unit: path.unit_name(),
            slice: if path.slice.is_empty() {
                DEFAULT_SLICE.to_string()
            } else {
                path.slice.clone()
            },
            description: format!("nook container {}", spec.container_id),
            bus_address: crate::dbus::system_bus_address(),
            unified,
            fs,
            start,
        })
    }

    /// The properties every unit is started with (runc's set).
    fn unit_properties(&self, pid: i32) -> Vec<Property> {
        let p = |name: &str, value: Value| (name.to_string(), value);
        let mut props = vec![p("Description", Value::str(&self.description))];
        if self.unit.ends_with(".slice") {
            // A slice's parent is given by its name; it holds no processes
            // itself (the pid is added through cgroupfs after the start).
            props.push(p("Wants", Value::str(&self.slice)));
        } else {
            props.push(p("Slice", Value::str(&self.slice)));
            props.push(p("Delegate", Value::Bool(true)));
            props.push(p(
                "PIDs",
                Value::array("u", vec![Value::Uint32(pid as u32)]),
            ));
        }
        props.push(p("DefaultDependencies", Value::Bool(false)));
        props.push(p("MemoryAccounting", Value::Bool(true)));
        props.push(p("CPUAccounting", Value::Bool(true)));
        props.push(p("TasksAccounting", Value::Bool(true)));
        if self.unified {
            props.push(p("IOAccounting", Value::Bool(true)));
        } else {
            props.push(p("BlockIOAccounting", Value::Bool(true)));
        }
        props
    }

    fn resource_properties(&self, resources: &LinuxResources) -> Result<Vec<Property>> {
        // /proc/devices names the device groups of `c 136:*`-style rules.
        let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
        resource_properties(resources, self.unified, &proc_devices)
    }

    /// Everything `apply(pid)` sends to systemd, in order: the unit's own
    /// properties, the limits, then the annotations (last, so they win).
    fn start_properties(&self, pid: i32) -> Result<Vec<Property>> {
        let mut props = self.unit_properties(pid);
        if let Some(start) = &self.start {
            props.extend(self.resource_properties(&start.resources)?);
            props.extend(start.extra_properties.iter().cloned());
        }
        Ok(props)
    }

    fn connect(&self) -> Result<Systemd> {
        Systemd::connect(&self.bus_address)
            .context("the systemd cgroup driver needs systemd on the system bus")
    }
}

impl Manager for SystemdManager {
    fn apply(&self, pid: i32) -> Result<()> {
        let props = self.start_properties(pid)?;
        let mut systemd = self.connect()?;
        systemd.start_transient_unit(&self.unit, &props)?;
        // systemd created the unit's cgroup and moved the pid in (on v2,
        // and on v1 in the hierarchies it manages). On v1 the cgroupfs
        // driver joins the others (cpuset, freezer, ...), as runc does; a
        // slice unit gets its pid this way too.
        if !self.unified || self.unit.ends_with(".slice") {
            self.fs.apply(pid)?;
        }
        Ok(())
    }

    fn set(&self, resources: &LinuxResources) -> Result<()> {
        // At create, apply already started the unit with these; a later
        // change (update) is sent as runtime properties.
        let sent_at_start = self
            .start
            .as_ref()
            .is_some_and(|s| &s.resources == resources);
        if !sent_at_start {
            // Before systemd changes anything: a refused limit leaves the
            // unit as it was.
            if let Some(m) = resources.memory() {
                self.check_memory_before_update(m)?;
            }
            let props = self.resource_properties(resources)?;
            if !props.is_empty() {
                self.connect()?.set_unit_properties(&self.unit, &props)?;
            }
        }
        self.fs.set(resources)
    }

    fn enter(&self, pid: i32, sub: &SubCgroups) -> Result<()> {
        self.fs.enter(pid, sub)
    }

    fn check_memory_before_update(&self, memory: &oci_spec::runtime::LinuxMemory) -> Result<()> {
        self.fs.check_memory_before_update(memory)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.fs.pids()
    }

    fn stats(&self) -> Result<Stats> {
        self.fs.stats()
    }

    fn freeze(&self, frozen: bool) -> Result<()> {
        self.fs.freeze(frozen)
    }

    fn is_frozen(&self) -> Result<bool> {
        self.fs.is_frozen()
    }

    fn destroy(&self) -> Result<()> {
        let stopped = match self.connect() {
            Ok(mut systemd) => {
                let stop = systemd.stop_unit(&self.unit);
                systemd.reset_failed_unit(&self.unit);
                stop
            }
            // Without a reachable systemd (it is gone, or the state moved
            // hosts) the unit cannot be running: removing the cgroup
            // directories below is all there is to do, so `delete` can
            // still clean up.
            Err(e) => {
                crate::logging::warn(&format!(
                    "cannot stop systemd unit {}: {e:#}; removing its cgroup directly",
                    self.unit
                ));
                Ok(())
            }
        };
        // Whatever systemd did, remove what is left (on v1, the hierarchies
        // systemd does not manage).
        let removed = self.fs.destroy();
        stopped?;
        removed
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.fs.paths()
    }
}

/// The start configuration for a container's config: its resources and its
/// `org.systemd.property.*` annotations (an annotation that cannot be
/// parsed is an error naming it).
pub fn start_config(
    resources: Option<&LinuxResources>,
    annotations: Option<&HashMap<String, String>>,
) -> Result<StartConfig> {
    Ok(StartConfig {
        resources: resources.cloned().unwrap_or_default(),
        extra_properties: match annotations {
            Some(a) => properties_from_annotations(a)?,
            None => Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parsed(path: &str) -> SystemdCgroupPath {
        SystemdCgroupPath::parse(Some(path), "id").unwrap()
    }

    #[test]
    fn scope_cgroup_is_under_the_expanded_slice() {
        assert_eq!(
            unit_cgroup(&parsed("system.slice:nook:c1")).unwrap(),
            PathBuf::from("system.slice/nook-c1.scope")
        );
        assert_eq!(
            unit_cgroup(&parsed("a-b.slice:p:c")).unwrap(),
            PathBuf::from("a.slice/a-b.slice/p-c.scope")
        );
        // No slice: system.slice, as runc (for root).
        assert_eq!(
            unit_cgroup(&parsed(":nook:c1")).unwrap(),
            PathBuf::from("system.slice/nook-c1.scope")
        );
        assert_eq!(
            unit_cgroup(&SystemdCgroupPath::parse(None, "web").unwrap()).unwrap(),
            PathBuf::from("system.slice/runc-web.scope")
        );
    }

    #[test]
    fn slice_unit_cgroup_is_its_own_expansion() {
        assert_eq!(
            unit_cgroup(&parsed("x.slice::m-n.slice")).unwrap(),
            PathBuf::from("m.slice/m-n.slice")
        );
    }

    /// A fake pure cgroup v2 host in a temporary directory.
    fn fake_v2_host(tmp: &Path) -> HostPaths {
        let root = tmp.join("cgroup");
        std::fs::create_dir_all(&root).unwrap();
        let mountinfo = tmp.join("mountinfo");
        std::fs::write(
            &mountinfo,
            format!(
                "30 1 0:26 / {} rw,nosuid shared:4 - cgroup2 cgroup2 rw\n",
                root.display()
            ),
        )
        .unwrap();
        let self_cgroup = tmp.join("self_cgroup");
        std::fs::write(&self_cgroup, "0::/init.scope\n").unwrap();
        HostPaths {
            cgroup_root: root,
            mountinfo,
            self_cgroup,
        }
    }

    fn spec(path: &str) -> CgroupSpec {
        CgroupSpec {
            cgroups_path: Some(path.into()),
            container_id: "c1".into(),
            systemd: true,
            rootless: false,
        }
    }

    #[test]
    fn start_properties_hold_unit_limits_and_annotations_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut host = fake_v2_host(tmp.path());
        // statfs of a plain directory is not cgroup2: use the manager's
        // parts directly with a v1-looking host instead of detect().
        host.cgroup_root = tmp.path().join("cgroup");
        let resources: LinuxResources =
            serde_json::from_str(r#"{"memory": {"limit": 1000}, "pids": {"limit": 5}}"#).unwrap();
        let annotations: HashMap<String, String> = [(
            "org.systemd.property.CollectMode".to_string(),
            "'inactive-or-failed'".to_string(),
        )]
        .into();
        let m = SystemdManager {
            unit: "nook-c1.scope".into(),
            slice: "system.slice".into(),
            description: "nook container c1".into(),
            bus_address: "unix:path=/nonexistent".into(),
            unified: true,
            fs: Box::new(v2::V2Manager::new(
                &host::Hierarchy {
                    controllers: vec![],
                    mount_point: host.cgroup_root.clone(),
                    own_cgroup: PathBuf::new(),
                },
                &CgroupPath {
                    absolute: true,
                    inner: "system.slice/nook-c1.scope".into(),
                },
            )),
            start: Some(start_config(Some(&resources), Some(&annotations)).unwrap()),
        };
        let props = m.start_properties(42).unwrap();
        let names: Vec<&str> = props.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            &names[..9],
            &[
                "Description",
                "Slice",
                "Delegate",
                "PIDs",
                "DefaultDependencies",
                "MemoryAccounting",
                "CPUAccounting",
                "TasksAccounting",
                "IOAccounting",
            ]
        );
        assert!(props.contains(&("PIDs".into(), Value::array("u", vec![Value::Uint32(42)]))));
        assert!(props.contains(&("Slice".into(), Value::str("system.slice"))));
        assert!(props.contains(&("MemoryMax".into(), Value::Uint64(1000))));
        assert!(props.contains(&("TasksMax".into(), Value::Uint64(5))));
        assert!(props.contains(&("DevicePolicy".into(), Value::str("strict"))));
        assert_eq!(
            props.last().unwrap(),
            &("CollectMode".to_string(), Value::str("inactive-or-failed"))
        );
        assert_eq!(
            m.paths(),
            vec![host.cgroup_root.join("system.slice/nook-c1.scope")]
        );
        // Without systemd on the bus, apply fails naming the driver's need.
        let err = m.apply(42).unwrap_err();
        assert!(format!("{err:#}").contains("systemd"), "{err:#}");
        // ... but destroy still removes a cgroup left behind, so `delete`
        // can clean up.
        let left = host.cgroup_root.join("system.slice/nook-c1.scope");
        std::fs::create_dir_all(&left).unwrap();
        m.destroy().unwrap();
        assert!(!left.exists());
    }

    #[test]
    fn rootless_is_refused_clearly() {
        let mut s = spec("system.slice:nook:c1");
        s.rootless = true;
        let err = SystemdManager::new(&s, &HostPaths::system(), None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("rootless"), "{err:#}");
    }

    #[test]
    fn bad_annotations_fail_start_config() {
        let annotations: HashMap<String, String> =
            [("org.systemd.property.Foo".to_string(), "(1)".to_string())].into();
        let err = start_config(None, Some(&annotations)).err().unwrap();
        assert!(format!("{err:#}").contains("org.systemd.property.Foo"));
    }
}
