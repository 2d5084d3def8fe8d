//! File operations on cgroup directories, shared by the v1 and v2 drivers.
//! Errors name the cgroup file; callers add the spec field.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Write `value` to the cgroup file `dir/file`.
///
/// The file is never created: a missing file means the kernel lacks the
/// feature, and creating a plain file would hide that.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    write_raw(dir, file, value)
        .with_context(|| format!("writing {value:?} to {}", dir.join(file).display()))
}

/// `write` without context, for callers that act on the errno.
pub fn write_raw(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join(file))?;
    // One write(2): cgroup files parse each write as one value.
    f.write_all(value.as_bytes())
}

/// Read the cgroup file `dir/file`, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// Read a cgroup file holding one unsigned number.
pub fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let text = read(dir, file)?;
    text.parse()
        .with_context(|| format!("{}: {text:?} is not a number", dir.join(file).display()))
}

/// Whether the io error is `errno`.
pub fn is_errno(err: &std::io::Error, errno: nix::errno::Errno) -> bool {
    err.raw_os_error() == Some(errno as i32)
}

/// Every pid in `dir/cgroup.procs` and in all its descendants' `cgroup.procs`.
/// A missing `dir` (the cgroup is gone) has no pids.
pub fn pids_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    if !dir.exists() {
        return Ok(pids);
    }
    collect_pids(dir, &mut pids)?;
    Ok(pids)
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let text = match std::fs::read_to_string(&procs) {
        Ok(text) => text,
        // Removed while we walked: it has no pids left.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", procs.display())),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let pid = line
            .trim()
            .parse()
            .with_context(|| format!("{}: bad pid {line:?}", procs.display()))?;
        pids.push(pid);
    }
    for child in child_dirs(dir)? {
        collect_pids(&child, pids)?;
    }
    Ok(())
}

/// The sub-directories (child cgroups) of `dir`.
fn child_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

/// How often `remove_tree` retries an `EBUSY` rmdir: the last processes of a
/// killed container may still be exiting, and the kernel only lets a cgroup go
/// once they are gone.
const RMDIR_ATTEMPTS: u32 = 6;
const RMDIR_FIRST_DELAY: Duration = Duration::from_millis(10);

/// Remove the cgroup `dir` and every child cgroup in it, deepest first.
/// A directory that is already gone counts as removed.
pub fn remove_tree(dir: &Path) -> Result<()> {
    for child in child_dirs(dir)? {
        remove_tree(&child)?;
    }
    let mut delay = RMDIR_FIRST_DELAY;
    for attempt in 1..=RMDIR_ATTEMPTS {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if is_errno(&e, nix::errno::Errno::EBUSY) && attempt < RMDIR_ATTEMPTS => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(e).with_context(|| format!("removing cgroup {}", dir.display())),
        }
    }
    bail!("removing cgroup {}: still busy", dir.display())
}

/// Create `dir` and any missing parents below `root`, calling `on_level` for
/// each level from `root` (exclusive) down to `dir`, so a driver can
/// initialise each level (v1 cpuset copies cpus/mems from the parent).
pub fn create_levels(
    root: &Path,
    dir: &Path,
    mut on_level: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let relative = dir.strip_prefix(root).unwrap_or(dir);
    let mut current = root.to_path_buf();
    for component in relative.components() {
        current.push(component);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating cgroup {}", current.display()))
            }
        }
        on_level(&current)?;
    }
    Ok(())
}

/// Whether an error comes from missing permission (EACCES, EPERM, EROFS):
/// what a rootless runtime meets on hierarchies it was not delegated.
pub fn is_permission_error(err: &anyhow::Error) -> bool {
    use nix::errno::Errno;
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|e| {
            is_errno(e, Errno::EACCES) || is_errno(e, Errno::EPERM) || is_errno(e, Errno::EROFS)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_never_creates_a_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write(tmp.path(), "memory.limit_in_bytes", "1").unwrap_err();
        assert!(format!("{err:#}").contains("memory.limit_in_bytes"));
        assert!(!tmp.path().join("memory.limit_in_bytes").exists());
    }

    #[test]
    fn write_replaces_the_content() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pids.max"), "max\n").unwrap();
        write(tmp.path(), "pids.max", "7").unwrap();
        assert_eq!(read(tmp.path(), "pids.max").unwrap(), "7");
    }

    #[test]
    fn pids_are_collected_from_children_too() {
        let tmp = tempfile::tempdir().unwrap();
        let child = tmp.path().join("child");
        std::fs::create_dir(&child).unwrap();
        std::fs::write(tmp.path().join("cgroup.procs"), "10\n11\n").unwrap();
        std::fs::write(child.join("cgroup.procs"), "12\n").unwrap();
        let mut pids = pids_recursive(tmp.path()).unwrap();
        pids.sort();
        assert_eq!(pids, vec![10, 11, 12]);
        assert!(pids_recursive(&tmp.path().join("gone")).unwrap().is_empty());
    }

    #[test]
    fn remove_tree_removes_children_first_and_accepts_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("a");
        std::fs::create_dir_all(top.join("b/c")).unwrap();
        remove_tree(&top).unwrap();
        assert!(!top.exists());
        remove_tree(&top).unwrap();
    }

    #[test]
    fn create_levels_visits_every_level_below_root() {
        let tmp = tempfile::tempdir().unwrap();
        let mut seen = Vec::new();
        create_levels(tmp.path(), &tmp.path().join("x/y"), |p| {
            seen.push(p.strip_prefix(tmp.path()).unwrap().to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![PathBuf::from("x"), PathBuf::from("x/y")]);
        assert!(tmp.path().join("x/y").is_dir());
    }
}
