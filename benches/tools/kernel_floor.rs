//! The kernel's share of starting a container, for `make bench`: the least
//! a runtime must ask of the kernel to run /bin/true the way the bench
//! bundles do, with no runtime logic around it.
//!
//!   kernel-floor ROOTFS
//!
//! clone() into new mount, PID, network, IPC and UTS namespaces (the bundle's
//! linux.namespaces); in the child: make the mount tree private, bind the
//! rootfs onto itself read-only, mount /proc, pivot_root into it, detach the
//! old root, exec /bin/true. The parent waits for it. A runtime's time above
//! this floor is its own (config, state, cgroups, synchronisation, mounts).
//! Needs root.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execv, pivot_root, Pid};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::exit;

fn main() {
    let Some(rootfs) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: kernel-floor ROOTFS");
        exit(2);
    };
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    // SAFETY: a clone without CLONE_VM and with no new stack behaves like
    // fork(); this program is single-threaded, and the child only makes
    // system calls and then execs or exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match pid {
        -1 => {
            eprintln!("kernel-floor: clone: {}", std::io::Error::last_os_error());
            exit(1);
        }
        0 => {
            let err = child(&rootfs);
            eprintln!("kernel-floor: {err}");
            // SAFETY: _exit is always sound; the child must not run the
            // parent's exit handlers.
            unsafe { libc::_exit(127) };
        }
        pid => match waitpid(Pid::from_raw(pid as i32), None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => {
                eprintln!("kernel-floor: child ended with {other:?}");
                exit(1);
            }
        },
    }
}

/// Enter the rootfs and exec /bin/true; returns only on failure.
fn child(rootfs: &Path) -> String {
    let none: Option<&str> = None;
    let steps = || -> nix::Result<()> {
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
        mount(
            Some(rootfs),
            rootfs,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )?;
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(none, rootfs, none, ro, none)?;
        mount(
            Some("proc"),
            &rootfs.join("proc"),
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            none,
        )?;
        chdir(rootfs)?;
        pivot_root(".", ".")?;
        umount2(".", MntFlags::MNT_DETACH)?;
        chdir("/")?;
        Ok(())
    };
    if let Err(e) = steps() {
        return format!("entering {}: {e}", rootfs.display());
    }
    let true_path = c"/bin/true";
    let argv: [CString; 1] = [true_path.to_owned()];
    match execv(true_path, &argv) {
        Err(e) => format!("exec /bin/true: {e}"),
        Ok(never) => match never {},
    }
}
