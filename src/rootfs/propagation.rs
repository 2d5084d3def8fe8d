//! linux.rootfsPropagation (config-linux.md#rootfs-mount-propagation) and
//! the rootfs bind that makes root.path a mount point of its own.

use crate::rootfs::options::propagation_flags;
use crate::rootfs::{mountinfo, sys};
use anyhow::{anyhow, bail, Result};
use std::path::Path;

/// runc's default when rootfsPropagation is absent: receive host mount
/// events, never send any back.
pub const DEFAULT_ROOTFS_PROPAGATION: libc::c_ulong = libc::MS_SLAVE | libc::MS_REC;

/// Parse linux.rootfsPropagation; absent or empty means rslave (as runc).
/// `no_pivot`: (r)private is refused without pivot_root, as runc does,
/// since the MS_MOVE'd rootfs would then keep host mounts reachable.
pub fn parse_rootfs_propagation(value: Option<&str>, no_pivot: bool) -> Result<libc::c_ulong> {
    let value = value.unwrap_or("");
    if value.is_empty() {
        return Ok(DEFAULT_ROOTFS_PROPAGATION);
    }
    let Some(flags) = propagation_flags(value) else {
        bail!(
            "linux.rootfsPropagation {value:?}: not one of private, rprivate, slave, rslave, \
             shared, rshared, unbindable, runbindable"
        );
    };
    if no_pivot && flags & libc::MS_PRIVATE != 0 {
        bail!("linux.rootfsPropagation {value:?}: [r]private is not safe without pivot_root (--no-pivot)");
    }
    Ok(flags)
}

/// Apply linux.rootfsPropagation to "/" of the (new) mount namespace.
pub fn apply_rootfs_propagation(flags: libc::c_ulong) -> Result<()> {
    sys::mount(None, "/", None, flags, None)
        .map_err(|e| anyhow!("linux.rootfsPropagation: set propagation of /: {e}"))
}

/// Make the mount holding `rootfs` private if it is shared: pivot_root(2)
/// refuses a shared parent, and the rootfs bind must not propagate to the
/// host's peers.
pub fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let mounts = mountinfo::read_self()?;
    let parent = mounts
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    let Some(parent) = parent else {
        bail!("no mount found holding the rootfs {}", rootfs.display());
    };
    if !parent.is_shared() {
        return Ok(());
    }
    let target = parent.mount_point.to_string_lossy();
    sys::mount(None, &target, None, libc::MS_PRIVATE, None)
        .map_err(|e| anyhow!("make {target} (parent of the rootfs) private: {e}"))
}

/// Bind root.path onto itself (recursively) so it is a mount point that
/// pivot_root(2) can use and that later mounts can be scoped to.
pub fn bind_rootfs_onto_itself(rootfs: &Path) -> Result<()> {
    let path = rootfs.to_string_lossy();
    sys::mount(Some(&path), &path, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| anyhow!("root.path: bind {path} onto itself: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_rslave() {
        assert_eq!(
            parse_rootfs_propagation(None, false).unwrap(),
            libc::MS_SLAVE | libc::MS_REC
        );
        assert_eq!(
            parse_rootfs_propagation(Some(""), false).unwrap(),
            libc::MS_SLAVE | libc::MS_REC
        );
    }

    #[test]
    fn every_valid_value_parses() {
        for (value, flags) in [
            ("private", libc::MS_PRIVATE),
            ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
            ("slave", libc::MS_SLAVE),
            ("rslave", libc::MS_SLAVE | libc::MS_REC),
            ("shared", libc::MS_SHARED),
            ("rshared", libc::MS_SHARED | libc::MS_REC),
            ("unbindable", libc::MS_UNBINDABLE),
            ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
        ] {
            assert_eq!(
                parse_rootfs_propagation(Some(value), false).unwrap(),
                flags,
                "{value}"
            );
        }
    }

    #[test]
    fn invalid_value_names_the_field() {
        let err = parse_rootfs_propagation(Some("sideways"), false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.rootfsPropagation \"sideways\""),
            "{err}"
        );
    }

    #[test]
    fn private_is_refused_without_pivot() {
        assert!(parse_rootfs_propagation(Some("rprivate"), true).is_err());
        assert!(parse_rootfs_propagation(Some("private"), true).is_err());
        assert!(parse_rootfs_propagation(Some("rslave"), true).is_ok());
    }
}
