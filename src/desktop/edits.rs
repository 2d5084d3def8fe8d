//! The changes the desktop layer makes to config.json, collected by each
//! resource module and applied to the spec in one place ([`Edits::apply`]),
//! so the rest of create sees an ordinary spec: mounts, process.env,
//! linux.devices, linux.resources.devices and process.user.additionalGids.
use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, Mount, Spec};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A device node for linux.devices plus its cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bind this host node instead of making one: where nook cannot mknod
    /// (a user namespace, rootless), and runtimes bind the node at the same
    /// host path, which a stand-in directory does not have.
    pub bind_from: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct Edits {
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
    pub devices: Vec<Device>,
    pub additional_gids: Vec<u32>,
}

impl Edits {
    /// A read-only bind of one host file or directory.
    pub fn bind_ro(&mut self, source: &Path, destination: &Path) -> Result<()> {
        self.push_mount(json!({
            "destination": destination,
            "type": "bind",
            "source": source,
            "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]
        }))
    }

    /// A private tmpfs owned by `uid:gid` with `mode`.
    pub fn tmpfs(&mut self, destination: &Path, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.push_mount(json!({
            "destination": destination,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": [
                "nosuid", "nodev", "size=65536k",
                format!("mode={mode:o}"), format!("uid={uid}"), format!("gid={gid}")
            ]
        }))
    }

    fn push_mount(&mut self, value: serde_json::Value) -> Result<()> {
        let m: Mount = serde_json::from_value(value).context("desktop mount")?;
        self.mounts.push(m);
        Ok(())
    }

    pub fn set_env(&mut self, key: &str, value: impl Into<String>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
            && self.env.is_empty()
            && self.devices.is_empty()
            && self.additional_gids.is_empty()
    }

    /// Apply everything to `spec`.
    pub fn apply(self, spec: &mut Spec) -> Result<()> {
        spec.mounts_mut()
            .get_or_insert_with(Vec::new)
            .extend(self.mounts);
        let process = spec
            .process_mut()
            .as_mut()
            .ok_or_else(|| anyhow!("process: missing (the desktop annotations need one)"))?;
        let mut env = process.env().clone().unwrap_or_default();
        for (key, value) in self.env {
            let prefix = format!("{key}=");
            env.retain(|e| !e.starts_with(&prefix));
            env.push(format!("{prefix}{value}"));
        }
        process.set_env(Some(env));
        if !self.additional_gids.is_empty() {
            let mut user = process.user().clone();
            let mut gids = user.additional_gids().clone().unwrap_or_default();
            for g in self.additional_gids {
                if !gids.contains(&g) {
                    gids.push(g);
                }
            }
            user.set_additional_gids(Some(gids));
            process.set_user(user);
        }
        if !self.devices.is_empty() {
            apply_devices(spec, &self.devices)?;
        }
        Ok(())
    }
}

/// linux.devices entries and an allow rule in linux.resources.devices for each.
fn apply_devices(spec: &mut Spec, devices: &[Device]) -> Result<()> {
    let linux = spec.linux_mut().get_or_insert_with(Default::default);
    let mut nodes = linux.devices().clone().unwrap_or_default();
    let mut rules: Vec<LinuxDeviceCgroup> = Vec::new();
    let mut binds: Vec<Mount> = Vec::new();
    for d in devices {
        nodes.retain(|n| n.path() != &d.path);
        rules.push(
            serde_json::from_value(json!({
                "allow": true, "type": "c", "major": d.major, "minor": d.minor, "access": "rwm"
            }))
            .context("linux.resources.devices")?,
        );
        if let Some(host) = &d.bind_from {
            // Read-write and without nodev: the node must stay usable.
            binds.push(
                serde_json::from_value(json!({
                    "destination": d.path, "type": "bind", "source": host,
                    "options": ["bind", "nosuid", "noexec"]
                }))
                .with_context(|| format!("mounts: bind of {}", host.display()))?,
            );
            continue;
        }
        let node: LinuxDevice = serde_json::from_value(json!({
            "path": d.path, "type": "c", "major": d.major, "minor": d.minor,
            "fileMode": d.mode, "uid": d.uid, "gid": d.gid
        }))
        .with_context(|| format!("linux.devices {}", d.path.display()))?;
        nodes.push(node);
    }
    linux.set_devices(Some(nodes));
    let mut resources = linux.resources().clone().unwrap_or_default();
    let mut allowed = resources.devices().clone().unwrap_or_default();
    allowed.extend(rules);
    resources.set_devices(Some(allowed));
    linux.set_resources(Some(resources));
    spec.mounts_mut().get_or_insert_with(Vec::new).extend(binds);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_replaces_and_devices_get_rules() {
        let mut spec: Spec = serde_json::from_value(json!({
            "ociVersion": "1.0.0",
            "process": {"user": {"uid": 1, "gid": 1, "additionalGids": [5]}, "cwd": "/",
                        "env": ["PATH=/bin", "DISPLAY=:3"]},
            "linux": {}
        }))
        .unwrap();
        let mut e = Edits::default();
        e.set_env("DISPLAY", ":0");
        e.additional_gids = vec![5, 44];
        e.devices.push(Device {
            path: "/dev/dri/renderD128".into(),
            major: 226,
            minor: 128,
            mode: 0o660,
            uid: 0,
            gid: 44,
            bind_from: None,
        });
        e.devices.push(Device {
            path: "/dev/dri/card0".into(),
            major: 226,
            minor: 0,
            mode: 0o660,
            uid: 0,
            gid: 44,
            bind_from: Some("/tmp/dri/card0".into()),
        });
        e.tmpfs(Path::new("/run/user/1"), 0o700, 1, 1).unwrap();
        e.apply(&mut spec).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["process"]["env"], json!(["PATH=/bin", "DISPLAY=:0"]));
        assert_eq!(v["process"]["user"]["additionalGids"], json!([5, 44]));
        assert_eq!(v["linux"]["devices"][0]["major"], 226);
        assert_eq!(v["linux"]["resources"]["devices"][0]["minor"], 128);
        // The bound node: a cgroup rule and a mount, no linux.devices entry.
        assert_eq!(v["linux"]["devices"].as_array().unwrap().len(), 1);
        assert_eq!(v["linux"]["resources"]["devices"][1]["minor"], 0);
        let bind = v["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(bind["source"], "/tmp/dri/card0");
        assert_eq!(bind["destination"], "/dev/dri/card0");
        assert!(!bind["options"]
            .as_array()
            .unwrap()
            .contains(&json!("nodev")));
        assert!(v["mounts"][0]["options"]
            .as_array()
            .unwrap()
            .contains(&json!("mode=700")));
    }
}
