//! Reading a container's processes and the host's mount table from /proc.

use std::fs;
use std::path::{Path, PathBuf};

/// The text of `/proc/PID/NAME` (e.g. "status", "uid_map", "mountinfo",
/// "ns/..." is not text: use [`ns_inode`]). Panics naming the file on error.
#[track_caller]
pub fn proc_file(pid: i32, name: &str) -> String {
    let path = format!("/proc/{pid}/{name}");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The value of `Key:` in a /proc/PID/status text, trimmed ("CapEff" ->
/// "00000000a80425fb").
pub fn status_field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim().to_string())
    })
}

/// The command line of a process, split at NULs.
#[track_caller]
pub fn cmdline(pid: i32) -> Vec<String> {
    proc_file(pid, "cmdline")
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The namespace link target of `/proc/PID/ns/KIND`, e.g. "mnt:[4026531841]".
#[track_caller]
pub fn ns_inode(pid: i32, kind: &str) -> String {
    let path = format!("/proc/{pid}/ns/{kind}");
    fs::read_link(&path)
        .unwrap_or_else(|e| panic!("readlink {path}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// True when PID exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the ")" that ends the command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// One line of /proc/PID/mountinfo (the fields tests look at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    /// Per-mount options (ro, nosuid, relatime...).
    pub mount_options: Vec<String>,
    pub fs_type: String,
    pub source: String,
    /// Per-superblock options (mode=755, size=...).
    pub super_options: Vec<String>,
    /// Optional fields such as "shared:1" or "master:2".
    pub propagation: Vec<String>,
}

/// Parse mountinfo text (see proc(5)); lines that do not parse are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let tail: Vec<&str> = after.split(' ').collect();
    if fields.len() < 6 || tail.len() < 3 {
        return None;
    }
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(fields[4])),
        mount_options: fields[5].split(',').map(str::to_string).collect(),
        propagation: fields[6..].iter().map(|s| s.to_string()).collect(),
        fs_type: tail[0].to_string(),
        source: unescape(tail[1]),
        super_options: tail[2].split(',').map(str::to_string).collect(),
    })
}

/// mountinfo writes space, tab, newline and backslash as \040 \011 \012 \134.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir` in this process's mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Remove `dir` without ever deleting through a mount point: leftover mounts
/// below it are detached first (deepest first). Returns the mount points that
/// were found, so the caller can report them as a leak.
pub fn remove_dir_safely(dir: &Path) -> Vec<PathBuf> {
    let mut leaked = mounts_under(dir);
    leaked.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for mount_point in &leaked {
        // MNT_DETACH: the mount may still be busy; it only has to disappear
        // from the tree we are about to delete.
        let _ = nix::mount::umount2(mount_point, nix::mount::MntFlags::MNT_DETACH);
    }
    let still_mounted = mounts_under(dir);
    if still_mounted.is_empty() {
        let _ = fs::remove_dir_all(dir);
    } else {
        eprintln!(
            "not removing {}: still mounted below it: {still_mounted:?}",
            dir.display()
        );
    }
    leaked
}

/// cgroup directories named `name` directly below any hierarchy under
/// /sys/fs/cgroup (v1 controllers, name=systemd, unified), i.e. what a
/// runtime creates for a container without linux.cgroupsPath.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    hierarchies
        .filter_map(Result::ok)
        .map(|h| h.path().join(name))
        .filter(|p| p.is_dir())
        .collect()
}

/// The cgroup directories PID is in, one per hierarchy, as host paths
/// (e.g. /sys/fs/cgroup/pids/nook-test-1-2), leaving out root cgroups and
/// those this test process is itself in. Read before deleting a container,
/// checked after, to find cgroups a runtime left behind.
pub fn cgroup_dirs_of(pid: i32) -> Vec<PathBuf> {
    let Ok(theirs) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let ours = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    theirs
        .lines()
        .filter(|line| !ours.lines().any(|l| l == *line))
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            if path == "/" {
                return None;
            }
            let mount = mounts.iter().find(|m| hierarchy_matches(m, controllers))?;
            Some(mount.mount_point.join(path.trim_start_matches('/')))
        })
        .collect()
}

/// Does this mount hold the hierarchy named in /proc/PID/cgroup? ""
/// is the v2 hierarchy; "cpu,cpuacct" or "name=systemd" name v1 ones.
fn hierarchy_matches(mount: &MountEntry, controllers: &str) -> bool {
    if controllers.is_empty() {
        return mount.fs_type == "cgroup2";
    }
    mount.fs_type == "cgroup"
        && controllers
            .split(',')
            .all(|c| mount.super_options.iter().any(|o| o == c))
}

/// Live (non-zombie) processes whose /proc/PID/cgroup names a cgroup path
/// containing `fragment` (e.g. a container id), as "PID [cgroup line]".
/// Zombies are dead and wait only for their parent to reap them.
pub fn live_processes_in_cgroups_matching(fragment: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
            let line = cgroup.lines().find(|l| l.contains(fragment))?;
            process_alive(pid).then(|| format!("{pid} [{line}]"))
        })
        .collect()
}
