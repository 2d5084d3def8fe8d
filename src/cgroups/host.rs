//! Which cgroup layout the host has, and where each hierarchy is mounted.
//!
//! Two layouts exist:
//! - pure cgroup v2: `/sys/fs/cgroup` itself is a cgroup2 filesystem;
//! - v1 ("legacy", or "hybrid" when a cgroup2 tree is mounted as well, e.g. at
//!   `/sys/fs/cgroup/unified`): `/sys/fs/cgroup` is a tmpfs holding one mount per
//!   v1 hierarchy (`cpu`, `cpu,cpuacct`, `name=systemd`, ...).
//!
//! Everything is read from text (`/proc/self/mountinfo`, `/proc/self/cgroup`) so
//! the layout logic can be tested without a real cgroup filesystem.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Where the host's cgroup information lives. `system()` is the real host;
/// tests point these at files in a temporary directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// The cgroup mount root (`/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
    /// `/proc/self/mountinfo`.
    pub mountinfo: PathBuf,
    /// `/proc/self/cgroup`: the runtime's own cgroup in every hierarchy.
    pub self_cgroup: PathBuf,
}

impl HostPaths {
    pub fn system() -> Self {
        HostPaths {
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
            self_cgroup: PathBuf::from("/proc/self/cgroup"),
        }
    }
}

/// One mounted cgroup hierarchy and the runtime's own cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 controllers bound to this hierarchy (`["cpu", "cpuacct"]`,
    /// `["name=systemd"]`); empty for a cgroup2 hierarchy.
    pub controllers: Vec<String>,
    /// Where the hierarchy is mounted (`/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The runtime's own cgroup, relative to `mount_point` (empty = the root).
    pub own_cgroup: PathBuf,
}

impl Hierarchy {
    /// Whether `controller` ("memory", "name=systemd") is bound to this hierarchy.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// Whether this is the cgroup2 (unified) hierarchy.
    pub fn is_unified(&self) -> bool {
        self.controllers.is_empty()
    }
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2: one hierarchy at the cgroup root.
    Unified(Hierarchy),
    /// cgroup v1 hierarchies, plus the cgroup2 hierarchy on a hybrid host
    /// (listed last, with no controllers).
    Legacy(Vec<Hierarchy>),
}

/// Read the layout of the running host from `paths`.
///
/// The real host's layout is read once per process and then reused: each
/// read costs a statfs and two /proc files (mountinfo alone about 0.1 ms),
/// and one command may build several managers (`run` builds four). Within
/// one process the answer cannot change: nook never moves itself to
/// another cgroup (the container init, which joins its cgroup by itself,
/// never builds a manager), and the host does not remount its cgroups
/// under a running command.
pub fn detect(paths: &HostPaths) -> Result<Layout> {
    static SYSTEM: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
    let system = *paths == HostPaths::system();
    if system {
        if let Some(layout) = SYSTEM.get() {
            return Ok(layout.clone());
        }
    }
    let layout = detect_uncached(paths)?;
    if system {
        let _ = SYSTEM.set(layout.clone());
    }
    Ok(layout)
}

fn detect_uncached(paths: &HostPaths) -> Result<Layout> {
    let unified = is_cgroup2_mount(&paths.cgroup_root)?;
    let mountinfo = std::fs::read_to_string(&paths.mountinfo)
        .with_context(|| format!("reading {}", paths.mountinfo.display()))?;
    let self_cgroup = std::fs::read_to_string(&paths.self_cgroup)
        .with_context(|| format!("reading {}", paths.self_cgroup.display()))?;
    layout_from_text(unified, &paths.cgroup_root, &mountinfo, &self_cgroup)
}

