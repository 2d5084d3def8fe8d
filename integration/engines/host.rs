//! What the cells read on the host: a container process's cgroup files and
//! namespaces, and removal of the cgroup trees an engine leaves behind.

use std::fs;
use std::path::PathBuf;

/// The host path of PID's cgroup in the v1 hierarchy of `controller`
/// ("memory", "freezer", "pids"), from /proc/PID/cgroup.
pub fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"));
    let path = text
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("pid {pid} is in no {controller} cgroup:\n{text}"));
    // The cpu and cpuacct hierarchies share a mount on this host, but each
    // controller also has its own directory (symlink) under /sys/fs/cgroup.
    PathBuf::from(format!(
        "/sys/fs/cgroup/{controller}{}",
        if path == "/" { "" } else { &path }
    ))
}

/// The trimmed content of `FILE` in PID's `controller` cgroup.
#[track_caller]
pub fn cgroup_value(pid: i32, controller: &str, file: &str) -> String {
    let path = cgroup_dir(pid, controller).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The target of /proc/PID/ns/KIND, e.g. "ipc:[4026531839]".
pub fn ns_link(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
}

/// Hierarchies under /sys/fs/cgroup where `name` (a top-level cgroup such
/// as "docker") exists now.
pub fn top_cgroups_named(name: &str) -> Vec<PathBuf> {
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    hierarchies
        .filter_map(Result::ok)
        // cpu and cpuacct are symlinks to "cpu,cpuacct": visit it once.
        .filter(|h| h.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|h| h.path().join(name))
        .filter(|p| p.is_dir())
        .collect()
}

/// Remove the cgroup tree `name` from every hierarchy, deepest first
/// (rmdir only: a cgroup with processes stays and is reported).
pub fn remove_cgroup_trees(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for top in top_cgroups_named(name) {
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for dir in dirs {
            if let Err(e) = fs::remove_dir(&dir) {
                problems.push(format!("cgroup {} left behind: {e}", dir.display()));
            }
        }
    }
    problems
}

fn collect_dirs(dir: &PathBuf, out: &mut Vec<PathBuf>) {
    out.push(dir.clone());
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&entry.path(), out);
            }
        }
    }
}
