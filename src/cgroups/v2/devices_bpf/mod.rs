//! `linux.resources.devices` on cgroup v2.
//!
//! cgroup v2 has no devices controller: the kernel asks the eBPF programs
//! of type BPF_PROG_TYPE_CGROUP_DEVICE attached to a process's cgroup (and
//! its ancestors) whether it may create (mknod), read or write a device
//! node. We compile the rule list into such a program (`compile`), load and
//! attach it in place of the previous one (`attach`, over `syscall`).

mod assemble;
mod attach;
mod compile;
mod insn;
#[cfg(test)]
mod interpret;
mod syscall;

use crate::cgroups::devices::{default_allowed_rules, validate_rules, DeviceRule};
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxDeviceCgroup;
use std::path::Path;

pub use attach::{attached_device_filters, detach_all_device_filters};

/// `linux.resources.devices`: the container may use only the devices the
/// rules allow (config-linux.md#allowed-device-list), plus runc's default
/// allowed devices, which come after the config's rules as on v1 — so a
/// config cannot deny /dev/null. No rules at all = only the defaults.
///
/// Called on every `set`, so an update replaces the filter; the rules are
/// all checked before anything is loaded, so a bad entry leaves the old
/// filter in place.
pub fn apply_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let mut all = validate_rules(rules)?;
    all.extend(default_allowed_rules());
    if !is_on_cgroup2(dir) {
        // Only a directory on cgroup2 takes a device filter. The v2 driver
        // builds its paths under the cgroup2 mount, so this is only the
        // plain-directory cgroup trees of its unit tests.
        return Ok(());
    }
    attach_device_filter(dir, &all)
}

/// Attach a filter for exactly `rules` (nothing appended) to the cgroup
/// directory `dir`, in place of the filters attached there now.
pub fn attach_device_filter(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let program = compile::compile(rules).context("linux.resources.devices")?;
    match attach::replace_device_filter(dir, &program) {
        Ok(()) => Ok(()),
        // Loading and attaching a device program takes CAP_SYS_ADMIN (and
        // CAP_BPF) in the initial user namespace. Without them (rootless, or
        // inside a user namespace) runc ignores device errors too: such a
        // container cannot mknod, and a device node it sees keeps the
        // host's permissions.
        Err(e) if !privileged() => {
            crate::logging::warn(&format!(
                "linux.resources.devices not enforced (unprivileged): {e:#}"
            ));
            Ok(())
        }
        Err(e) => Err(e.context("linux.resources.devices")),
    }
}

fn is_on_cgroup2(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Whether we run as root in the initial user namespace.
fn privileged() -> bool {
    crate::linux::userns::is_host_root()
}

#[cfg(test)]
mod tests {
    use super::compile::{compile, ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR};
    use super::interpret::{check_structure, run};
    use super::*;

    /// The verdict of the full list (config rules + defaults) for a device.
    fn allows(config: &str, dev_type: u32, major: u32, minor: u32, access: u32) -> bool {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(config).unwrap();
        let mut all = validate_rules(&rules).unwrap();
        all.extend(default_allowed_rules());
        let program = compile(&all).unwrap();
        check_structure(&program);
        run(&program, (access << 16) | dev_type, major, minor) == 1
    }

    const RW: u32 = ACC_READ | ACC_WRITE;

    #[test]
    fn no_config_rules_allow_only_the_default_devices() {
        let none = "[]";
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 2),
            (136, 4),
            (10, 200),
        ] {
            assert!(
                allows(none, DEV_CHAR, major, minor, RW),
                "c {major}:{minor}"
            );
        }
        // mknod of any char or block device, but no access to it.
        assert!(allows(none, DEV_CHAR, 10, 229, ACC_MKNOD));
        assert!(allows(none, DEV_BLOCK, 8, 0, ACC_MKNOD));
        assert!(!allows(none, DEV_CHAR, 10, 229, ACC_READ)); // /dev/fuse
        assert!(!allows(none, DEV_CHAR, 1, 1, ACC_READ)); // /dev/mem
        assert!(!allows(none, DEV_BLOCK, 8, 0, ACC_WRITE));
        assert!(!allows(none, DEV_BLOCK, 1, 3, ACC_READ)); // a block 1:3 is not /dev/null
    }

    #[test]
    fn config_rules_add_devices_but_cannot_take_the_defaults_away() {
        let config = r#"[{"allow": false, "access": "rwm"},
                         {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                         {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]"#;
        assert!(allows(config, DEV_CHAR, 10, 229, RW));
        assert!(allows(config, DEV_CHAR, 1, 3, RW));
        assert!(!allows(config, DEV_CHAR, 10, 228, ACC_READ));
        assert!(allows(config, DEV_CHAR, 10, 228, ACC_MKNOD));
    }

    #[test]
    fn a_bad_rule_is_reported_before_anything_is_attached() {
        let rules: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": true, "type": "c", "access": "rwx"}]"#).unwrap();
        // A path that does not exist: the error must come from validation.
        let err = apply_devices(Path::new("/nonexistent/nook"), &rules).unwrap_err();
        assert!(
            format!("{err:#}").contains("linux.resources.devices[0]"),
            "{err:#}"
        );
    }
}