/// Whether `root` is a cgroup2 filesystem (statfs magic `CGROUP2_SUPER_MAGIC`).
fn is_cgroup2_mount(root: &Path) -> Result<bool> {
    let stat = nix::sys::statfs::statfs(root)
        .with_context(|| format!("statfs {} to find the cgroup version", root.display()))?;
    Ok(stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Build the layout from the text of mountinfo and /proc/self/cgroup.
/// `unified` says whether `cgroup_root` is itself a cgroup2 mount.
pub fn layout_from_text(
    unified: bool,
    cgroup_root: &Path,
    mountinfo: &str,
    self_cgroup: &str,
) -> Result<Layout> {
    let own = parse_proc_cgroup(self_cgroup);
    // Super options may hold mount flags besides controllers; keep only names
    // that /proc/self/cgroup knows as controllers of some hierarchy.
    let known: Vec<&str> = own
        .iter()
        .flat_map(|e| e.controllers.iter().map(String::as_str))
        .collect();
    let mut mounts = parse_mountinfo(mountinfo);
    for mount in &mut mounts {
        mount.controllers.retain(|c| known.contains(&c.as_str()));
    }
    let own_cgroup_of = |mount: &CgroupMount| -> PathBuf {
        let wanted: Vec<&str> = mount.controllers.iter().map(String::as_str).collect();
        own.iter()
            .find(|entry| same_set(&entry.controllers, &wanted))
            .map(|entry| relative_to_mount_root(&entry.path, &mount.root))
            .unwrap_or_default()
    };

    if unified {
        let Some(mount) = mounts
            .iter()
            .find(|m| m.is_cgroup2 && m.mount_point == cgroup_root)
        else {
            bail!(
                "{} is a cgroup2 filesystem but is not in mountinfo",
                cgroup_root.display()
            );
        };
        return Ok(Layout::Unified(Hierarchy {
            controllers: Vec::new(),
            mount_point: mount.mount_point.clone(),
            own_cgroup: own_cgroup_of(mount),
        }));
    }

    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    for mount in mounts
        .iter()
        .filter(|m| !m.is_cgroup2 && !m.controllers.is_empty())
    {
        // The same hierarchy may be mounted twice (bind mounts): keep the first.
        if hierarchies
            .iter()
            .any(|h| same_set(&h.controllers, &str_refs(&mount.controllers)))
        {
            continue;
        }
        hierarchies.push(Hierarchy {
            controllers: mount.controllers.clone(),
            mount_point: mount.mount_point.clone(),
            own_cgroup: own_cgroup_of(mount),
        });
    }
    if hierarchies.is_empty() {
        bail!(
            "no cgroup v1 hierarchy is mounted and {} is not cgroup2",
            cgroup_root.display()
        );
    }
    // Hybrid host: runc 1.1 also moves the container into the cgroup2 tree
    // (observed on this host: /sys/fs/cgroup/unified/<id>), so we do the same.
    if let Some(mount) = mounts.iter().find(|m| m.is_cgroup2) {
        hierarchies.push(Hierarchy {
            controllers: Vec::new(),
            mount_point: mount.mount_point.clone(),
            own_cgroup: own_cgroup_of(mount),
        });
    }
    Ok(Layout::Legacy(hierarchies))
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn same_set(a: &[String], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(&x.as_str()))
}

/// `/proc/self/cgroup` paths are from the hierarchy's root; a mount may show
/// only a subtree (`root` field of mountinfo), so strip that prefix.
fn relative_to_mount_root(cgroup: &str, mount_root: &str) -> PathBuf {
    let cgroup = Path::new(cgroup);
    let relative = cgroup
        .strip_prefix(mount_root)
        .unwrap_or_else(|_| Path::new(""));
    relative
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect()
}

/// A cgroup filesystem mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub mount_point: PathBuf,
    /// The mountinfo `root` field: which cgroup of the hierarchy is mounted.
    pub root: String,
    pub is_cgroup2: bool,
    /// v1 controllers (from the super options), empty for cgroup2.
    pub controllers: Vec<String>,
}

/// cgroup v1 super options that are not controllers.
const NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
    "nofavordynmods",
    "none",
];

