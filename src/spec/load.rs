//! Reading config.json from a bundle. Errors name the JSON path of the field
//! at fault, because "invalid type: string, expected u32 at line 40" alone
//! does not tell a user which field to fix.

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// A loaded bundle: its absolute directory, the parsed spec and the rootfs path.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    /// root.path made absolute against the bundle directory.
    pub rootfs: PathBuf,
}

/// Load and validate `<bundle>/config.json`; no path means the current directory.
pub fn load_bundle(bundle: Option<&Path>) -> Result<Bundle> {
    let dir = match bundle {
        Some(b) if !b.as_os_str().is_empty() => b.to_path_buf(),
        _ => std::env::current_dir().context("cannot read the current directory")?,
    };
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("bundle {}: cannot open", dir.display()))?;
    let config_path = dir.join("config.json");
    let text = std::fs::read(&config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let spec = parse_config(&text).with_context(|| format!("invalid {}", config_path.display()))?;
    super::validate(&spec)?;
    crate::rootfs::validate_mounts(&spec, &dir)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| anyhow!("root: missing (config.json must name the root filesystem)"))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .with_context(|| format!("root.path {}: rootfs does not exist", rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("root.path {}: not a directory", rootfs.display());
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parse config.json text, naming the path of a field of the wrong type.
pub fn parse_config(text: &[u8]) -> Result<Spec> {
    let mut raw: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| anyhow!("not valid JSON: {e}"))?;
    if !raw.is_object() {
        bail!("config.json must be a JSON object");
    }
    // Checks that need the raw text: the typed structs would only say
    // "unknown variant" without the set it was found in.
    if let Some(caps) = raw.get("process").and_then(|p| p.get("capabilities")) {
        crate::linux::capabilities::validate_names(caps)?;
    }
    super::schema_rules::check_required(&raw)?;
    if let Some(process) = raw.get_mut("process").and_then(|p| p.as_object_mut()) {
        // The schema (and runc) let process.user be left out: uid 0, gid 0.
        // oci-spec would refuse with "missing field `user`".
        process
            .entry("user")
            .or_insert_with(|| serde_json::json!({}));
    }
    if let Some(sched) = raw.get_mut("process").and_then(|p| p.get_mut("scheduler")) {
        // oci-spec 0.10 spells two of the spec's flag names differently.
        crate::linux::scheduler::accept_spec_flag_names(sched);
    }
    let spec: Spec = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            anyhow!("{inner}")
        } else {
            anyhow!("{path}: {inner}")
        }
    })?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_type_names_the_field() {
        let text = br#"{"ociVersion":"1.0.0","process":{"cwd":"/","args":["sh"],"user":{"uid":"zero","gid":0}},"root":{"path":"rootfs"}}"#;
        let err = format!("{:#}", parse_config(text).unwrap_err());
        assert!(err.contains("process.user.uid"), "{err}");
    }

    #[test]
    fn malformed_json_is_an_error() {
        let err = format!("{:#}", parse_config(b"{\"ociVersion\": ").unwrap_err());
        assert!(err.contains("not valid JSON"), "{err}");
    }

    /// serde_json refuses more than 128 levels of nesting, before anything
    /// recurses over the tree: 100 000 levels are an error, not a stack
    /// overflow, at the top and inside a field.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 100_000;
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let err = format!("{:#}", parse_config(arrays.as_bytes()).unwrap_err());
        assert!(err.contains("recursion limit exceeded"), "{err}");
        let objects = format!("{}0{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let in_field = format!(r#"{{"ociVersion":"1.0.0","annotations":{objects}}}"#);
        let err = format!("{:#}", parse_config(in_field.as_bytes()).unwrap_err());
        assert!(err.contains("recursion limit exceeded"), "{err}");
        // 100 levels are fine for the parser; the field's type is wrong.
        let shallow = format!(
            r#"{{"ociVersion":"1.0.0","process":{{"cwd":"/","args":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        let err = format!("{:#}", parse_config(shallow.as_bytes()).unwrap_err());
        assert!(err.contains("process.args"), "{err}");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let text = br#"{"ociVersion":"1.0.0","whatever":{"x":1},"root":{"path":"rootfs"}}"#;
        assert!(parse_config(text).is_ok());
    }
}
