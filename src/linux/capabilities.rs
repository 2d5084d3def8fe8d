//! `process.capabilities` (config.md#linux-process): the five capability sets.
//!
//! An absent `process.capabilities`, or an absent set inside it, means an
//! empty set: the process gets no capability it was not given (runc 1.1 does
//! the same, bounding set included). Inheritable in particular is never left
//! as inherited from the runtime (CVE-2022-29162).
//!
//! Unknown names are rejected when config.json is parsed (`validate_names`
//! for the raw JSON; the typed config cannot hold them). Names this kernel does
//! not know (above cap_last_cap) are skipped; `warnings` lists them so the
//! runtime can log them, as the spec asks.
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use std::str::FromStr;

/// The five sets, with their config.json names, in a fixed order.
fn named_sets(caps: &LinuxCapabilities) -> [(&'static str, Option<&Capabilities>); 5] {
    [
        ("bounding", caps.bounding().as_ref()),
        ("effective", caps.effective().as_ref()),
        ("inheritable", caps.inheritable().as_ref()),
        ("permitted", caps.permitted().as_ref()),
        ("ambient", caps.ambient().as_ref()),
    ]
}

/// The kernel number of a capability (CAP_CHOWN = 0 ...).
pub fn index_of(cap: Capability) -> Result<u8> {
    let name = format!("CAP_{cap}");
    caps::Capability::from_str(&name)
        .map(|c| c.index())
        .map_err(|e| anyhow!("capability {name}: {e}"))
}

/// The highest capability number the running kernel knows, probed with
/// PR_CAPBSET_READ (no procfs needed: this runs after pivot_root).
pub fn last_cap() -> u8 {
    let mut last = 0u8;
    for index in 0..64u8 {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, index as libc::c_ulong, 0, 0, 0) };
        if rc < 0 {
            break;
        }
        last = index;
    }
    last
}

/// A set as a 64-bit mask of the capabilities this kernel knows.
fn mask_of(set: Option<&Capabilities>, last: u8) -> Result<u64> {
    let mut mask = 0u64;
    for cap in set.into_iter().flatten() {
        let index = index_of(*cap)?;
        if index <= last {
            mask |= 1u64 << index;
        }
    }
    Ok(mask)
}

fn name_of(index: u8) -> String {
    caps::all()
        .into_iter()
        .find(|c| c.index() == index)
        .map(|c| c.to_string())
        .unwrap_or_else(|| format!("capability {index}"))
}

/// Checks the raw JSON of `process.capabilities` before typed parsing, so an
/// unknown name is reported with its set: `process.capabilities.bounding:
/// unknown capability "CAP_FOO"`. Accepts what the typed parser accepts.
pub fn validate_names(raw: &serde_json::Value) -> Result<()> {
    let Some(object) = raw.as_object() else {
        if raw.is_null() {
            return Ok(());
        }
        bail!("process.capabilities: must be an object");
    };
    for (set, list) in object {
        let Some(list) = list.as_array() else {
            if list.is_null() {
                continue;
            }
            bail!("process.capabilities.{set}: must be an array of capability names");
        };
        for (i, name) in list.iter().enumerate() {
            let Some(text) = name.as_str() else {
                bail!("process.capabilities.{set}[{i}]: must be a string");
            };
            if serde_json::from_value::<Capability>(name.clone()).is_err() {
                bail!("process.capabilities.{set}: unknown capability {text:?}");
            }
        }
    }
    Ok(())
}

/// Checks the typed `process.capabilities`: effective must be a subset of
/// permitted (the kernel refuses anything else, with a bare EPERM).
pub fn validate(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(caps) = caps else { return Ok(()) };
    let permitted = caps.permitted().clone().unwrap_or_default();
    let mut effective: Vec<_> = caps.effective().iter().flatten().collect();
    effective.sort_by_key(|c| c.to_string());
    for cap in effective {
        if !permitted.contains(cap) {
            bail!("process.capabilities.effective: CAP_{cap} is not in process.capabilities.permitted");
        }
    }
    Ok(())
}

