//! linux.namespaces: which namespaces are created by clone(), which are
//! joined with setns() (by path) and which the child unshares, in what order.
//!
//! Fast path (nothing joined): one clone() with every CLONE_NEW* flag, so the
//! child is pid 1 of its pid namespace at once. Joining anything by path
//! changes the order that works: the child first setns()es into the joined
//! namespaces (user first, so the others are entered with its credentials),
//! then unshares a new user namespace, then the rest, and forks once more to
//! become pid 1. Two namespaces are always unshared by the child:
//! - cgroup: only after the parent moved it into its cgroup, so the
//!   namespace's root is the container's cgroup;
//! - time: offsets can only be written before any process is inside, so the
//!   child unshares, writes linux.timeOffsets, then forks the init.

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

/// One namespace to join: its clone flag, an open fd and the field for messages.
pub struct Join {
    pub flag: CloneFlags,
    pub fd: OwnedFd,
    pub field: String,
}

pub struct NamespacePlan {
    /// Created by the parent's clone().
    pub clone_flags: CloneFlags,
    /// Joined by the child, in this order.
    pub joins: Vec<Join>,
    /// The child unshares a new user namespace (after the joins) and asks for maps.
    pub unshare_user: bool,
    /// Unshared by the child after the user namespace is ready.
    pub unshare_flags: CloneFlags,
    /// The child forks once more so the init is inside new/joined pid or time namespaces.
    pub fork_init: bool,
    /// Flags of every namespace the container gets anew.
    pub new: CloneFlags,
    /// A pid namespace is joined by path.
    pub joins_pid: bool,
}

pub fn clone_flag(ty: LinuxNamespaceType) -> Result<CloneFlags> {
    Ok(match ty {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        #[allow(unreachable_patterns)]
        other => bail!("linux.namespaces: unsupported namespace type {other:?}"),
    })
}

/// The order joins happen in: user first (its credentials apply to the rest),
/// mount last (so nothing after it resolves paths in the joined mount tree).
pub fn join_rank(flag: CloneFlags) -> u8 {
    let order = [
        CloneFlags::CLONE_NEWUSER,
        CloneFlags::CLONE_NEWIPC,
        CloneFlags::CLONE_NEWUTS,
        CloneFlags::CLONE_NEWNET,
        CloneFlags::CLONE_NEWPID,
        CloneFlags::CLONE_NEWCGROUP,
        CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        CloneFlags::CLONE_NEWNS,
    ];
    order.iter().position(|f| *f == flag).unwrap_or(order.len()) as u8
}

/// Open every joined namespace (checking it is of the type config.json says)
/// and decide who creates what.
pub fn plan(spec: &Spec) -> Result<NamespacePlan> {
    let time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    let mut new = CloneFlags::empty();
    let mut joins = Vec::new();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (i, ns) in namespaces.iter().enumerate() {
        let flag = clone_flag(ns.typ())?;
        match ns.path() {
            None => new |= flag,
            Some(path) => {
                let field = format!("linux.namespaces[{i}].path {}", path.display());
                let file = File::open(path).with_context(|| format!("{field}: cannot open"))?;
                check_namespace_type(&file, flag).with_context(|| field.clone())?;
                joins.push(Join {
                    flag,
                    fd: file.into(),
                    field,
                });
            }
        }
    }
    joins.sort_by_key(|j| join_rank(j.flag));
    let joins_pid = joins.iter().any(|j| j.flag == CloneFlags::CLONE_NEWPID);
    let joins_time = joins.iter().any(|j| j.flag == time);
    // The fast path needs no second fork; a time namespace always needs one
    // (offsets first), and then the pid namespace must come from unshare too,
    // or the forked init would not be its pid 1.
    let (clone_flags, unshare_user, unshare_flags) = if joins.is_empty() && !new.contains(time) {
        let cgroup = CloneFlags::CLONE_NEWCGROUP;
        (new - cgroup, false, new & cgroup)
    } else {
        (
            CloneFlags::empty(),
            new.contains(CloneFlags::CLONE_NEWUSER),
            new - CloneFlags::CLONE_NEWUSER,
        )
    };
    let fork_init =
        unshare_flags.intersects(CloneFlags::CLONE_NEWPID | time) || joins_pid || joins_time;
    Ok(NamespacePlan {
        clone_flags,
        joins,
        unshare_user,
        unshare_flags,
        fork_init,
        new,
        joins_pid,
    })
}

/// NS_GET_NSTYPE: refuse a path that is not a namespace of the declared type.
fn check_namespace_type(file: &File, flag: CloneFlags) -> Result<()> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)
                                                 // SAFETY: the ioctl takes no argument and only reads the fd's namespace type.
    let ty = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if ty < 0 {
        bail!("not a namespace file: {}", std::io::Error::last_os_error());
    }
    if ty != flag.bits() {
        bail!("namespace type mismatch: the file is not a {flag:?} namespace");
    }
    Ok(())
}

/// setns() into every joined namespace, in plan order.
pub fn join_all(joins: &[Join]) -> Result<()> {
    for j in joins {
        nix::sched::setns(&j.fd, j.flag).with_context(|| format!("{}: setns", j.field))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_config;

    fn spec(ns: serde_json::Value) -> Spec {
        let mut v = crate::spec::default_spec(false, 0, 0);
        v["linux"]["namespaces"] = ns;
        parse_config(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    #[test]
    fn fast_path_clones_everything_but_cgroup_and_time() {
        let p = plan(&spec(
            serde_json::json!([{"type":"pid"},{"type":"mount"},{"type":"cgroup"},{"type":"user"}]),
        ))
        .unwrap();
        assert!(p
            .clone_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUSER));
        assert!(!p.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP));
        assert_eq!(p.unshare_flags, CloneFlags::CLONE_NEWCGROUP);
        assert!(!p.fork_init);
    }

    #[test]
    fn joining_moves_creation_to_the_child() {
        let p = plan(&spec(serde_json::json!([{"type":"pid"},{"type":"network","path":"/proc/self/ns/net"},{"type":"mount"}]))).unwrap();
        assert!(p.clone_flags.is_empty());
        assert!(p
            .unshare_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(p.fork_init);
        assert_eq!(p.joins.len(), 1);
    }

    #[test]
    fn time_namespace_takes_the_forking_path() {
        let p = plan(&spec(
            serde_json::json!([{"type":"pid"},{"type":"mount"},{"type":"time"}]),
        ))
        .unwrap();
        assert!(p.clone_flags.is_empty());
        assert!(p.unshare_flags.contains(CloneFlags::CLONE_NEWPID));
        assert!(p.fork_init);
    }

    #[test]
    fn wrong_namespace_type_is_refused() {
        let e = plan(&spec(
            serde_json::json!([{"type":"mount"},{"type":"network","path":"/proc/self/ns/uts"}]),
        ))
        .err()
        .unwrap();
        assert!(
            format!("{e:#}").contains("linux.namespaces[1].path"),
            "{e:#}"
        );
    }
}
