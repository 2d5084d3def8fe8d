//! `process.selinuxLabel` (config.md#linux-process) and the label of the
//! container's session keyring. `linux.mountLabel` is applied by the rootfs
//! code as the `context=` mount option.
//!
//! As runc does, labels are ignored on a host where SELinux is disabled (a
//! config written for SELinux hosts still runs elsewhere); on an SELinux
//! host a label the kernel rejects is an error naming the field.
use super::procfs;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Whether SELinux is enabled on this host (selinuxfs is mounted).
pub fn host_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn check_label(field: &str, label: &str) -> Result<()> {
    if label.contains('\n') || label.contains('\0') {
        bail!("{field} {label:?}: contains a newline or NUL byte");
    }
    Ok(())
}

/// Checks the labels in `process.selinuxLabel` / `linux.mountLabel`.
pub fn validate(process_label: Option<&str>, mount_label: Option<&str>) -> Result<()> {
    if let Some(l) = process_label {
        check_label("process.selinuxLabel", l)?;
    }
    if let Some(l) = mount_label {
        check_label("linux.mountLabel", l)?;
    }
    Ok(())
}

/// Write `label` to this thread's LSM attribute `attr` (exec, keycreate).
fn write_attr(attr: &str, field: &str, label: &str) -> Result<()> {
    check_label(field, label)?;
    let path = format!("/proc/thread-self/attr/{attr}");
    let path = Path::new(&path);
    let file = procfs::open_for_write(path).with_context(|| field.to_string())?;
    procfs::write_value(file, label, path).with_context(|| format!("{field} {label:?}"))
}

/// `process.selinuxLabel`: the label the process gets at its next execve.
/// Called just before execve.
pub fn apply_selinux_label(label: Option<&str>) -> Result<()> {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if host_enabled() => write_attr("exec", "process.selinuxLabel", l),
        _ => Ok(()),
    }
}

/// The label of keyrings this thread creates: set to the process label before
/// the session keyring is made, so the container's keyring is labelled as
/// the container (runc does the same).
pub fn apply_keyring_label(label: Option<&str>) -> Result<()> {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if host_enabled() => write_attr("keycreate", "process.selinuxLabel", l),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_newlines_are_refused() {
        let err = validate(Some("a\nb"), None).unwrap_err().to_string();
        assert!(err.contains("process.selinuxLabel"), "{err}");
        let err = validate(None, Some("x\0")).unwrap_err().to_string();
        assert!(err.contains("linux.mountLabel"), "{err}");
        validate(Some("system_u:system_r:container_t:s0:c1,c2"), None).unwrap();
    }

    #[test]
    fn labels_are_ignored_without_selinux() {
        if host_enabled() {
            return;
        }
        apply_selinux_label(Some("system_u:system_r:container_t:s0")).unwrap();
        apply_keyring_label(Some("system_u:system_r:container_t:s0")).unwrap();
    }
}
