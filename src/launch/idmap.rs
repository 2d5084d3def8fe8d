//! linux.uidMappings / linux.gidMappings: written by the parent into
//! /proc/PID/{uid_map,gid_map} of the child that owns the new user namespace.
//! As root the files are written directly; an unprivileged caller with one
//! mapping of itself must deny setgroups first (user_namespaces(7)).

use anyhow::{Context, Result};
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
    if !nix::unistd::geteuid().is_root() {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .with_context(|| format!("cannot write /proc/{pid}/setgroups"))?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), map_text(&uid))
        .with_context(|| format!("linux.uidMappings: cannot write /proc/{pid}/uid_map"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), map_text(&gid))
        .with_context(|| format!("linux.gidMappings: cannot write /proc/{pid}/gid_map"))?;
    Ok(())
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
}
