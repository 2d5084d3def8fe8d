//! Resolving container paths strictly inside the rootfs.
//!
//! Every lookup goes through openat2(2) with RESOLVE_IN_ROOT, so `..` and
//! absolute symlinks (even ones swapped in while we work) resolve against the
//! rootfs, never the host (CVE-2019-19921, CVE-2021-30465, CVE-2023-27561).
//! Missing directories are created one component at a time with mkdirat(2)
//! relative to the already-verified parent, and the caller mounts onto the
//! returned descriptor, not onto a path string.

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// How many dangling symlinks we follow while creating a path, as the kernel's MAXSYMLINKS.
const MAX_SYMLINK_HOPS: usize = 40;

/// Lexically clean a container path into its components below `/`.
/// `..` at the top stays at the top, as it would inside a chroot.
pub fn container_components(path: &Path) -> Vec<&OsStr> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `path` cleaned and made relative to the root ("." for the root itself).
pub fn relative_in_root(path: &Path) -> PathBuf {
    let comps = container_components(path);
    if comps.is_empty() {
        PathBuf::from(".")
    } else {
        comps.iter().collect()
    }
}

/// `path` cleaned as an absolute container path ("/a/b").
pub fn clean_container_path(path: &Path) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(container_components(path));
    p
}

/// An open rootfs directory that all container paths are resolved in.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// Canonical host path of the root, to translate a resolved fd back to a container path.
    host_path: PathBuf,
}

impl Root {
    /// Open `host_path` (a directory on the host, e.g. root.path) as the root.
    pub fn open(host_path: &Path) -> Result<Root> {
        // realpath(3) rather than /proc: after pivot_root there may be no /proc.
        let host_path = std::fs::canonicalize(host_path)
            .with_context(|| format!("resolve rootfs {}", host_path.display()))?;
        let fd = nix::fcntl::open(
            &host_path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open rootfs {}", host_path.display()))?;
        Ok(Root { fd, host_path })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    /// Open container path `path` inside the root with `flags` (O_PATH is
    /// typical). A trailing symlink is followed (inside the root) unless
    /// `flags` has O_NOFOLLOW.
    pub fn open_path(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.fd(), &relative_in_root(path), how)
    }

    /// Open `path` as an O_PATH descriptor (following symlinks inside the root).
    pub fn open_o_path(&self, path: &Path) -> nix::Result<OwnedFd> {
        self.open_path(path, OFlag::O_PATH)
    }

    /// The container path that `fd` (opened in this root) refers to now.
    pub fn container_path_of(&self, fd: BorrowedFd<'_>) -> Result<PathBuf> {
        let host = fd_host_path(fd)?;
        let rel = host.strip_prefix(&self.host_path).map_err(|_| {
            anyhow!(
                "{} resolved outside the rootfs {}",
                host.display(),
                self.host_path.display()
            )
        })?;
        Ok(Path::new("/").join(rel))
    }

    /// Make sure directory `path` exists inside the root, creating missing
    /// components with `mode` (before umask); returns an O_PATH fd of it.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        self.mkdir_all_hops(path, mode, 0)
            .with_context(|| format!("create directory {} in the rootfs", path.display()))
    }

