//! Rules of the runtime-spec JSON schema (schema/config-schema.json,
//! config-linux.json, defs*.json) that the typed structs of oci-spec do not
//! enforce: fields the schema lists as `required` but oci-spec fills with a
//! default (a missing `hugepageLimits[].limit` would silently become 0), and
//! string patterns. Types, enums and integer ranges are enforced by serde
//! already (a wrong type names its JSON path, see load.rs).
//!
//! Not enforced on purpose: `linux.devices[].fileMode` maximum 511. Engines
//! pass modes with the file-type bits set and runc accepts them; the devices
//! code keeps only the permission bits (rootfs/devices.rs).

use anyhow::{bail, Result};
use oci_spec::runtime::Spec;
use serde_json::Value;

/// A path into config.json: object keys, with `[]` for "every element of
/// this array" and `{}` for "every value of this object".
type SchemaPath = &'static [&'static str];

/// The schema's `required` lists for objects whose fields oci-spec defaults.
/// Objects whose required fields serde already insists on (process.cwd,
/// mounts[].destination, linux.namespaces[].type, seccomp...) are listed too:
/// the check is cheap and names the field the same way everywhere.
const REQUIRED: &[(SchemaPath, &[&str])] = &[
    (&["root"], &["path"]),
    (&["process"], &["cwd"]),
    (&["process", "consoleSize"], &["height", "width"]),
    (&["process", "ioPriority"], &["class"]),
    (&["process", "scheduler"], &["policy"]),
    (&["process", "rlimits", "[]"], &["type", "soft", "hard"]),
    (&["hooks", "{}", "[]"], &["path"]),
    (&["mounts", "[]"], &["destination"]),
    (
        &["mounts", "[]", "uidMappings", "[]"],
        &["containerID", "hostID", "size"],
    ),
    (
        &["mounts", "[]", "gidMappings", "[]"],
        &["containerID", "hostID", "size"],
    ),
    (
        &["linux", "uidMappings", "[]"],
        &["containerID", "hostID", "size"],
    ),
    (
        &["linux", "gidMappings", "[]"],
        &["containerID", "hostID", "size"],
    ),
    (&["linux", "namespaces", "[]"], &["type"]),
    (&["linux", "devices", "[]"], &["type", "path"]),
    (&["linux", "resources", "devices", "[]"], &["allow"]),
    (&["linux", "resources", "pids"], &["limit"]),
    (
        &["linux", "resources", "hugepageLimits", "[]"],
        &["pageSize", "limit"],
    ),
    (
        &["linux", "resources", "blockIO", "weightDevice", "[]"],
        &["major", "minor"],
    ),
    (
        &[
            "linux",
            "resources",
            "blockIO",
            "throttleReadBpsDevice",
            "[]",
        ],
        &["major", "minor"],
    ),
    (
        &[
            "linux",
            "resources",
            "blockIO",
            "throttleWriteBpsDevice",
            "[]",
        ],
        &["major", "minor"],
    ),
    (
        &[
            "linux",
            "resources",
            "blockIO",
            "throttleReadIOPSDevice",
            "[]",
        ],
        &["major", "minor"],
    ),
    (
        &[
            "linux",
            "resources",
            "blockIO",
            "throttleWriteIOPSDevice",
            "[]",
        ],
        &["major", "minor"],
    ),
    (
        &["linux", "resources", "network", "priorities", "[]"],
        &["name", "priority"],
    ),
    (&["linux", "seccomp"], &["defaultAction"]),
    (
        &["linux", "seccomp", "syscalls", "[]"],
        &["names", "action"],
    ),
    (
        &["linux", "seccomp", "syscalls", "[]", "args", "[]"],
        &["index", "value", "op"],
    ),
];

/// Every field the schema requires is present (checked on the raw JSON,
/// before oci-spec fills in defaults). Values of the wrong type are left to
/// serde, which names them.
pub fn check_required(raw: &Value) -> Result<()> {
    for (path, required) in REQUIRED {
        let mut found = Vec::new();
        collect(raw, path, String::new(), &mut found);
        for (at, object) in found {
            for field in *required {
                // null is no value of any required field's type; oci-spec
                // would read it as "absent" for optional Rust fields.
                if matches!(object.get(*field), None | Some(Value::Null)) {
                    bail!("{at}.{field}: missing (the runtime-spec schema requires it)");
                }
            }
        }
    }
    Ok(())
}

