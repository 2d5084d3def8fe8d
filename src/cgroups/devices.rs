//! `linux.resources.devices`: validating device cgroup rules and formatting
//! them for the v1 `devices.allow` / `devices.deny` files.

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One checked rule, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a`, `b` or `c`.
    pub kind: char,
    /// `None` = every major (`*`).
    pub major: Option<i64>,
    /// `None` = every minor (`*`).
    pub minor: Option<i64>,
    /// Some of `rwm`, each at most once.
    pub access: String,
}

impl DeviceRule {
    /// The line the v1 devices controller reads: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }

    /// The v1 file this rule is written to.
    pub fn v1_file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }
}

/// Check every entry of `linux.resources.devices`, in order; an error names
/// `linux.resources.devices[i]`.
pub fn validate_rules(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            validate_rule(rule).map_err(|e| e.context(format!("linux.resources.devices[{i}]")))
        })
        .collect()
}

fn validate_rule(rule: &LinuxDeviceCgroup) -> Result<DeviceRule> {
    // The spec: an unset type means "all".
    let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C => 'c',
        other => bail!(
            "type {:?} is not a device cgroup type (allowed: a, b, c)",
            other.as_str()
        ),
    };
    let major = device_number("major", rule.major())?;
    let minor = device_number("minor", rule.minor())?;
    let access = rule.access().clone().unwrap_or_default();
    validate_access(&access)?;
    Ok(DeviceRule {
        allow: rule.allow(),
        kind,
        major,
        minor,
        access,
    })
}

/// Unset or -1 mean "every number" (`*`); other negatives are errors.
fn device_number(what: &str, n: Option<i64>) -> Result<Option<i64>> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) if n < 0 => bail!("{what} {n} is negative (use -1 or leave it unset for all)"),
        Some(n) => Ok(Some(n)),
    }
}

/// `access` is a non-empty combination of `r`, `w`, `m`. runc 1.1 rejects an
/// empty or missing access ("device access at N field cannot be empty"), and
/// so do we, rather than guess what the user meant.
fn validate_access(access: &str) -> Result<()> {
    if access.is_empty() {
        bail!("access must not be empty (use a combination of r, w, m)");
    }
    for (i, c) in access.char_indices() {
        if !matches!(c, 'r' | 'w' | 'm') {
            bail!("access {access:?}: {c:?} is not one of r, w, m");
        }
        if access[..i].contains(c) {
            bail!("access {access:?}: {c:?} appears twice");
        }
    }
    Ok(())
}

/// The rules runc appends after the config's own (runc's `AllowedDevices`),
/// so the standard devices of config-linux.md#default-devices plus
/// `/dev/pts/*`, `/dev/ptmx` and `/dev/net/tun` work whatever the config
/// says, and `mknod` of any device is allowed (access still needs a rule).
pub fn default_allowed_rules() -> Vec<DeviceRule> {
    let rule = |kind, major, minor, access: &str| DeviceRule {
        allow: true,
        kind,
        major,
        minor,
        access: access.to_string(),
    };
    vec![
        rule('c', None, None, "m"),
        rule('b', None, None, "m"),
        rule('c', Some(1), Some(3), "rwm"),    // /dev/null
        rule('c', Some(1), Some(8), "rwm"),    // /dev/random
        rule('c', Some(1), Some(7), "rwm"),    // /dev/full
        rule('c', Some(5), Some(0), "rwm"),    // /dev/tty
        rule('c', Some(1), Some(5), "rwm"),    // /dev/zero
        rule('c', Some(1), Some(9), "rwm"),    // /dev/urandom
        rule('c', Some(136), None, "rwm"),     // /dev/pts/*
        rule('c', Some(5), Some(2), "rwm"),    // /dev/ptmx
        rule('c', Some(10), Some(200), "rwm"), // /dev/net/tun
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn formats_rules_with_star_for_unset_or_minus_one() {
        let rules = validate_rules(&parse(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                {"allow": true, "type": "b", "major": 8, "minor": -1, "access": "m"}]"#,
        ))
        .unwrap();
        let lines: Vec<(&str, String)> = rules.iter().map(|r| (r.v1_file(), r.v1_line())).collect();
        assert_eq!(
            lines,
            vec![
                ("devices.deny", "a *:* rwm".to_string()),
                ("devices.allow", "c 10:229 rw".to_string()),
                ("devices.allow", "b 8:* m".to_string()),
            ]
        );
    }

    #[test]
    fn rejects_bad_access_naming_the_entry() {
        for access in ["", "rx", "rr", "R"] {
            let json = format!(
                r#"[{{"allow": true, "access": "rwm"}}, {{"allow": true, "access": "{access}"}}]"#
            );
            let err = format!("{:#}", validate_rules(&parse(&json)).unwrap_err());
            assert!(
                err.contains("linux.resources.devices[1]"),
                "{access}: {err}"
            );
        }
        let err = format!(
            "{:#}",
            validate_rules(&parse(r#"[{"allow": true}]"#)).unwrap_err()
        );
        assert!(err.contains("linux.resources.devices[0]") && err.contains("access"));
    }

    #[test]
    fn rejects_non_cgroup_types_and_negative_numbers() {
        for json in [
            r#"[{"allow": true, "type": "p", "access": "r"}]"#,
            r#"[{"allow": true, "type": "u", "access": "r"}]"#,
            r#"[{"allow": true, "type": "c", "major": -2, "access": "r"}]"#,
        ] {
            let err = format!("{:#}", validate_rules(&parse(json)).unwrap_err());
            assert!(err.contains("linux.resources.devices[0]"), "{json}: {err}");
        }
    }

    #[test]
    fn default_rules_cover_the_spec_default_devices() {
        let lines: Vec<String> = default_allowed_rules()
            .iter()
            .map(DeviceRule::v1_line)
            .collect();
        for needed in [
            "c 1:3 rwm",
            "c 1:5 rwm",
            "c 1:7 rwm",
            "c 1:8 rwm",
            "c 1:9 rwm",
            "c 5:0 rwm",
            "c 5:2 rwm",
        ] {
            assert!(lines.iter().any(|l| l == needed), "{needed}");
        }
    }
}