    fn mkdir_all_hops(&self, path: &Path, mode: u32, hops: usize) -> Result<OwnedFd> {
        let comps = container_components(path);
        let mut dir = self.open_path(Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        for i in 0..comps.len() {
            let prefix: PathBuf = comps[..=i].iter().collect();
            match self.open_path(&prefix, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => {
                    dir = fd;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(e) => bail!("open {}: {e}", prefix.display()),
            }
            // `dir` is the verified parent: create the component right there.
            match mkdirat(dir.as_fd(), comps[i], Mode::from_bits_truncate(mode)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => bail!("mkdir {}: {e}", prefix.display()),
            }
            match self.open_path(&prefix, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => dir = fd,
                Err(Errno::ENOENT) => {
                    // The name exists but does not resolve: a dangling symlink.
                    // Create its target (inside the root) and start over.
                    let rest: PathBuf = comps[i + 1..].iter().collect();
                    let target = self.symlink_target(dir.as_fd(), comps[i], hops)?;
                    return self.mkdir_all_hops(&target.join(rest), mode, hops + 1);
                }
                Err(e) => bail!("open {}: {e}", prefix.display()),
            }
        }
        Ok(dir)
    }

    /// Where the symlink `name` in directory `dir` points, as a container path.
    fn symlink_target(&self, dir: BorrowedFd<'_>, name: &OsStr, hops: usize) -> Result<PathBuf> {
        if hops >= MAX_SYMLINK_HOPS {
            bail!("too many levels of symbolic links");
        }
        let target = readlinkat(dir, name)
            .map_err(|e| anyhow!("readlink {}: {e}", Path::new(name).display()))?;
        let target = Path::new(&target);
        if target.is_absolute() {
            Ok(target.to_path_buf())
        } else {
            Ok(self.container_path_of(dir)?.join(target))
        }
    }

    /// Make sure `path` exists inside the root: a directory when `dir` is
    /// true, else an empty file (mode 0755 as runc) in a created parent.
    /// Returns an O_PATH fd of the (possibly pre-existing) object.
    pub fn create_mountpoint(&self, path: &Path, dir: bool) -> Result<OwnedFd> {
        if dir {
            return self.mkdir_all(path, 0o755);
        }
        self.create_file_hops(path, 0o755, 0)
            .with_context(|| format!("create file {} in the rootfs", path.display()))
    }

    /// Make sure a file exists at `path`; create an empty one with `mode` if not.
    pub fn create_file(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        self.create_file_hops(path, mode, 0)
            .with_context(|| format!("create file {} in the rootfs", path.display()))
    }

    fn create_file_hops(&self, path: &Path, mode: u32, hops: usize) -> Result<OwnedFd> {
        match self.open_o_path(path) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => bail!("open: {e}"),
        }
        let comps = container_components(path);
        let Some((name, parent)) = comps.split_last() else {
            bail!("the root itself is not a file");
        };
        let parent: PathBuf = parent.iter().collect();
        let parent_fd = self.mkdir_all(&parent, 0o755)?;
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match nix::fcntl::openat(
            parent_fd.as_fd(),
            *name,
            flags,
            Mode::from_bits_truncate(mode),
        ) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => bail!("create: {e}"),
        }
        match self.open_o_path(path) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) => {
                let target = self.symlink_target(parent_fd.as_fd(), name, hops)?;
                self.create_file_hops(&target, mode, hops + 1)
            }
            Err(e) => bail!("open: {e}"),
        }
    }
}

/// The host path a descriptor refers to, as the kernel reports it.
pub fn fd_host_path(fd: BorrowedFd<'_>) -> Result<PathBuf> {
    let link = crate::rootfs::sys::proc_fd_path(fd);
    std::fs::read_link(&link).with_context(|| format!("readlink {link}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_in_root_cleans_dots_and_parents() {
        assert_eq!(relative_in_root(Path::new("/a/./b//c")), Path::new("a/b/c"));
        assert_eq!(relative_in_root(Path::new("/../../etc")), Path::new("etc"));
        assert_eq!(relative_in_root(Path::new("/a/b/../c")), Path::new("a/c"));
        assert_eq!(relative_in_root(Path::new("/")), Path::new("."));
        assert_eq!(relative_in_root(Path::new("/..")), Path::new("."));
    }

    #[test]
    fn clean_container_path_is_absolute() {
        assert_eq!(
            clean_container_path(Path::new("/dev/../proc/")),
            Path::new("/proc")
        );
        assert_eq!(clean_container_path(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("evil")).unwrap();
        std::os::unix::fs::symlink("../../../../missing", dir.path().join("dangling")).unwrap();
        let root = Root::open(dir.path()).unwrap();

        let fd = root.open_o_path(Path::new("/evil")).unwrap();
        assert_eq!(
            root.container_path_of(fd.as_fd()).unwrap(),
            Path::new("/etc")
        );

        // Creating through a dangling symlink creates its target inside the root.
        let fd = root.mkdir_all(Path::new("/dangling/sub"), 0o755).unwrap();
        assert_eq!(
            root.container_path_of(fd.as_fd()).unwrap(),
            Path::new("/missing/sub")
        );
        assert!(dir.path().join("missing/sub").is_dir());

        let fd = root.create_file(Path::new("/evil/newfile"), 0o644).unwrap();
        assert_eq!(
            root.container_path_of(fd.as_fd()).unwrap(),
            Path::new("/etc/newfile")
        );
        assert!(dir.path().join("etc/newfile").is_file());
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let root = Root::open(dir.path()).unwrap();
        let err = root.mkdir_all(Path::new("/file/sub"), 0o755).unwrap_err();
        assert!(format!("{err:#}").contains("/file/sub"), "{err:#}");
    }
}
