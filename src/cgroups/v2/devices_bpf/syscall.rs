//! The bpf(2) commands the device filter needs, each a thin wrapper over
//! one call. Errors are the raw errno; callers say what they were doing.
//!
//! Each command reads its own prefix of `union bpf_attr` (linux/bpf.h); we
//! pass a struct with just that prefix and its size, and the kernel treats
//! the fields we leave out as zero.

use super::insn::Insn;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

// enum bpf_cmd
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
/// enum bpf_prog_type: BPF_PROG_TYPE_CGROUP_DEVICE.
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// enum bpf_attach_type: BPF_CGROUP_DEVICE.
const BPF_CGROUP_DEVICE: u32 = 6;
/// Attach flag: more programs may be attached to the same cgroup beside
/// this one (and to its descendants); all of them must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// How much verifier log a failed load reports (the device filter's log is
/// a few KiB at most).
const LOG_SIZE: usize = 64 * 1024;
/// Verifier log level 1: the instructions on the failing path.
const LOG_LEVEL_VERIFIER: u32 = 1;

/// `union bpf_attr` for BPF_PROG_LOAD, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(cmd, attr, sizeof attr).
///
/// # Safety
/// `T` must be the prefix of `union bpf_attr` that `cmd` reads, and every
/// pointer stored in it must be valid for what the kernel does with it
/// during the call (read the instructions and license, write the log or
/// the id array up to the sizes given).
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: the caller guarantees `attr` is the layout `cmd` expects;
    // `attr` is a live, writable T of the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    Errno::result(ret)
}

fn fd_u32(fd: BorrowedFd) -> u32 {
    // File descriptors are never negative.
    fd.as_raw_fd() as u32
}

/// A failed BPF_PROG_LOAD: the errno and the verifier's log, if any.
#[derive(Debug)]
pub struct LoadError {
    pub errno: Errno,
    pub log: String,
}

/// Load `insns` as a BPF_PROG_TYPE_CGROUP_DEVICE program named `name`.
/// On failure the load is repeated with the verifier log on, so the error
/// says why the verifier refused (the first try goes without: logging
/// costs verifier time, and a log too small for the output fails the load).
pub fn prog_load(insns: &[Insn], name: &str) -> Result<OwnedFd, LoadError> {
    match load_once(insns, name, None) {
        Ok(fd) => Ok(fd),
        Err(_) => {
            let mut log = vec![0u8; LOG_SIZE];
            match load_once(insns, name, Some(&mut log)) {
                Ok(fd) => Ok(fd),
                Err(errno) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let log = String::from_utf8_lossy(&log[..end]).trim().to_string();
                    Err(LoadError { errno, log })
                }
            }
        }
    }
}

fn load_once(insns: &[Insn], name: &str, log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    // The license only gates GPL-only helpers, which the filter calls none of.
    let license = c"Apache-2.0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // The kernel keeps at most 15 name bytes plus a NUL; it accepts only
    // letters, digits, '_' and '.'.
    for (slot, byte) in attr.prog_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte;
    }
    if let Some(log) = log {
        attr.log_level = LOG_LEVEL_VERIFIER;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // SAFETY: ProgLoadAttr is BPF_PROG_LOAD's prefix of bpf_attr; `insns`,
    // `license` and `log` outlive the call and the kernel reads insn_cnt
    // instructions (Insn is struct bpf_insn's layout), reads the license up
    // to its NUL and writes at most log_size bytes of log.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr) }?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new file descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attach `program` to `cgroup` as a device filter, beside the programs
/// already there (BPF_F_ALLOW_MULTI).
pub fn prog_attach(cgroup: BorrowedFd, program: BorrowedFd) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(program),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // SAFETY: AttachAttr is BPF_PROG_ATTACH's part of bpf_attr; it holds no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

/// Detach the device filter `program` from `cgroup`.
pub fn prog_detach(cgroup: BorrowedFd, program: BorrowedFd) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(program),
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: AttachAttr is BPF_PROG_DETACH's part of bpf_attr; it holds no pointers.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// The ids of the device filters attached to `cgroup` itself (not the
/// ones it inherits from its ancestors), in the order they run.
pub fn prog_query(cgroup: BorrowedFd) -> Result<Vec<u32>, Errno> {
    let mut ids = vec![0u32; 16];
    // The list can grow between two calls; a few retries are plenty.
    for _ in 0..5 {
        let mut attr = QueryAttr {
            target_fd: fd_u32(cgroup),
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: QueryAttr is BPF_PROG_QUERY's prefix of bpf_attr; the
        // kernel writes at most prog_cnt ids into `ids`, which is that long
        // and outlives the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // prog_cnt now holds how many there are.
            Err(Errno::ENOSPC) => ids = vec![0u32; attr.prog_cnt as usize],
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ENOSPC)
}

/// A file descriptor for the loaded program with id `id`.
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd, Errno> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    // SAFETY: GetFdByIdAttr is BPF_PROG_GET_FD_BY_ID's part of bpf_attr; it
    // holds no pointers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }?;
    // SAFETY: a successful BPF_PROG_GET_FD_BY_ID returns a new file
    // descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::devices_bpf::insn::Reg;

    #[test]
    fn a_program_the_verifier_rejects_reports_its_log() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        // No exit: the verifier refuses a program that runs off its end.
        let err = prog_load(&[Insn::mov64_imm(Reg::R0, 1)], "nook_test").unwrap_err();
        assert_eq!(err.errno, Errno::EINVAL);
        assert!(!err.log.is_empty(), "no verifier log");

        let fd = prog_load(&[Insn::mov64_imm(Reg::R0, 1), Insn::exit()], "nook_test").unwrap();
        assert!(fd.as_raw_fd() >= 0);
    }
}
