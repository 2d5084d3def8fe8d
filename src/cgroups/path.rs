//! `linux.cgroupsPath` for the cgroupfs drivers (v1 and v2), with runc's meaning:
//! - absolute (`/a/b`): relative to the root of every hierarchy;
//! - relative (`a/b`): relative to the runtime's own cgroup in each hierarchy
//!   (on pure v2, to the *parent* of the runtime's own cgroup, see `dir_in`);
//! - absent or empty: the container id, as a relative path (runc 1.1 on this
//!   host puts container `x` at `/sys/fs/cgroup/memory/<runc's own memory cgroup>/x`).

use super::host::Hierarchy;
use anyhow::{bail, Result};
use std::path::{Component, Path, PathBuf};

/// A validated `linux.cgroupsPath`: normal components only, never the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupPath {
    /// Whether the path starts at each hierarchy's root.
    pub absolute: bool,
    /// The path's components, joined (`a/b`); never empty, never `..`.
    pub inner: PathBuf,
}

impl CgroupPath {
    /// Validate `linux.cgroupsPath`, or default to the container id when absent.
    pub fn parse(cgroups_path: Option<&str>, container_id: &str) -> Result<CgroupPath> {
        match cgroups_path.filter(|p| !p.is_empty()) {
            Some(path) => parse_given(path),
            None => default_for(container_id),
        }
    }

    /// The container's cgroup directory in hierarchy `h`.
    ///
    /// `own_parent`: use the parent of the runtime's own cgroup as the base of a
    /// relative path. runc does this on pure cgroup v2 because the runtime's own
    /// cgroup usually holds processes, and v2 forbids enabling controllers for
    /// children of a cgroup that has processes ("no internal processes").
    pub fn dir_in(&self, h: &Hierarchy, own_parent: bool) -> PathBuf {
        if self.absolute {
            return h.mount_point.join(&self.inner);
        }
        let base: &Path = if own_parent {
            h.own_cgroup.parent().unwrap_or(Path::new(""))
        } else {
            &h.own_cgroup
        };
        h.mount_point.join(base).join(&self.inner)
    }
}

fn parse_given(path: &str) -> Result<CgroupPath> {
    let mut inner = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => inner.push(name),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => bail!(
                "linux.cgroupsPath {path:?}: \"..\" is not allowed (the path must stay inside the cgroup hierarchy)"
            ),
        }
    }
    if inner.as_os_str().is_empty() {
        bail!("linux.cgroupsPath {path:?}: names the root of the cgroup hierarchy; give a path below it");
    }
    Ok(CgroupPath {
        absolute: path.starts_with('/'),
        inner,
    })
}

/// runc's default when `linux.cgroupsPath` is absent: the container id, relative.
fn default_for(container_id: &str) -> Result<CgroupPath> {
    let mut components = Path::new(container_id).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(CgroupPath {
            absolute: false,
            inner: PathBuf::from(container_id),
        }),
        _ => bail!(
            "container id {container_id:?} cannot be used as the default cgroup name (linux.cgroupsPath is not set)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(own: &str) -> Hierarchy {
        Hierarchy {
            controllers: vec!["memory".into()],
            mount_point: PathBuf::from("/sys/fs/cgroup/memory"),
            own_cgroup: PathBuf::from(own),
        }
    }

    #[test]
    fn absolute_path_is_below_each_hierarchy_root() {
        let p = CgroupPath::parse(Some("/nook/ctr"), "id").unwrap();
        assert_eq!(
            p.dir_in(&hierarchy("process_api/abc"), false),
            PathBuf::from("/sys/fs/cgroup/memory/nook/ctr")
        );
    }

    #[test]
    fn relative_path_is_below_the_runtime_own_cgroup() {
        let p = CgroupPath::parse(Some("nook/ctr"), "id").unwrap();
        assert_eq!(
            p.dir_in(&hierarchy("process_api/abc"), false),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/nook/ctr")
        );
        // Pure v2 uses the parent of the runtime's own cgroup.
        assert_eq!(
            p.dir_in(&hierarchy("process_api/abc"), true),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/nook/ctr")
        );
        assert_eq!(
            p.dir_in(&hierarchy(""), true),
            PathBuf::from("/sys/fs/cgroup/memory/nook/ctr")
        );
    }

    #[test]
    fn absent_or_empty_path_defaults_to_the_container_id_relative() {
        for given in [None, Some("")] {
            let p = CgroupPath::parse(given, "web-1").unwrap();
            assert!(!p.absolute);
            assert_eq!(
                p.dir_in(&hierarchy("own"), false),
                PathBuf::from("/sys/fs/cgroup/memory/own/web-1")
            );
        }
    }

    #[test]
    fn redundant_separators_and_dots_are_dropped() {
        let p = CgroupPath::parse(Some("//a/./b/"), "id").unwrap();
        assert!(p.absolute);
        assert_eq!(p.inner, PathBuf::from("a/b"));
    }

    #[test]
    fn escaping_paths_are_rejected_naming_the_field() {
        for bad in ["../x", "/a/../../x", "a/..", "/..", "/", "/./"] {
            let err = CgroupPath::parse(Some(bad), "id").unwrap_err().to_string();
            assert!(err.contains("linux.cgroupsPath"), "{bad}: {err}");
        }
    }

    #[test]
    fn container_id_that_is_not_one_name_is_rejected() {
        for bad in ["..", "a/b", ".", "/x"] {
            assert!(CgroupPath::parse(None, bad).is_err(), "{bad}");
        }
    }
}
