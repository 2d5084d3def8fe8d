//! The systemd form of `linux.cgroupsPath`: `slice:prefix:name`
//! (e.g. `system.slice:docker:1234` → unit `docker-1234.scope` in `system.slice`).
//! Parsed here so the systemd driver (a later issue) can reuse it.

use anyhow::{bail, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCgroupPath {
    /// The parent slice (`system.slice`); empty means the driver's default
    /// (`system.slice`, or `user.slice` when rootless, as runc does).
    pub slice: String,
    /// The scope name prefix (`docker`); may be empty.
    pub prefix: String,
    /// The container's name: a scope name, or a slice when it ends in `.slice`.
    pub name: String,
}

impl SystemdCgroupPath {
    /// Parse `slice:prefix:name`; `None`/empty gives runc's default
    /// (`:runc:<container id>`).
    pub fn parse(cgroups_path: Option<&str>, container_id: &str) -> Result<Self> {
        let Some(path) = cgroups_path.filter(|p| !p.is_empty()) else {
            return Ok(SystemdCgroupPath {
                slice: String::new(),
                prefix: "runc".into(),
                name: container_id.into(),
            });
        };
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            bail!(
                "linux.cgroupsPath {path:?}: expected \"slice:prefix:name\" for the systemd cgroup driver"
            );
        };
        if !slice.is_empty() && (!slice.ends_with(".slice") || slice.contains('/')) {
            bail!("linux.cgroupsPath {path:?}: slice {slice:?} must be a unit name ending in \".slice\"");
        }
        for (what, value) in [("prefix", prefix), ("name", name)] {
            if value.contains('/') {
                bail!("linux.cgroupsPath {path:?}: {what} {value:?} must not contain '/'");
            }
        }
        if name.is_empty() {
            bail!("linux.cgroupsPath {path:?}: name must not be empty");
        }
        Ok(SystemdCgroupPath {
            slice: slice.into(),
            prefix: prefix.into(),
            name: name.into(),
        })
    }

    /// The systemd unit the container runs in: `prefix-name.scope`, or `name`
    /// itself when it is a slice.
    pub fn unit_name(&self) -> String {
        if self.name.ends_with(".slice") {
            self.name.clone()
        } else if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }
}

/// The cgroup directory of a slice: systemd nests `a-b.slice` in `a.slice`,
/// so `a-b-c.slice` lives at `a.slice/a-b.slice/a-b-c.slice`.
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        bail!("{slice:?} is not a slice name (must end in \".slice\")");
    };
    if stem == "-" {
        return Ok(PathBuf::new()); // "-.slice" is the root slice
    }
    // A '/' would make a part of the path absolute or nested (found by
    // fuzzing: "/x.slice" expanded to the absolute path "/x.slice").
    if stem.is_empty()
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
        || stem.contains('/')
    {
        bail!("{slice:?} is not a valid slice name");
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slice_prefix_name() {
        let p = SystemdCgroupPath::parse(Some("system.slice:docker:1234"), "id").unwrap();
        assert_eq!(p.slice, "system.slice");
        assert_eq!(p.unit_name(), "docker-1234.scope");
    }

    #[test]
    fn default_is_runc_prefix_and_container_id() {
        let p = SystemdCgroupPath::parse(None, "web").unwrap();
        assert_eq!(p.slice, "");
        assert_eq!(p.unit_name(), "runc-web.scope");
    }

    #[test]
    fn empty_prefix_and_slice_name() {
        assert_eq!(
            SystemdCgroupPath::parse(Some(":: x"), "id")
                .unwrap()
                .unit_name(),
            " x.scope"
        );
        assert_eq!(
            SystemdCgroupPath::parse(Some("a.slice::b.slice"), "id")
                .unwrap()
                .unit_name(),
            "b.slice"
        );
    }

    /// Regression (fuzz/regressions/parsers/expand-slice-with-slash): a
    /// slice with '/' expanded to a path outside the cgroup hierarchy.
    #[test]
    fn slice_with_a_slash_is_not_expanded() {
        for bad in [
            "/x.slice",
            "/x-y.slice",
            "a-b/c.slice",
            "a/../../b.slice",
            "\u{0}/P-z.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
        assert_eq!(
            expand_slice("a-b.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice")
        );
    }

    #[test]
    fn rejects_malformed_forms_naming_the_field() {
        for bad in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "notaslice:p:n",
            "x.slice:p:",
            "a/b.slice:p:n",
            "s.slice:p/x:n",
        ] {
            let err = SystemdCgroupPath::parse(Some(bad), "id")
                .unwrap_err()
                .to_string();
            assert!(err.contains("linux.cgroupsPath"), "{bad}: {err}");
        }
    }

    #[test]
    fn expands_nested_slices() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::new());
        assert!(expand_slice("a--b.slice").is_err());
        assert!(expand_slice("ab").is_err());
    }
}
