//! linux.uidMappings / linux.gidMappings: written by the parent into
//! /proc/PID/{uid_map,gid_map} of the child that owns the new user namespace.
//! As root the files are written directly. An unprivileged caller writes a
//! single mapping of its own id itself (denying setgroups first, as
//! user_namespaces(7) demands) and asks newuidmap/newgidmap for anything more.

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if nix::unistd::geteuid().is_root() {
        write_map_file(pid, "uid_map", "linux.uidMappings", &uid)?;
        return write_map_file(pid, "gid_map", "linux.gidMappings", &gid);
    }
    let own_uid = nix::unistd::geteuid().as_raw();
    let own_gid = nix::unistd::getegid().as_raw();
    write_unprivileged(pid, MapKind::Uid, &uid, own_uid)?;
    write_unprivileged(pid, MapKind::Gid, &gid, own_gid)
}

#[derive(Clone, Copy)]
enum MapKind {
    Uid,
    Gid,
}

impl MapKind {
    fn field(self) -> &'static str {
        match self {
            MapKind::Uid => "linux.uidMappings",
            MapKind::Gid => "linux.gidMappings",
        }
    }
    fn file(self) -> &'static str {
        match self {
            MapKind::Uid => "uid_map",
            MapKind::Gid => "gid_map",
        }
    }
    /// The setuid helper from shadow (Debian package `uidmap`).
    fn helper(self) -> &'static str {
        match self {
            MapKind::Uid => "newuidmap",
            MapKind::Gid => "newgidmap",
        }
    }
    fn subid_file(self) -> &'static str {
        match self {
            MapKind::Uid => "/etc/subuid",
            MapKind::Gid => "/etc/subgid",
        }
    }
}

/// Whether an unprivileged process may write `maps` itself: the kernel
/// allows exactly one line that maps its own id (user_namespaces(7)).
fn maps_only_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

/// An unprivileged caller: its own id is written directly (gid_map only
/// after setgroups is denied, as the kernel demands); anything more goes
/// through newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
fn write_unprivileged(pid: i32, kind: MapKind, maps: &[LinuxIdMapping], own: u32) -> Result<()> {
    if maps_only_own_id(maps, own) {
        if let MapKind::Gid = kind {
            std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .with_context(|| format!("cannot write /proc/{pid}/setgroups"))?;
        }
        return write_map_file(pid, kind.file(), kind.field(), maps);
    }
    let mut cmd = std::process::Command::new(kind.helper());
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        anyhow!(
            "{}: an unprivileged user (id {own}) may map only its own id; more needs {} \
             (Debian package uidmap), which could not be run: {e}",
            kind.field(),
            kind.helper()
        )
    })?;
    if !out.status.success() {
        bail!(
            "{}: an unprivileged user (id {own}) may map only its own id; {} refused the \
             mapping {:?} ({}): check the ranges for this user in {}",
            kind.field(),
            kind.helper(),
            map_text(maps).trim_end().replace('\n', ", "),
            String::from_utf8_lossy(&out.stderr).trim(),
            kind.subid_file()
        );
    }
    Ok(())
}

fn write_map_file(pid: i32, file: &str, field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/{file}"), map_text(maps)).with_context(|| {
        let hint = if nix::unistd::geteuid().is_root() {
            ""
        } else {
            " (an unprivileged user may map only its own id, once)"
        };
        format!("{field}: cannot write /proc/{pid}/{file}{hint}")
    })
}

/// The host uid that container uid 0 maps to (for chown of files the init
/// must open, such as the exec FIFO); the caller's uid without a user namespace.
pub fn host_root_ids(spec: &Spec) -> (u32, u32) {
    let linux = spec.linux().as_ref();
    let find = |maps: Option<Vec<LinuxIdMapping>>, default: u32| {
        maps.unwrap_or_default()
            .iter()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
            .unwrap_or(default)
    };
    (
        find(
            linux.and_then(|l| l.uid_mappings().clone()),
            nix::unistd::geteuid().as_raw(),
        ),
        find(
            linux.and_then(|l| l.gid_mappings().clone()),
            nix::unistd::getegid().as_raw(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn map_lines() {
        let m: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        )
        .unwrap();
        assert_eq!(map_text(&m), "0 1000 1\n1 100000 65536\n");
    }

    #[test]
    fn only_a_single_mapping_of_the_own_id_is_written_directly() {
        let parse = |t: &str| -> Vec<LinuxIdMapping> { serde_json::from_str(t).unwrap() };
        let own = parse(r#"[{"containerID":0,"hostID":1000,"size":1}]"#);
        assert!(maps_only_own_id(&own, 1000));
        assert!(!maps_only_own_id(&own, 1001));
        let range = parse(r#"[{"containerID":0,"hostID":1000,"size":2}]"#);
        assert!(!maps_only_own_id(&range, 1000));
        let two = parse(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":10}]"#,
        );
        assert!(!maps_only_own_id(&two, 1000));
        assert!(!maps_only_own_id(&[], 1000));
    }
}