/// Warnings the runtime should log for `process.capabilities`: names this
/// kernel does not know (they are skipped), and ambient capabilities that
/// cannot be raised because they are not both permitted and inheritable.
pub fn warnings(caps: Option<&LinuxCapabilities>) -> Vec<String> {
    let Some(caps) = caps else { return Vec::new() };
    let last = last_cap();
    let mut out = Vec::new();
    for (set, list) in named_sets(caps) {
        let mut names: Vec<_> = list.into_iter().flatten().collect();
        names.sort_by_key(|c| c.to_string());
        for cap in names {
            if index_of(*cap).map_or(true, |i| i > last) {
                out.push(format!(
                    "process.capabilities.{set}: CAP_{cap} is not known to this kernel; ignored"
                ));
            }
        }
    }
    let in_both = |c: &Capability| {
        caps.permitted().as_ref().is_some_and(|p| p.contains(c))
            && caps.inheritable().as_ref().is_some_and(|i| i.contains(c))
    };
    let mut ambient: Vec<_> = caps.ambient().iter().flatten().collect();
    ambient.sort_by_key(|c| c.to_string());
    for cap in ambient {
        if !in_both(cap) {
            out.push(format!(
                "process.capabilities.ambient: CAP_{cap} is not in both permitted and inheritable; it cannot be raised"
            ));
        }
    }
    out
}

/// Applies `process.capabilities.bounding`: drops every capability this
/// kernel knows that is not listed. Runs before the uid switch, because
/// dropping needs CAP_SETPCAP.
pub fn apply_bounding(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let last = last_cap();
    let keep = mask_of(caps.and_then(|c| c.bounding().as_ref()), last)?;
    for index in 0..=last {
        if keep & (1u64 << index) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let present =
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, index as libc::c_ulong, 0, 0, 0) };
        if present != 1 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, index as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            bail!(
                "process.capabilities.bounding: dropping {}: {err}",
                name_of(index)
            );
        }
    }
    Ok(())
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// capset(2) of effective, permitted and inheritable in one call (one call,
/// because setting them one by one can pass through states the kernel refuses).
fn capset(effective: u64, permitted: u64, inheritable: u64) -> std::io::Result<()> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: capset reads one header and, for version 3, two data structs;
    // both arrays live on our stack for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Applies `process.capabilities.{effective,permitted,inheritable,ambient}`
