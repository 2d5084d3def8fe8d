//! The state root (--root) and the container directories in it.
//!
//! Each container is a directory `<root>/<id>` (mode 0711) holding state.json
//! (mode 0600, replaced atomically by rename so readers never see half a file)
//! and, between create and start, the exec FIFO. Mutating commands hold an
//! exclusive flock on the directory itself for their whole run; a command that
//! waited for the lock re-reads state.json, because the holder may have deleted
//! the container meanwhile.

use super::{process_start_time, validate_id, ProcessState, State, Status};
use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// Where `restore` binds the rootfs for criu (see checkpoint/restore.rs).
pub const CRIU_ROOT_DIR: &str = "criu-root";
/// Where `restore` mounts a new devpts for a terminal while criu runs.
pub const CRIU_DEVPTS_DIR: &str = "criu-devpts";

/// The default --root: /run/nook for root, $XDG_RUNTIME_DIR/nook otherwise.
/// As runc: root of a user namespace (rootless Podman runs its runtime as
/// uid 0 of the user's namespace) counts as rootless unless USER is "root",
/// since it cannot write /run.
pub fn default_root() -> PathBuf {
    let euid_root = nix::unistd::geteuid().is_root();
    let rootless_root = euid_root
        && crate::linux::userns::running_in_user_namespace()
        && std::env::var("USER").map_or(true, |u| u != "root");
    if euid_root && !rootless_root {
        return PathBuf::from("/run/nook");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("nook"),
        _ => PathBuf::from(format!("/tmp/nook-{}", nix::unistd::geteuid())),
    }
}

/// runtime.md#state plus runc's `rootfs`, `created` and `owner`, in runc's field order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub annotations: std::collections::HashMap<String, String>,
}

pub struct Root {
    pub path: PathBuf,
}

/// A container directory, locked for the lifetime of this value.
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: Option<Flock<File>>,
}

impl Root {
    /// Open (creating if needed, mode 0700) the state root.
    pub fn open(path: Option<&Path>) -> Result<Root> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => default_root(),
        };
        if let Err(e) = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
        {
            bail!(
                "--root {}: cannot create state directory: {e}",
                path.display()
            );
        }
        Ok(Root { path })
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Reserve `id`: create its directory atomically and lock it.
    /// Fails if a container with this id exists.
    pub fn reserve(&self, id: &str) -> Result<(PathBuf, Flock<File>)> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        let mut made = fs::DirBuilder::new().mode(0o711).create(&dir);
        if matches!(&made, Err(e) if e.kind() == ErrorKind::AlreadyExists)
            && self.remove_if_abandoned(id)?
        {
            made = fs::DirBuilder::new().mode(0o711).create(&dir);
        }
        match made {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                bail!("container with id {id:?} already exists")
            }
            Err(e) => bail!("cannot create {}: {e}", dir.display()),
        }
        let lock = lock_dir(&dir)?;
        // Between mkdir and flock another command may have taken the empty
        // directory for abandoned and removed (or replaced) it.
        if !same_file(&lock, &dir) {
            bail!("container with id {id:?} already exists");
        }
        Ok((dir, lock))
    }

    /// Remove `<root>/<id>` if it is what a `create` killed between making
    /// the directory and writing the first state.json left: a directory with
    /// no state.json whose lock nobody holds (nothing else of the container
    /// exists yet). True if it was removed.
    pub fn remove_if_abandoned(&self, id: &str) -> Result<bool> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        let Ok(f) = File::open(&dir) else {
            return Ok(false);
        };
        let Ok(_lock) = Flock::lock(f, FlockArg::LockExclusiveNonblock) else {
            return Ok(false);
        };
        if dir.join(STATE_FILE).exists() {
            return Ok(false);
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
            Err(e) => bail!("cannot remove {}: {e}", dir.display()),
        }
    }

    /// Load a container and hold its lock (for commands that change it).
    pub fn load_locked(&self, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(_) if !dir.exists() => bail!("container {id:?} does not exist"),
            Err(e) => return Err(e),
        };
        let state = read_state(&dir, id)?;
        Ok(Container {
            dir,
            state,
            _lock: Some(lock),
        })
    }

    /// Load a container without locking (state, list: readers of an atomically replaced file).
    pub fn load(&self, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        let state = read_state(&dir, id)?;
        Ok(Container {
            dir,
            state,
            _lock: None,
        })
    }

    /// Ids of every container directory, sorted.
    pub fn list_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let entries = fs::read_dir(&self.path)
            .with_context(|| format!("cannot read --root {}", self.path.display()))?;
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if let Some(name) = entry.file_name().to_str() {
                    if validate_id(name).is_ok() {
                        ids.push(name.to_string());
                    }
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Whether the open file `open` is the file at `path` (same device and inode).
fn same_file(open: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (open.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let f = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow!("cannot lock {}: {e}", dir.display()))
}

fn read_state(dir: &Path, id: &str) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!("container {id:?} does not exist"),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    serde_json::from_slice(&text).with_context(|| format!("corrupt state file {}", path.display()))
}