/// The objects at `path` under `value`, with their JSON path for messages.
fn collect<'a>(
    value: &'a Value,
    path: &[&str],
    at: String,
    out: &mut Vec<(String, &'a serde_json::Map<String, Value>)>,
) {
    let Some((step, rest)) = path.split_first() else {
        if let Value::Object(object) = value {
            out.push((at, object));
        }
        return;
    };
    match (*step, value) {
        ("[]", Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, rest, format!("{at}[{i}]"), out);
            }
        }
        ("{}", Value::Object(map)) => {
            for (key, item) in map {
                collect(item, rest, join(&at, key), out);
            }
        }
        (key, Value::Object(map)) => {
            if let Some(item) = map.get(key) {
                collect(item, rest, join(&at, key), out);
            }
        }
        _ => {}
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// The schema's string patterns and minimums on a parsed spec.
pub fn validate(spec: &Spec) -> Result<()> {
    validate_hugepage_page_sizes(spec)?;
    validate_mem_bw_schema(spec)?;
    validate_hook_timeouts(spec)?;
    validate_seccomp_syscall_names(spec)?;
    Ok(())
}

/// linux.resources.hugepageLimits[].pageSize: pattern `^[1-9][0-9]*[KMG]B$`
/// (config-linux.md#huge-page-limits), e.g. "2MB" or "1GB".
fn validate_hugepage_page_sizes(spec: &Spec) -> Result<()> {
    let limits = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.hugepage_limits().as_ref());
    for (i, limit) in limits.into_iter().flatten().enumerate() {
        let size = limit.page_size();
        if !is_hugepage_size(size) {
            bail!(
                "linux.resources.hugepageLimits[{i}].pageSize {size:?}: must be a number \
                 followed by KB, MB or GB, like \"2MB\""
            );
        }
    }
    Ok(())
}

/// `^[1-9][0-9]*[KMG]B$`
pub fn is_hugepage_size(size: &str) -> bool {
    let Some(number) = size
        .strip_suffix("KB")
        .or_else(|| size.strip_suffix("MB"))
        .or_else(|| size.strip_suffix("GB"))
    else {
        return false;
    };
    number.starts_with(|c: char| ('1'..='9').contains(&c))
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// linux.intelRdt.memBwSchema: pattern `^MB:[^\n]*$` (config-linux.md#intelrdt).
fn validate_mem_bw_schema(spec: &Spec) -> Result<()> {
    let schema = spec
        .linux()
        .as_ref()
        .and_then(|l| l.intel_rdt().as_ref())
        .and_then(|r| r.mem_bw_schema().as_ref());
    if let Some(schema) = schema {
        if !schema.starts_with("MB:") || schema.contains('\n') {
            bail!("linux.intelRdt.memBwSchema {schema:?}: must start with \"MB:\" and be one line");
        }
    }
    Ok(())
}

/// hooks.<kind>[].timeout: minimum 1 (config.md#posix-platform-hooks says it
/// MUST be greater than zero).
fn validate_hook_timeouts(spec: &Spec) -> Result<()> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    let kinds = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            if let Some(timeout) = hook.timeout() {
                if timeout < 1 {
                    bail!("hooks.{kind}[{i}].timeout {timeout}: must be at least 1 second");
                }
            }
        }
    }
    Ok(())
}

