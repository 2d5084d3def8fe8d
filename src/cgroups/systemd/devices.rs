//! `linux.resources.devices` as systemd unit properties, as runc does it:
//! systemd only has an allow list (`DevicePolicy=strict` + `DeviceAllow=`),
//! so the rules are first replayed the way the kernel's device cgroup
//! would apply them (deny all, the config's rules in order, then the default
//! devices every container gets), and the resulting allow list is
//! translated to systemd's syntax:
//!
//! - `c 1:3` → `/dev/char/1:3`, `b 8:0` → `/dev/block/8:0`;
//! - `c 136:*` → `char-pts`, the major's group name in /proc/devices;
//! - `c *:*` → `char-*`;
//! - `c *:3` cannot be said in systemd's syntax: skipped with a warning
//!   (the cgroupfs driver still writes it on v1, as runc's fallback does).

use crate::cgroups::{default_allowed_rules, validate_rules, DeviceRule};
use crate::dbus::Value;
use anyhow::Result;
use oci_spec::runtime::LinuxDeviceCgroup;

use super::properties::Property;

/// The allow list after replaying `rules` from "deny all".
#[derive(Debug, Default, PartialEq)]
struct Replay {
    /// An `a *:*` allow came last: everything is allowed.
    allow_all: bool,
    /// Denies seen while everything was allowed (systemd cannot express them).
    denies_in_allow_all: bool,
    allowed: Vec<DeviceRule>,
}

fn is_wildcard_all(rule: &DeviceRule) -> bool {
    rule.kind == 'a' && rule.major.is_none() && rule.minor.is_none()
}

fn replay(rules: &[DeviceRule]) -> Replay {
    let mut state = Replay::default();
    for rule in rules {
        if is_wildcard_all(rule) {
            state = Replay {
                allow_all: rule.allow,
                ..Replay::default()
            };
            continue;
        }
        // An `a` rule with numbers means both kinds.
        let kinds: &[char] = if rule.kind == 'a' {
            &['c', 'b']
        } else {
            &[rule.kind]
        };
        for &kind in kinds {
            let one = DeviceRule {
                kind,
                ..rule.clone()
            };
            match (state.allow_all, one.allow) {
                (false, true) => state.allowed.push(one),
                (false, false) => remove_access(&mut state.allowed, &one),
                (true, false) => state.denies_in_allow_all = true,
                (true, true) => {}
            }
        }
    }
    state
}

/// A deny takes its access letters away from allows of the same device.
fn remove_access(allowed: &mut Vec<DeviceRule>, deny: &DeviceRule) {
    for rule in allowed.iter_mut() {
        if rule.kind == deny.kind && rule.major == deny.major && rule.minor == deny.minor {
            rule.access.retain(|c| !deny.access.contains(c));
        }
    }
    allowed.retain(|r| !r.access.is_empty());
}