/// Write `state` to `dir/state.json` atomically (temp file + rename).
pub fn write_state(dir: &Path, state: &State) -> Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let path = dir.join(STATE_FILE);
    let data = serde_json::to_vec(state).context("cannot encode state")?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&data)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

impl Container {
    /// Wrap a freshly reserved directory with its first state.
    pub fn new(dir: PathBuf, lock: Flock<File>, state: State) -> Container {
        Container {
            dir,
            state,
            _lock: Some(lock),
        }
    }

    /// The descriptor holding the directory's lock, for a forked child to
    /// close: an flock belongs to the open file, so a child that keeps a copy
    /// keeps the lock held after this process dies (the container would then
    /// look "creating" forever and every locking command would hang).
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self._lock.as_ref().map(|l| l.as_raw_fd())
    }

    /// Release the lock early (`run` waits for the container without holding it).
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    pub fn save(&self) -> Result<()> {
        write_state(&self.dir, &self.state)
    }

    pub fn exec_fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// Whether the init recorded in state.json is still that process.
    pub fn init_alive(&self) -> bool {
        match process_start_time(self.state.pid) {
            Some((start, ProcessState::Alive)) => start == self.state.pid_start_time,
            _ => false,
        }
    }

    /// Whether the `create` that wrote a pid-less state.json is still running.
    /// It holds the directory's lock until it records the init's pid, so a
    /// lock nobody holds means that create died half-way (its leftovers are
    /// then a stopped container that `delete` removes).
    fn creator_alive(&self) -> bool {
        if self._lock.is_some() {
            return false;
        }
        let Ok(dir) = File::open(&self.dir) else {
            return false;
        };
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(_released_on_drop) => false,
            Err((_, e)) => e == nix::errno::Errno::EWOULDBLOCK,
        }
    }

    /// The status of runtime.md#state, derived from the init and the cgroup.
    pub fn status(&self) -> Status {
        if self.state.pid == 0 {
            return if self.creator_alive() {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if let Ok(mgr) = crate::cgroups::manager_for(&self.state.cgroup) {
            if mgr.is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        if self.exec_fifo().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The state JSON printed by `state` and `list --format json` (runc's shape).
    pub fn oci_state(&self, owner: &str) -> OciState {
        let status = self.status();
        OciState {
            oci_version: crate::spec::SPEC_VERSION.to_string(),
            id: self.state.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.state.pid
            },
            status,
            bundle: self.state.bundle.clone(),
            rootfs: self.state.rootfs.clone(),
            created: self.state.created.clone(),
            owner: owner.to_string(),
            annotations: self.state.annotations.clone(),
        }
    }

    /// Remove the container directory and everything in it.
    pub fn remove(&self) -> Result<()> {
        // A restore killed half-way may have left the rootfs bound at
        // criu-root: detach it first, or the removal would descend into the
        // rootfs and delete its files.
        // The same for its devpts (whose files cannot be removed).
        for name in [CRIU_ROOT_DIR, CRIU_DEVPTS_DIR] {
            let mounted = self.dir.join(name);
            if mounted.exists() {
                let _ = nix::mount::umount2(&mounted, nix::mount::MntFlags::MNT_DETACH);
                if std::fs::remove_dir(&mounted).is_err() {
                    bail!(
                        "cannot remove {}: still a mount point or not empty",
                        mounted.display()
                    );
                }
            }
        }
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow!("cannot remove {}: {e}", self.dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_in(dir: &Path) -> Root {
        Root {
            path: dir.to_path_buf(),
        }
    }

    /// An empty directory nobody locks is what a create killed before its
    /// first state.json left: removed, and the id can be reserved again.
    #[test]
    fn abandoned_empty_dir_is_removed_and_reservable() {
        let tmp = tempfile::tempdir().unwrap();
        let root = root_in(tmp.path());
        fs::create_dir(root.container_dir("c1")).unwrap();
        assert!(root.remove_if_abandoned("c1").unwrap());
        assert!(!root.container_dir("c1").exists());
        fs::create_dir(root.container_dir("c1")).unwrap();
        assert!(
            root.reserve("c1").is_ok(),
            "reserve takes over the leftover"
        );
    }

    #[test]
    fn dir_with_state_or_lock_is_not_abandoned() {
        let tmp = tempfile::tempdir().unwrap();
        let root = root_in(tmp.path());
        let (_dir, lock) = root.reserve("busy").unwrap();
        assert!(!root.remove_if_abandoned("busy").unwrap(), "a live create");
        assert!(root.reserve("busy").is_err(), "the id is taken");
        drop(lock);
        fs::write(root.container_dir("busy").join(STATE_FILE), "{}").unwrap();
        assert!(!root.remove_if_abandoned("busy").unwrap(), "has a state");
        assert!(root.container_dir("busy").exists());
        assert!(!root.remove_if_abandoned("missing").unwrap());
    }
}