/// linux.seccomp.syscalls[].names: minItems 1 (an entry without names would
/// silently match nothing).
fn validate_seccomp_syscall_names(spec: &Spec) -> Result<()> {
    let syscalls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.syscalls().as_ref());
    for (i, syscall) in syscalls.into_iter().flatten().enumerate() {
        if syscall.names().is_empty() {
            bail!("linux.seccomp.syscalls[{i}].names: must name at least one system call");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn required_err(raw: Value) -> String {
        format!("{:#}", check_required(&raw).unwrap_err())
    }

    #[test]
    fn missing_required_fields_are_named_with_their_path() {
        let e = required_err(json!({"linux": {"resources": {"hugepageLimits": [
            {"pageSize": "2MB", "limit": 1}, {"pageSize": "1GB"}]}}}));
        assert_eq!(
            e,
            "linux.resources.hugepageLimits[1].limit: missing (the runtime-spec schema requires it)"
        );
        let e = required_err(json!({"hooks": {"poststop": [{"args": ["x"]}]}}));
        assert!(e.starts_with("hooks.poststop[0].path: missing"), "{e}");
        let e = required_err(json!({"linux": {"uidMappings": [{"hostID": 1000, "size": 1}]}}));
        assert!(
            e.starts_with("linux.uidMappings[0].containerID: missing"),
            "{e}"
        );
        let e = required_err(json!({"process": {"cwd": "/", "consoleSize": {"height": 1}}}));
        assert!(e.starts_with("process.consoleSize.width: missing"), "{e}");
        let e = required_err(json!({"linux": {"resources": {"pids": {"limit": null}}}}));
        assert!(e.starts_with("linux.resources.pids.limit: missing"), "{e}");
        let e = required_err(json!({"linux": {"resources": {"devices": [{"access": "rwm"}]}}}));
        assert!(
            e.starts_with("linux.resources.devices[0].allow: missing"),
            "{e}"
        );
        let e = required_err(
            json!({"process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]}}),
        );
        assert!(e.starts_with("process.rlimits[0].hard: missing"), "{e}");
    }

    #[test]
    fn present_fields_and_other_types_pass_the_required_check() {
        assert!(
            check_required(&json!({"root": {"path": "rootfs"}, "process": {"cwd": "/"},
            "linux": {"resources": {"pids": {"limit": 10}}}}))
            .is_ok()
        );
        // A wrong type is serde's to report, with its own path.
        assert!(check_required(&json!({"linux": {"uidMappings": "x"}, "hooks": []})).is_ok());
        assert!(check_required(&json!([1, 2])).is_ok());
    }

    #[test]
    fn hugepage_size_pattern() {
        for good in ["2MB", "1GB", "64KB", "10240KB"] {
            assert!(is_hugepage_size(good), "{good}");
        }
        for bad in [
            "64kB", "0MB", "MB", "2 MB", "2M", "02MB", "2TB", "", "-2MB", "+2MB", "2ＭB",
        ] {
            assert!(!is_hugepage_size(bad), "{bad}");
        }
    }

    fn spec(raw: Value) -> Spec {
        serde_json::from_value(raw).unwrap()
    }

    #[test]
    fn bad_hugepage_size_names_the_field() {
        let s = spec(
            json!({"ociVersion": "1.0.0", "linux": {"resources": {"hugepageLimits": [
            {"pageSize": "2MB", "limit": 1}, {"pageSize": "64kB", "limit": 1}]}}}),
        );
        let e = format!("{:#}", validate(&s).unwrap_err());
        assert!(
            e.starts_with("linux.resources.hugepageLimits[1].pageSize \"64kB\""),
            "{e}"
        );
    }

    #[test]
    fn mem_bw_schema_needs_the_mb_prefix() {
        let s =
            spec(json!({"ociVersion": "1.0.0", "linux": {"intelRdt": {"memBwSchema": "L3:0=f"}}}));
        let e = format!("{:#}", validate(&s).unwrap_err());
        assert!(e.starts_with("linux.intelRdt.memBwSchema"), "{e}");
        let s = spec(
            json!({"ociVersion": "1.0.0", "linux": {"intelRdt": {"memBwSchema": "MB:0=70\nL3:0=f"}}}),
        );
        assert!(validate(&s).is_err());
        let s = spec(
            json!({"ociVersion": "1.0.0", "linux": {"intelRdt": {"memBwSchema": "MB:0=70;1=50"}}}),
        );
        assert!(validate(&s).is_ok());
    }

    #[test]
    fn hook_timeout_must_be_positive() {
        let s = spec(json!({"ociVersion": "1.0.0", "hooks": {"createRuntime": [
            {"path": "/bin/true", "timeout": 5}, {"path": "/bin/true", "timeout": 0}]}}));
        let e = format!("{:#}", validate(&s).unwrap_err());
        assert!(e.starts_with("hooks.createRuntime[1].timeout 0"), "{e}");
        let s = spec(json!({"ociVersion": "1.0.0", "hooks": {"poststop": [
            {"path": "/bin/true", "timeout": -3}]}}));
        assert!(validate(&s).is_err());
    }

    #[test]
    fn seccomp_syscall_entry_needs_names() {
        let s = spec(json!({"ociVersion": "1.0.0", "linux": {"seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                         {"names": [], "action": "SCMP_ACT_ERRNO"}]}}}));
        let e = format!("{:#}", validate(&s).unwrap_err());
        assert!(e.starts_with("linux.seccomp.syscalls[1].names"), "{e}");
    }
}
