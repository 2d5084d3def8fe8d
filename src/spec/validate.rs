//! Checks on a parsed config.json that serde cannot express. Everything here
//! runs before any process, mount or cgroup is created, so a bad config
//! leaves nothing behind. Each error names the field at fault.

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;

pub fn validate(spec: &Spec) -> Result<()> {
    validate_root(spec)?;
    validate_process(spec)?;
    validate_mounts(spec)?;
    validate_namespaces(spec)?;
    validate_uts(spec)?;
    validate_id_mappings(spec)?;
    validate_time_offsets(spec)?;
    validate_sysctl(spec)?;
    validate_process_attributes(spec)?;
    super::schema_rules::validate(spec)?;
    Ok(())
}

/// process fields whose rules live beside the code that applies them.
fn validate_process_attributes(spec: &Spec) -> Result<()> {
    use crate::linux;
    let Some(process) = spec.process() else {
        return Ok(());
    };
    linux::capabilities::validate(process.capabilities().as_ref())?;
    if let Some(r) = process.rlimits() {
        linux::rlimits::validate(r)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        linux::oom_score_adj::validate(adj)?;
    }
    if let Some(s) = process.scheduler() {
        linux::scheduler::validate(s)?;
    }
    linux::apparmor::validate(process.apparmor_profile().as_deref())?;
    linux::selinux::validate(
        process.selinux_label().as_deref(),
        spec.linux()
            .as_ref()
            .and_then(|l| l.mount_label().as_deref()),
    )?;
    if let Some(mask) = process.user().umask() {
        linux::user::validate_umask(mask)?;
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        linux::sysctl::validate(sysctl)?;
    }
    Ok(())
}

fn has_namespace(spec: &Spec, ty: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == ty))
}

/// A namespace of this type is created (not joined by path).
fn creates_namespace(spec: &Spec, ty: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == ty && n.path().is_none()))
}

/// root.path: REQUIRED on Linux.
fn validate_root(spec: &Spec) -> Result<()> {
    match spec.root() {
        None => bail!("root: missing (config.json must name the root filesystem in root.path)"),
        Some(root) if root.path().as_os_str().is_empty() => bail!("root.path: must not be empty"),
        Some(_) => Ok(()),
    }
}

/// process: REQUIRED for start; args non-empty; cwd absolute.
fn validate_process(spec: &Spec) -> Result<()> {
    let Some(process) = spec.process() else {
        bail!("process: missing (config.json must describe the container process)");
    };
    match process.args() {
        Some(args) if !args.is_empty() => {}
        _ => bail!("process.args: must not be empty"),
    }
    if !process.cwd().is_absolute() {
        bail!(
            "process.cwd {:?}: must be an absolute path",
            process.cwd().display().to_string()
        );
    }
    if let Some(env) = process.env() {
        for (i, e) in env.iter().enumerate() {
            if !e.contains('=') {
                bail!("process.env[{i}] {e:?}: must be of the form KEY=value");
            }
        }
    }
    Ok(())
}

/// mounts[].destination: MUST be absolute (config.md#mounts).
fn validate_mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if !dest.is_absolute() {
            bail!(
                "mounts[{i}].destination {:?}: must be an absolute path",
                dest.display().to_string()
            );
        }
    }
    Ok(())
}

/// linux.namespaces: each type at most once; paths absolute.
fn validate_namespaces(spec: &Spec) -> Result<()> {
    let Some(namespaces) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    for (i, ns) in namespaces.iter().enumerate() {
        if !seen.insert(ns.typ()) {
            bail!(
                "linux.namespaces[{i}]: duplicate namespace type {:?}",
                ns.typ()
            );
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                bail!(
                    "linux.namespaces[{i}].path {:?}: must be an absolute path",
                    path.display().to_string()
                );
            }
        }
    }
    Ok(())
}

/// hostname/domainname need a UTS namespace (config.md#hostname).
fn validate_uts(spec: &Spec) -> Result<()> {
    let wants = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.is_empty());
    if wants(spec.hostname()) && !has_namespace(spec, LinuxNamespaceType::Uts) {
        bail!("hostname: cannot be set without a UTS namespace in linux.namespaces");
    }
    if wants(spec.domainname()) && !has_namespace(spec, LinuxNamespaceType::Uts) {
        bail!("domainname: cannot be set without a UTS namespace in linux.namespaces");
    }
    Ok(())
}

/// uidMappings/gidMappings go with a new user namespace.
fn validate_id_mappings(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let has_uid = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let has_gid = linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if creates_namespace(spec, LinuxNamespaceType::User) {
        if !has_uid {
            bail!("linux.uidMappings: required when a new user namespace is created");
        }
        if !has_gid {
            bail!("linux.gidMappings: required when a new user namespace is created");
        }
    } else if has_uid || has_gid {
        bail!("linux.uidMappings/gidMappings: only allowed with a new user namespace in linux.namespaces");
    }
    for (field, maps) in [
        ("linux.uidMappings", linux.uid_mappings()),
        ("linux.gidMappings", linux.gid_mappings()),
    ] {
        for (i, m) in maps.iter().flatten().enumerate() {
            if m.size() == 0 {
                bail!("{field}[{i}].size: must be greater than zero");
            }
        }
    }
    Ok(())
}

