//! Putting a device filter on a cgroup in place of the one there before.
//!
//! The new program is attached first and the old ones detached after. While
//! both are attached the kernel runs both and an access needs both to allow
//! it (BPF_F_ALLOW_MULTI), so during an update the container briefly gets at
//! most what both rule lists allow. Detaching first would leave a moment
//! with no program, in which every device is allowed.

use super::insn::Insn;
use super::syscall;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The name the program is loaded under (bpftool prog shows it).
const PROGRAM_NAME: &str = "nook_devices";

/// Load `program` and make it the only device filter attached to the
/// cgroup directory `dir`.
pub fn replace_device_filter(dir: &Path, program: &[Insn]) -> Result<()> {
    let cgroup = open_cgroup(dir)?;
    let new = syscall::prog_load(program, PROGRAM_NAME).map_err(|e| {
        if e.log.is_empty() {
            anyhow!("loading the device filter program: {}", e.errno)
        } else {
            anyhow!(
                "loading the device filter program: {}; verifier log:\n{}",
                e.errno,
                e.log
            )
        }
    })?;
    let old = syscall::prog_query(cgroup.as_fd()).map_err(|e| {
        anyhow!(
            "listing the device filters attached to {}: {e}",
            dir.display()
        )
    })?;
    syscall::prog_attach(cgroup.as_fd(), new.as_fd()).map_err(|e| {
        let hint = if e == Errno::EPERM && !old.is_empty() {
            " (a program already attached there without BPF_F_ALLOW_MULTI?)"
        } else {
            ""
        };
        anyhow!(
            "attaching the device filter to {}: {e}{hint}",
            dir.display()
        )
    })?;
    for id in old {
        detach_by_id(&cgroup, id).with_context(|| {
            format!(
                "detaching the previous device filter (program id {id}) from {}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// Ids of the device filters attached to the cgroup directory `dir`.
pub fn attached_device_filters(dir: &Path) -> Result<Vec<u32>> {
    let cgroup = open_cgroup(dir)?;
    syscall::prog_query(cgroup.as_fd()).map_err(|e| {
        anyhow!(
            "listing the device filters attached to {}: {e}",
            dir.display()
        )
    })
}

/// Detach every device filter from the cgroup directory `dir`.
pub fn detach_all_device_filters(dir: &Path) -> Result<()> {
    let cgroup = open_cgroup(dir)?;
    for id in attached_device_filters(dir)? {
        detach_by_id(&cgroup, id)
            .with_context(|| format!("detaching device filter {id} from {}", dir.display()))?;
    }
    Ok(())
}

/// Detach program `id`; one already gone (detached by someone else
/// meanwhile) is fine.
fn detach_by_id(cgroup: &File, id: u32) -> Result<()> {
    let program = match syscall::prog_get_fd_by_id(id) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => bail!("opening the program by id: {e}"),
    };
    match syscall::prog_detach(cgroup.as_fd(), program.as_fd()) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => bail!("{e}"),
    }
}

fn open_cgroup(dir: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .with_context(|| format!("opening the cgroup directory {}", dir.display()))
}