/// Parse the cgroup mounts out of /proc/self/mountinfo.
/// Line format: `id parent maj:min root mount_point opts [optional...] - fstype source superopts`.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = before.split(' ').collect();
        let tail: Vec<&str> = after.split(' ').collect();
        if fields.len() < 5 || tail.len() < 3 {
            continue;
        }
        let fs_type = tail[0];
        if fs_type != "cgroup" && fs_type != "cgroup2" {
            continue;
        }
        let controllers = if fs_type == "cgroup" {
            tail[2]
                .split(',')
                .filter(|o| !NON_CONTROLLER_OPTIONS.contains(o) && !o.starts_with("release_agent="))
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        mounts.push(CgroupMount {
            mount_point: PathBuf::from(unescape_mountinfo(fields[4])),
            root: unescape_mountinfo(fields[3]),
            is_cgroup2: fs_type == "cgroup2",
            controllers,
        });
    }
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4);
        if bytes[i] == b'\\' {
            if let Some(digits) = octal.filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b))) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of /proc/self/cgroup: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroupEntry {
    /// Controllers of the hierarchy; empty for the cgroup2 line `0::/path`.
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<ProcCgroupEntry> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(ProcCgroupEntry {
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: path.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,nosuid,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:50 / /tmp/with\\040space rw - ext4 /dev/sda rw
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/user.slice
4:memory:/process_api/abc
2:cpuacct,cpu:/
1:cpu:/
0::/init.scope
";

    #[test]
    fn parses_v1_controllers_including_comounted_and_named() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[2].controllers, vec!["memory"]);
        assert_eq!(mounts[3].controllers, vec!["name=systemd"]);
        assert!(mounts[4].is_cgroup2);
    }

    #[test]
    fn hybrid_layout_lists_v1_hierarchies_then_unified_with_own_cgroups() {
        let layout = layout_from_text(
            false,
            Path::new("/sys/fs/cgroup"),
            HYBRID_MOUNTINFO,
            HYBRID_SELF,
        )
        .unwrap();
        let Layout::Legacy(h) = layout else {
            panic!("expected legacy layout")
        };
        assert_eq!(h.len(), 5);
        assert_eq!(
            h[1].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(h[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(h[1].own_cgroup, PathBuf::new());
        assert_eq!(h[2].own_cgroup, PathBuf::from("process_api/abc"));
        assert_eq!(h[3].own_cgroup, PathBuf::from("user.slice"));
        assert!(h[4].is_unified());
        assert_eq!(h[4].own_cgroup, PathBuf::from("init.scope"));
    }

    #[test]
    fn pure_v2_layout_uses_the_root_mount() {
        let mountinfo = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = layout_from_text(
            true,
            Path::new("/sys/fs/cgroup"),
            mountinfo,
            "0::/user.slice/session-1.scope\n",
        )
        .unwrap();
        assert_eq!(
            layout,
            Layout::Unified(Hierarchy {
                controllers: vec![],
                mount_point: PathBuf::from("/sys/fs/cgroup"),
                own_cgroup: PathBuf::from("user.slice/session-1.scope"),
            })
        );
    }

    #[test]
    fn own_cgroup_is_relative_to_the_mount_root() {
        let mountinfo =
            "35 31 0:32 /docker/ctr /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let layout = layout_from_text(
            false,
            Path::new("/sys/fs/cgroup"),
            mountinfo,
            "4:memory:/docker/ctr/sub\n",
        )
        .unwrap();
        let Layout::Legacy(h) = layout else {
            panic!("expected legacy layout")
        };
        assert_eq!(h[0].own_cgroup, PathBuf::from("sub"));
    }

    #[test]
    fn unescapes_octal_in_mount_points() {
        assert_eq!(unescape_mountinfo("/tmp/with\\040space"), "/tmp/with space");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }

    #[test]
    fn no_cgroup_mounts_is_an_error() {
        let err = layout_from_text(false, Path::new("/sys/fs/cgroup"), "", "").unwrap_err();
        assert!(err.to_string().contains("no cgroup v1 hierarchy"));
    }
}