/// The device group name of `major` in /proc/devices ("char-pts").
fn device_group(proc_devices: &str, kind: char, major: i64) -> Option<String> {
    let section = if kind == 'b' {
        "Block devices:"
    } else {
        "Character devices:"
    };
    let mut in_section = false;
    for line in proc_devices.lines() {
        if line.ends_with(':') {
            in_section = line == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let mut fields = line.split_whitespace();
        if fields.next().and_then(|m| m.parse::<i64>().ok()) == Some(major) {
            let prefix = if kind == 'b' { "block" } else { "char" };
            return fields.next().map(|name| format!("{prefix}-{name}"));
        }
    }
    None
}

/// systemd's name for the devices a rule covers, if it has one.
fn device_allow_path(rule: &DeviceRule, proc_devices: &str) -> Option<String> {
    let (prefix, dir) = if rule.kind == 'b' {
        ("block", "block")
    } else {
        ("char", "char")
    };
    match (rule.major, rule.minor) {
        (None, None) => Some(format!("{prefix}-*")),
        (None, Some(_)) => None,
        (Some(major), None) => device_group(proc_devices, rule.kind, major),
        (Some(major), Some(minor)) => Some(format!("/dev/{dir}/{major}:{minor}")),
    }
}

/// DevicePolicy and DeviceAllow for `linux.resources.devices` plus the
/// default devices. `proc_devices` is the text of /proc/devices.
pub fn device_properties(rules: &[LinuxDeviceCgroup], proc_devices: &str) -> Result<Vec<Property>> {
    let mut all = validate_rules(rules)?;
    all.extend(default_allowed_rules());
    let state = replay(&all);
    let policy = |p: &str| ("DevicePolicy".to_string(), Value::str(p));
    let allow = |entries: Vec<Value>| ("DeviceAllow".to_string(), Value::array("(ss)", entries));
    if state.allow_all {
        if !state.denies_in_allow_all {
            // Everything allowed: systemd's "auto" with no list.
            return Ok(vec![policy("auto"), allow(vec![])]);
        }
        crate::logging::warn(
            "systemd cannot express device deny rules after allowing all devices: asking it to deny all (the cgroupfs driver applies the rules on cgroup v1)",
        );
        return Ok(vec![policy("strict"), allow(vec![])]);
    }
    let mut entries = Vec::new();
    for rule in &state.allowed {
        match device_allow_path(rule, proc_devices) {
            Some(path) => entries.push(Value::Struct(vec![
                Value::Str(path),
                Value::str(&rule.access),
            ])),
            None => crate::logging::warn(&format!(
                "systemd cannot express the device rule {:?}: not passed to systemd",
                rule.v1_line()
            )),
        }
    }
    // An empty DeviceAllow first clears what the unit had (on an update).
    Ok(vec![policy("strict"), allow(vec![]), allow(entries)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_DEVICES: &str =
        "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n";

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    fn entries(props: &[Property]) -> Vec<(String, String)> {
        let Value::Array(_, items) = &props[2].1 else {
            panic!("{props:?}")
        };
        items
            .iter()
            .map(|v| match v {
                Value::Struct(f) => (
                    f[0].as_str().unwrap().to_string(),
                    f[1].as_str().unwrap().to_string(),
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn deny_all_then_allows_give_a_strict_list_with_the_defaults() {
        let props = device_properties(
            &rules(
                r#"[{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                    {"allow": true, "type": "b", "major": 8, "access": "r"}]"#,
            ),
            PROC_DEVICES,
        )
        .unwrap();
        assert_eq!(props[0], ("DevicePolicy".to_string(), Value::str("strict")));
        assert_eq!(props[1].1, Value::array("(ss)", vec![]));
        let e = entries(&props);
        for want in [
            ("/dev/char/10:229", "rw"),
            ("block-sd", "r"),
            ("char-*", "m"),
            ("block-*", "m"),
            ("/dev/char/1:3", "rwm"),
            ("char-pts", "rwm"),
            ("/dev/char/10:200", "rwm"),
        ] {
            assert!(
                e.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} not in {e:?}"
            );
        }
    }

    #[test]
    fn a_later_deny_removes_access_from_an_allow() {
        let props = device_properties(
            &rules(
                r#"[{"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                    {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}]"#,
            ),
            PROC_DEVICES,
        )
        .unwrap();
        assert!(entries(&props).contains(&("/dev/char/10:229".into(), "rm".into())));
    }

    #[test]
    fn allow_all_is_policy_auto() {
        let props = device_properties(
            &rules(r#"[{"allow": true, "access": "rwm"}]"#),
            PROC_DEVICES,
        )
        .unwrap();
        assert_eq!(
            props,
            vec![
                ("DevicePolicy".to_string(), Value::str("auto")),
                ("DeviceAllow".to_string(), Value::array("(ss)", vec![])),
            ]
        );
    }

    #[test]
    fn wildcard_major_and_unknown_groups_are_left_out() {
        let props = device_properties(
            &rules(
                r#"[{"allow": true, "type": "c", "minor": 3, "access": "r"},
                    {"allow": true, "type": "c", "major": 250, "access": "r"}]"#,
            ),
            PROC_DEVICES,
        )
        .unwrap();
        let e = entries(&props);
        assert!(!e.iter().any(|(_, a)| a == "r"), "{e:?}");
    }

    #[test]
    fn bad_rules_name_the_entry() {
        let err = device_properties(&rules(r#"[{"allow": true, "access": "x"}]"#), "").unwrap_err();
        assert!(format!("{err:#}").contains("linux.resources.devices[0]"));
    }
}
