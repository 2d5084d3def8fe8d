//! `exec --cgroup [CONTROLLER[,CONTROLLER...]:]PATH` (runc 1.1): run the
//! exec'd process in an existing sub-cgroup of the container's cgroup, either
//! in every hierarchy (no controller prefix, given once) or per controller
//! (the flag repeated, one prefix each).
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SubCgroups {
    /// A path for every hierarchy (`--cgroup PATH`).
    all: Option<String>,
    /// A path per controller name (`--cgroup pids,memory:PATH`).
    by_controller: BTreeMap<String, String>,
}

impl SubCgroups {
    /// Parses the `--cgroup` values, with runc's rules: at most one ':', and a
    /// value without a controller prefix only when it is the only one.
    pub fn parse(args: &[String]) -> Result<SubCgroups> {
        let mut sub = SubCgroups::default();
        for arg in args {
            let parts: Vec<&str> = arg.splitn(3, ':').collect();
            match parts.as_slice() {
                [path] => {
                    if args.len() != 1 {
                        bail!("invalid --cgroup argument: {arg} (missing <controller>: prefix)");
                    }
                    sub.all = Some(path.to_string());
                }
                [controllers, path] => {
                    for controller in controllers.split(',') {
                        if controller.is_empty() {
                            bail!("invalid --cgroup argument: {arg} (empty controller name)");
                        }
                        sub.by_controller
                            .insert(controller.to_string(), path.to_string());
                    }
                }
                _ => bail!("invalid --cgroup argument: {arg}"),
            }
        }
        Ok(sub)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.by_controller.is_empty()
    }

    /// The controller names given with a prefix.
    pub fn controllers(&self) -> impl Iterator<Item = &str> {
        self.by_controller.keys().map(String::as_str)
    }

    /// The sub path for a hierarchy holding `controllers`, or None for the
    /// container's own cgroup there.
    pub fn for_hierarchy(&self, controllers: &[String]) -> Option<&str> {
        controllers
            .iter()
            .find_map(|c| self.by_controller.get(c))
            .or(self.all.as_ref())
            .map(String::as_str)
    }

    /// On cgroup v2 there is one hierarchy: one path, whichever way it was given.
    pub fn for_unified(&self) -> Result<Option<&str>> {
        if let Some(all) = &self.all {
            return Ok(Some(all));
        }
        let mut paths: Vec<&String> = self.by_controller.values().collect();
        paths.dedup();
        match paths.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.as_str())),
            _ => bail!("--cgroup: cgroup v2 has one hierarchy, but the controllers name different paths {paths:?}"),
        }
    }
}

/// `base/sub`, refusing a `sub` that leaves `base` (`..` beyond it); a
/// leading '/' is relative to `base` too, as runc joins them.
pub fn join_sub(base: &Path, sub: &str) -> Result<PathBuf> {
    let mut kept: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(sub).components() {
        match component {
            Component::Normal(name) => kept.push(name),
            Component::ParentDir => {
                if kept.pop().is_none() {
                    bail!("--cgroup: {sub} is not a sub cgroup path");
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let mut path = base.to_path_buf();
    path.extend(kept);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SubCgroups> {
        SubCgroups::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms_of_the_flag() {
        let all = parse(&["foo"]).unwrap();
        assert_eq!(all.for_hierarchy(&names(&["pids"])), Some("foo"));
        assert_eq!(all.for_unified().unwrap(), Some("foo"));

        let per = parse(&["pids,memory:a", "cpu:b"]).unwrap();
        assert_eq!(per.for_hierarchy(&names(&["pids"])), Some("a"));
        assert_eq!(per.for_hierarchy(&names(&["cpu", "cpuacct"])), Some("b"));
        assert_eq!(per.for_hierarchy(&names(&["devices"])), None);
        assert_eq!(
            per.controllers().collect::<Vec<_>>(),
            ["cpu", "memory", "pids"]
        );
        assert!(per.for_unified().is_err());
        assert_eq!(
            parse(&["pids:a", "memory:a"])
                .unwrap()
                .for_unified()
                .unwrap(),
            Some("a")
        );
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_forms_use_runcs_wording() {
        let err = parse(&["a:b:c"]).unwrap_err().to_string();
        assert_eq!(err, "invalid --cgroup argument: a:b:c");
        let err = parse(&["foo", "pids:foo"]).unwrap_err().to_string();
        assert!(err.contains("missing <controller>: prefix"), "{err}");
        assert!(parse(&[",pids:x"]).is_err());
    }

    #[test]
    fn sub_paths_stay_inside_the_container_cgroup() {
        let base = Path::new("/sys/fs/cgroup/pids/ctr");
        assert_eq!(join_sub(base, "foo").unwrap(), base.join("foo"));
        assert_eq!(join_sub(base, "/foo/../bar").unwrap(), base.join("bar"));
        assert_eq!(join_sub(base, "a/./b").unwrap(), base.join("a/b"));
        let err = join_sub(base, "/../..").unwrap_err().to_string();
        assert!(err.contains("is not a sub cgroup path"), "{err}");
        assert!(join_sub(base, "a/../../x").is_err());
    }
}
