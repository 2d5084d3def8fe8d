//! Opening files under /proc safely: every file the init writes to in /proc is
//! checked to really be on procfs before the write, so a container image (or
//! a mount in config.json) that puts something else at that path cannot make
//! the runtime write into a host file (the CVE-2019-19921 / CVE-2025-52881 class).
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Fails unless `fd` is on a procfs mount.
pub fn ensure_on_procfs(fd: &impl AsRawFd, path: &Path) -> Result<()> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes a statfs into the buffer we own; fd is a valid open fd.
    let rc = unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("fstatfs {}", path.display()));
    }
    // SAFETY: fstatfs returned 0, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    if st.f_type != libc::PROC_SUPER_MAGIC {
        bail!(
            "{} is not on procfs (filesystem magic {:#x}); refusing to write to it",
            path.display(),
            st.f_type
        );
    }
    Ok(())
}

/// Opens `path` (an absolute path under /proc) for writing without following a
/// symlink in its last component, and checks that it is a procfs file.
pub fn open_for_write(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    ensure_on_procfs(&file, path)?;
    Ok(file)
}

/// Opens `relative` beneath the directory `dir` (itself checked to be procfs)
/// with openat2: no symlinks, no `..` escape and no mount crossing, so a bind
/// mount placed over a file under /proc/sys cannot redirect the write.
/// Falls back to openat(O_NOFOLLOW) plus the procfs check on kernels without openat2.
pub fn open_beneath_for_write(dir: &OwnedFd, dir_path: &Path, relative: &str) -> Result<File> {
    let full = dir_path.join(relative);
    let c_rel = CString::new(relative)
        .with_context(|| format!("{}: path contains a NUL byte", full.display()))?;
    // SAFETY: open_how is a plain C struct; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_XDEV;
    // SAFETY: openat2 reads a NUL-terminated path and an open_how of the size we pass;
    // both live for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c_rel.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let fd = if rc >= 0 {
        rc as i32
    } else {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(err).with_context(|| format!("open {}", full.display()));
        }
        // SAFETY: openat with a valid dir fd and a NUL-terminated relative path.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c_rel.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("open {}", full.display()));
        }
        fd
    };
    // SAFETY: fd was just returned by the kernel and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    ensure_on_procfs(&file, &full)?;
    Ok(file)
}

/// Opens a directory under /proc (O_PATH) and checks it is on procfs.
pub fn open_dir(path: &Path) -> Result<OwnedFd> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    ensure_on_procfs(&dir, path)?;
    Ok(OwnedFd::from(dir))
}

/// Writes `value` to `file` in one write, as procfs files expect.
pub fn write_value(mut file: File, value: &str, path: &Path) -> Result<()> {
    use std::io::Write;
    file.write_all(value.as_bytes())
        .with_context(|| format!("write {:?} to {}", value, path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_file_passes_the_procfs_check() {
        let f = File::open("/proc/self/status").unwrap();
        ensure_on_procfs(&f, Path::new("/proc/self/status")).unwrap();
    }

    #[test]
    fn non_proc_file_fails_the_procfs_check() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        let err = ensure_on_procfs(&f, &dir.path().join("x")).unwrap_err();
        assert!(err.to_string().contains("not on procfs"), "{err}");
    }
}
