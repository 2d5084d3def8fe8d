//! `linux.resources.network` on the v1 net_cls and net_prio controllers.
//! cgroup v2 has neither: see the v2 driver for what it does instead.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNetwork;
use std::path::Path;

/// `linux.resources.network.classID` (net_cls.classid).
pub fn apply_network_class_id(dir: &Path, class_id: Option<u32>) -> Result<()> {
    let Some(class_id) = class_id else {
        return Ok(());
    };
    fs::write(dir, "net_cls.classid", &class_id.to_string())
        .context("linux.resources.network.classID")
}

/// `linux.resources.network.priorities` (net_prio.ifpriomap, one
/// "IFNAME PRIORITY" line per write).
pub fn apply_network_priorities(dir: &Path, network: &LinuxNetwork) -> Result<()> {
    let priorities = network.priorities().as_deref().unwrap_or(&[]);
    for (i, p) in priorities.iter().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            bail!("{field}.name: {:?} is not an interface name", p.name());
        }
        fs::write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )
        .context(field)?;
    }
    Ok(())
}

/// Whether `priorities` has an entry.
pub fn priorities_are_set(network: &LinuxNetwork) -> bool {
    network.priorities().as_ref().is_some_and(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(json: &str) -> LinuxNetwork {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn writes_class_id_and_priorities() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("net_cls.classid"), "").unwrap();
        std::fs::write(tmp.path().join("net_prio.ifpriomap"), "").unwrap();
        let n =
            network(r#"{"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}"#);
        apply_network_class_id(tmp.path(), n.class_id()).unwrap();
        apply_network_priorities(tmp.path(), &n).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("net_cls.classid")).unwrap(),
            "1048577"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("net_prio.ifpriomap")).unwrap(),
            "eth0 500"
        );
        assert!(priorities_are_set(&n));
        assert!(!priorities_are_set(&network(r#"{"priorities": []}"#)));
    }

    #[test]
    fn bad_interface_names_are_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("net_prio.ifpriomap"), "").unwrap();
        let err = apply_network_priorities(
            tmp.path(),
            &network(r#"{"priorities": [{"name": "eth0 1", "priority": 5}]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("linux.resources.network.priorities[0].name"),
            "{err}"
        );
    }
}