/// linux.timeOffsets need a new time namespace.
fn validate_time_offsets(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        if !creates_namespace(spec, LinuxNamespaceType::Time) {
            bail!("linux.timeOffsets: require a new time namespace in linux.namespaces");
        }
        for key in linux.time_offsets().iter().flatten().map(|(k, _)| k) {
            if key != "monotonic" && key != "boottime" {
                bail!("linux.timeOffsets.{key}: only monotonic and boottime can be offset");
            }
        }
    }
    Ok(())
}

/// linux.sysctl: namespaced keys need the namespace they belong to, as runc checks.
fn validate_sysctl(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for raw_key in sysctl.keys() {
        // sysctl(8)'s path form ("net/core/somaxconn") is the same key.
        let key = &crate::linux::sysctl::dotted_key(raw_key);
        if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
            bail!("linux.sysctl {key:?}: not a valid sysctl name");
        }
        let ipc = key.starts_with("fs.mqueue.")
            || matches!(
                key.as_str(),
                "kernel.msgmax"
                    | "kernel.msgmnb"
                    | "kernel.msgmni"
                    | "kernel.sem"
                    | "kernel.shmall"
                    | "kernel.shmmax"
                    | "kernel.shmmni"
                    | "kernel.shm_rmid_forced"
            );
        if ipc && !has_namespace(spec, LinuxNamespaceType::Ipc) {
            bail!("linux.sysctl {key:?}: requires an IPC namespace");
        }
        if key.starts_with("net.") && !has_namespace(spec, LinuxNamespaceType::Network) {
            bail!("linux.sysctl {key:?}: requires a network namespace");
        }
        if (key == "kernel.hostname" || key == "kernel.domainname")
            && !has_namespace(spec, LinuxNamespaceType::Uts)
        {
            bail!("linux.sysctl {key:?}: requires a UTS namespace");
        }
        let allowed = ipc
            || key.starts_with("net.")
            || key == "kernel.hostname"
            || key == "kernel.domainname";
        if !allowed {
            bail!("linux.sysctl {key:?}: not a namespaced sysctl; it would change the host");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load::parse_config;

    fn spec_with(patch: serde_json::Value) -> Spec {
        let mut base = crate::spec::default_spec(false, 0, 0);
        json_merge(&mut base, patch);
        parse_config(&serde_json::to_vec(&base).unwrap()).unwrap()
    }

    fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn err(patch: serde_json::Value) -> String {
        format!("{:#}", validate(&spec_with(patch)).unwrap_err())
    }

    #[test]
    fn relative_mount_destination_is_refused() {
        let e = err(
            serde_json::json!({"mounts": [{"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}]}),
        );
        assert!(e.contains("mounts[0].destination"), "{e}");
    }

    #[test]
    fn hostname_needs_uts() {
        let e = err(serde_json::json!({"linux": {"namespaces": [{"type": "mount"}]}}));
        assert!(e.contains("hostname"), "{e}");
    }

    #[test]
    fn duplicate_namespace_is_refused() {
        let e =
            err(serde_json::json!({"linux": {"namespaces": [{"type": "uts"}, {"type": "uts"}]}}));
        assert!(e.contains("duplicate"), "{e}");
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let e =
            err(serde_json::json!({"linux": {"namespaces": [{"type": "uts"}, {"type": "user"}]}}));
        assert!(e.contains("uidMappings"), "{e}");
    }

    #[test]
    fn host_sysctl_is_refused() {
        let e = err(serde_json::json!({"linux": {"sysctl": {"vm.swappiness": "10"}}}));
        assert!(e.contains("vm.swappiness"), "{e}");
        assert!(validate(&spec_with(
            serde_json::json!({"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}})
        ))
        .is_ok());
    }

    #[test]
    fn sysctl_path_form_is_the_same_key() {
        assert_eq!(
            crate::linux::sysctl::dotted_key("net/core/somaxconn"),
            "net.core.somaxconn"
        );
        assert_eq!(
            crate::linux::sysctl::dotted_key("net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert!(validate(&spec_with(
            serde_json::json!({"linux": {"sysctl": {"net/core/somaxconn": "1"}}})
        ))
        .is_ok());
        assert!(validate(&spec_with(
            serde_json::json!({"linux": {"sysctl": {"vm/swappiness": "1"}}})
        ))
        .is_err());
    }

    #[test]
    fn empty_args_are_refused() {
        let e = err(serde_json::json!({"process": {"args": []}}));
        assert!(e.contains("process.args"), "{e}");
    }

    #[test]
    fn time_offsets_need_time_namespace() {
        let e = err(serde_json::json!({"linux": {"timeOffsets": {"monotonic": {"secs": 1}}}}));
        assert!(e.contains("timeOffsets"), "{e}");
    }
}
