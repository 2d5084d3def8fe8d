//! Putting a new container process into its cgroup without a migration by
//! the runtime.
//!
//! Writing another process's pid to `cgroup.procs` takes the kernel's global
//! cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period
//! when no migration happened just before: 2 to 15 ms on this kind of host,
//! most of a `create`. Two ways in avoid that lock:
//!
//! - cgroup2: clone3(CLONE_INTO_CGROUP) starts the process in the cgroup;
//! - cgroup v1: a single-threaded process writing "0" (itself) to a
//!   hierarchy's `tasks` file moves only its own thread, for which the
//!   kernel skips the global lock.
//!
//! The second needs the new process to have the host's credentials, so it
//! is used only when the container gets no user namespace and the runtime is
//! not rootless; otherwise the runtime falls back to `Manager::apply`.

use super::fs;
use anyhow::{Context, Result};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// How a process cloned for the container gets into its (already created)
/// cgroup by itself.
#[derive(Debug, Default)]
pub struct SelfJoin {
    /// A cgroup2 directory (opened O_DIRECTORY) for clone3's CLONE_INTO_CGROUP.
    pub clone_into: Option<OwnedFd>,
    /// cgroup v1 directories whose `tasks` file the new process writes "0" to.
    pub tasks_dirs: Vec<PathBuf>,
}

impl SelfJoin {
    /// In the new process, before anything else: join each v1 directory.
    /// Only the calling thread moves, which is the whole process as long
    /// as it is single-threaded (the container init always is).
    pub fn join_v1_hierarchies(&self) -> Result<()> {
        for dir in &self.tasks_dirs {
            fs::write(dir, "tasks", "0")
                .with_context(|| format!("joining the cgroup {}", dir.display()))?;
        }
        Ok(())
    }
}

/// An fd of the cgroup2 directory `dir` as CLONE_INTO_CGROUP takes it (not
/// O_PATH: the kernel refuses those).
pub fn open_cgroup_dir(dir: &std::path::Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("opening the cgroup {}", dir.display()))
}