/// after the uid switch (user::switch keeps the permitted set across it).
/// Ambient capabilities are raised only when both permitted and inheritable
/// hold them (the kernel's rule; `warnings` reports the others).
pub fn apply_sets(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let last = last_cap();
    let set = |f: fn(&LinuxCapabilities) -> &Option<Capabilities>| caps.and_then(|c| f(c).as_ref());
    let effective = mask_of(set(LinuxCapabilities::effective), last)?;
    let permitted = mask_of(set(LinuxCapabilities::permitted), last)?;
    let inheritable = mask_of(set(LinuxCapabilities::inheritable), last)?;
    let ambient = mask_of(set(LinuxCapabilities::ambient), last)?;

    capset(effective, permitted, inheritable).context(
        "process.capabilities: capset(effective, permitted, inheritable) (is effective a subset of permitted?)",
    )?;

    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc != 0 && ambient != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.capabilities.ambient: clearing the ambient set: {err}");
    }
    let raisable = ambient & permitted & inheritable;
    for index in 0..=last {
        if raisable & (1u64 << index) == 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                index as libc::c_ulong,
                0,
                0,
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            bail!(
                "process.capabilities.ambient: raising {}: {err}",
                name_of(index)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;
    use serde_json::json;

    fn set(names: &[Capability]) -> Capabilities {
        names.iter().copied().collect()
    }

    #[test]
    fn indexes_match_the_kernel_numbers() {
        assert_eq!(index_of(Capability::Chown).unwrap(), 0);
        assert_eq!(index_of(Capability::NetBindService).unwrap(), 10);
        assert_eq!(index_of(Capability::SysAdmin).unwrap(), 21);
        assert_eq!(index_of(Capability::CheckpointRestore).unwrap(), 40);
    }

    #[test]
    fn every_spec_capability_maps_to_a_kernel_number() {
        let all = [
            "AUDIT_CONTROL",
            "AUDIT_READ",
            "AUDIT_WRITE",
            "BLOCK_SUSPEND",
            "BPF",
            "CHECKPOINT_RESTORE",
            "CHOWN",
            "DAC_OVERRIDE",
            "DAC_READ_SEARCH",
            "FOWNER",
            "FSETID",
            "IPC_LOCK",
            "IPC_OWNER",
            "KILL",
            "LEASE",
            "LINUX_IMMUTABLE",
            "MAC_ADMIN",
            "MAC_OVERRIDE",
            "MKNOD",
            "NET_ADMIN",
            "NET_BIND_SERVICE",
            "NET_BROADCAST",
            "NET_RAW",
            "PERFMON",
            "SETGID",
            "SETFCAP",
            "SETPCAP",
            "SETUID",
            "SYS_ADMIN",
            "SYS_BOOT",
            "SYS_CHROOT",
            "SYS_MODULE",
            "SYS_NICE",
            "SYS_PACCT",
            "SYS_PTRACE",
            "SYS_RAWIO",
            "SYS_RESOURCE",
            "SYS_TIME",
            "SYS_TTY_CONFIG",
            "SYSLOG",
            "WAKE_ALARM",
        ];
        for name in all {
            let cap: Capability = serde_json::from_value(json!(format!("CAP_{name}"))).unwrap();
            index_of(cap).unwrap();
        }
    }

    #[test]
    fn unknown_names_are_errors_naming_set_and_name() {
        let raw = json!({"bounding": ["CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_FOO"]});
        let err = validate_names(&raw).unwrap_err().to_string();
        assert!(err.contains("process.capabilities.permitted"), "{err}");
        assert!(err.contains("CAP_FOO"), "{err}");
        validate_names(&json!({"bounding": ["CAP_CHOWN", "cap_kill"], "ambient": null})).unwrap();
        validate_names(&serde_json::Value::Null).unwrap();
        assert!(validate_names(&json!({"bounding": [3]})).is_err());
    }

    #[test]
    fn effective_outside_permitted_is_rejected() {
        let caps = LinuxCapabilitiesBuilder::default()
            .effective(set(&[Capability::Kill, Capability::Chown]))
            .permitted(set(&[Capability::Kill]))
            .build()
            .unwrap();
        let err = validate(Some(&caps)).unwrap_err().to_string();
        assert!(err.contains("CAP_CHOWN"), "{err}");
        assert!(err.contains("process.capabilities.effective"), "{err}");
        validate(None).unwrap();
    }

    #[test]
    fn ambient_not_permitted_and_inheritable_is_warned() {
        let caps = LinuxCapabilitiesBuilder::default()
            .permitted(set(&[Capability::Kill, Capability::Chown]))
            .inheritable(set(&[Capability::Kill]))
            .ambient(set(&[Capability::Kill, Capability::Chown]))
            .build()
            .unwrap();
        let w = warnings(Some(&caps));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("CAP_CHOWN"), "{w:?}");
    }

    #[test]
    fn masks_skip_caps_above_the_kernel_limit() {
        let s = set(&[Capability::Chown, Capability::CheckpointRestore]);
        assert_eq!(mask_of(Some(&s), 40).unwrap(), 1 | (1u64 << 40));
        assert_eq!(mask_of(Some(&s), 39).unwrap(), 1);
        assert_eq!(mask_of(None, 40).unwrap(), 0);
    }

    #[test]
    fn last_cap_matches_procfs() {
        let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        assert_eq!(last_cap().to_string(), text.trim());
    }
}
