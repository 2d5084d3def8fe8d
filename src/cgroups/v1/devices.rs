//! `linux.resources.devices` on the v1 devices controller.

use crate::cgroups::devices::{default_allowed_rules, validate_rules, DeviceRule};
use crate::cgroups::fs;
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxDeviceCgroup;
use std::path::Path;

/// `linux.resources.devices`: deny everything, then apply each rule in the
/// listed order (config-linux.md#allowed-device-list: "MUST apply entries in
/// the listed order"), then runc's default allowed devices.
///
/// The rules are all checked before anything is written, so a bad entry
/// leaves the cgroup as it was.
///
/// TODO: runc diffs the current and wanted rules so a running container
/// never sees a moment of "deny all" during `update`; we rewrite the list.
/// The kernel also refuses `a` rules once the cgroup has child cgroups.
pub fn apply_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let rules = validate_rules(rules)?;
    let deny_all = DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    };
    write_rule(dir, &deny_all).context("linux.resources.devices: denying all devices first")?;
    for (i, rule) in rules.iter().enumerate() {
        write_rule(dir, rule).with_context(|| format!("linux.resources.devices[{i}]"))?;
    }
    for rule in default_allowed_rules() {
        write_rule(dir, &rule).context("allowing the default devices")?;
    }
    Ok(())
}

fn write_rule(dir: &Path, rule: &DeviceRule) -> Result<()> {
    fs::write(dir, rule.v1_file(), &rule.v1_line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rule_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("devices.deny"), "").unwrap();
        std::fs::write(tmp.path().join("devices.allow"), "").unwrap();
        let rules: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": true, "type": "c", "access": "rwx"}]"#).unwrap();
        let err = format!("{:#}", apply_devices(tmp.path(), &rules).unwrap_err());
        assert!(err.contains("linux.resources.devices[0]"), "{err}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("devices.deny")).unwrap(),
            ""
        );
    }
}
