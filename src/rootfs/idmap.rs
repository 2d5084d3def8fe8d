//! Id-mapped bind mounts (`idmap`/`ridmap` with `mounts[i].uidMappings` and
//! `gidMappings`): a detached copy of the source is given the mapping with
//! mount_setattr(MOUNT_ATTR_IDMAP) and then attached at the destination.
//! The kernel takes the mapping from a user namespace, so a short-lived
//! helper process creates one with exactly the requested maps.

use crate::rootfs::sys::{self, MountAttr};
use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, ForkResult};
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// Bind `src` onto `target` with the given id mappings.
/// `recursive_tree`: copy submounts too (rbind); `recursive_map`: map them too (ridmap).
pub fn bind_idmapped(
    src: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    recursive_tree: bool,
    recursive_map: bool,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<()> {
    let userns = user_namespace_with_maps(uids, gids)?;
    let tree = sys::clone_tree(src, recursive_tree).map_err(|e| anyhow!("open_tree: {e}"))?;
    let attr = MountAttr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..MountAttr::default()
    };
    sys::mount_setattr(std::os::fd::AsFd::as_fd(&tree), &attr, recursive_map)
        .map_err(|e| anyhow!("mount_setattr(MOUNT_ATTR_IDMAP): {e}"))?;
    sys::move_mount(std::os::fd::AsFd::as_fd(&tree), target).map_err(|e| anyhow!("move_mount: {e}"))
}

/// The text of a uid_map/gid_map file for `mappings`.
pub fn id_map_text(mappings: &[LinuxIdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A descriptor of a new user namespace whose maps are `uids`/`gids`.
fn user_namespace_with_maps(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (ready_read, ready_write) = pipe2(OFlag::O_CLOEXEC)?;
    let (hold_read, hold_write) = pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the child only makes raw, async-signal-safe syscalls
    // (unshare, write, read, _exit) and never returns into Rust code, so
    // forking from a process that may have other threads is sound.
    match unsafe { fork() }.context("fork the id-map helper")? {
        ForkResult::Child => {
            let ready = ready_write.as_raw_fd();
            let hold = hold_read.as_raw_fd();
            // SAFETY: plain syscalls on descriptors this process owns; the
            // buffers are stack arrays that outlive the calls.
            unsafe {
                // Our ends only: the read below must see EOF once the parent closes its end.
                libc::close(hold_write.as_raw_fd());
                libc::close(ready_read.as_raw_fd());
                // Our pid as /proc sees it: the caller may be in a new pid
                // namespace while /proc still shows the host's pids.
                let mut msg = [0u8; 32];
                let n = libc::readlink(c"/proc/self".as_ptr(), msg.as_mut_ptr().add(1).cast(), 31);
                let ok = n > 0 && libc::unshare(libc::CLONE_NEWUSER) == 0;
                msg[0] = u8::from(ok);
                let len = if ok { 1 + n as usize } else { 1 };
                libc::write(ready, msg.as_ptr().cast(), len);
                let mut byte = 0u8;
                // Returns when the parent closes its end: it holds the namespace by then.
                libc::read(hold, (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        ForkResult::Parent { child } => {
            drop(ready_write);
            drop(hold_read);
            let result = write_maps_and_open(&ready_read, uids, gids);
            drop(hold_write);
            let _ = waitpid(child, None);
            result
        }
    }
}

fn write_maps_and_open(
    ready: &OwnedFd,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<OwnedFd> {
    let mut msg = [0u8; 32];
    let n = nix::unistd::read(ready, &mut msg).context("wait for the id-map helper")?;
    if n < 2 || msg[0] != 1 {
        bail!("the id-map helper could not create a user namespace");
    }
    let proc_pid = String::from_utf8_lossy(&msg[1..n]).into_owned();
    let proc_dir = format!("/proc/{proc_pid}");
    std::fs::write(format!("{proc_dir}/uid_map"), id_map_text(uids))
        .context("write uid_map for uidMappings")?;
    std::fs::write(format!("{proc_dir}/gid_map"), id_map_text(gids))
        .context("write gid_map for gidMappings")?;
    nix::fcntl::open(
        format!("{proc_dir}/ns/user").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open the id-map user namespace")
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn map_text_is_container_host_size_lines() {
        let m = |c: u32, h: u32, s: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(s)
                .build()
                .unwrap()
        };
        assert_eq!(
            id_map_text(&[m(0, 1000, 1), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }
}
