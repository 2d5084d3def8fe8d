//! Host paths given to a container: opened one component at a time without
//! following symlinks (a symlink planted in a runtime dir cannot make nook
//! bind /etc/shadow), then checked for their kind and owner.
use anyhow::{anyhow, bail, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Socket,
    Directory,
    CharDevice,
    File,
}

impl Kind {
    fn flag(self) -> SFlag {
        match self {
            Kind::Socket => SFlag::S_IFSOCK,
            Kind::Directory => SFlag::S_IFDIR,
            Kind::CharDevice => SFlag::S_IFCHR,
            Kind::File => SFlag::S_IFREG,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Socket => "a socket",
            Kind::Directory => "a directory",
            Kind::CharDevice => "a character device",
            Kind::File => "a regular file",
        }
    }
}

/// What was found at a host path.
#[derive(Debug)]
pub struct Checked {
    pub fd: OwnedFd,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub rdev: u64,
}

/// Open `path` (absolute) with O_PATH, refusing a symlink in any component.
/// `Ok(None)` when it does not exist.
pub fn open_no_follow(path: &Path) -> Result<Option<OwnedFd>> {
    if !path.is_absolute() {
        bail!("{}: not an absolute path", path.display());
    }
    let mut dir = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("/: {e}"))?;
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Ok(n)),
            Component::RootDir | Component::CurDir => None,
            Component::ParentDir | Component::Prefix(_) => Some(Err(())),
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| anyhow!("{}: '..' is not allowed", path.display()))?;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        if !last {
            flags |= OFlag::O_DIRECTORY;
        }
        dir = match openat(dir.as_fd(), *part, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            // O_NOFOLLOW|O_DIRECTORY on a symlink.
            Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => {
                bail!(
                    "{}: {:?} is a symlink or not a directory (host paths are opened without following symlinks)",
                    path.display(),
                    part
                )
            }
            Err(Errno::EACCES) if !crate::linux::userns::is_host_root() => bail!(
                "{}: permission denied: nook runs without privilege (rootless, or in a user namespace) and can only give a container what its own user can reach",
                path.display()
            ),
            Err(e) => bail!("{}: {e}", path.display()),
        };
    }
    Ok(Some(dir))
}

/// Open and check `path`: it must be of `kind` and owned by one of `owners`.
/// `Ok(None)` when it does not exist (the caller decides whether that is a
/// warning, as Flatpak does for a missing socket, or an error).
pub fn check(path: &Path, kind: Kind, owners: &[u32]) -> Result<Option<Checked>> {
    let Some(fd) = open_no_follow(path)? else {
        return Ok(None);
    };
    let st = fstat(fd.as_fd()).map_err(|e| anyhow!("{}: stat: {e}", path.display()))?;
    let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if fmt == SFlag::S_IFLNK {
        bail!(
            "{}: is a symlink (host paths are opened without following symlinks)",
            path.display()
        );
    }
    if fmt != kind.flag() {
        bail!("{}: not {}", path.display(), kind.name());
    }
    if !owners.contains(&st.st_uid) {
        bail!(
            "{}: owned by uid {}, expected {}",
            path.display(),
            st.st_uid,
            owners
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    Ok(Some(Checked {
        fd,
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode & 0o7777,
        rdev: st.st_rdev,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_refused_in_any_component() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        assert!(check(&dir.path().join("real"), Kind::Directory, &[me])
            .unwrap()
            .is_some());
        let e = check(&dir.path().join("link"), Kind::Directory, &[me]).unwrap_err();
        assert!(format!("{e}").contains("symlink"), "{e}");
        std::fs::create_dir(dir.path().join("real/sub")).unwrap();
        let e = check(&dir.path().join("link/sub"), Kind::Directory, &[me]).unwrap_err();
        assert!(format!("{e}").contains("symlink"), "{e}");
    }

    #[test]
    fn kind_owner_and_absence() {
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        assert!(check(&dir.path().join("none"), Kind::Socket, &[me])
            .unwrap()
            .is_none());
        let e = check(dir.path(), Kind::Socket, &[me]).unwrap_err();
        assert!(format!("{e}").contains("not a socket"), "{e}");
        let e = check(dir.path(), Kind::Directory, &[me + 1]).unwrap_err();
        assert!(format!("{e}").contains("owned by uid"), "{e}");
        let sock = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(check(&sock, Kind::Socket, &[me]).unwrap().is_some());
    }
}
