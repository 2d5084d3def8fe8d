//! `process.apparmorProfile` (config.md#linux-process): the profile the
//! container process is confined by from its execve on.
//!
//! The profile is requested with "exec PROFILE" written to the LSM's exec
//! attribute of the calling thread; the kernel switches to it at the next
//! execve, so nothing of the runtime runs confined. A profile asked for on a
//! host without AppArmor is an error (as runc), never silently dropped.
use super::procfs;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Whether AppArmor is enabled on this host (the module is loaded, enabled,
/// and its securityfs is there to hold profiles).
pub fn host_enabled() -> bool {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    enabled && Path::new("/sys/kernel/security/apparmor").is_dir()
}

/// Checks that a requested profile can be honoured here; run before anything
/// is created so a refused config leaves nothing behind.
pub fn validate(profile: Option<&str>) -> Result<()> {
    match profile {
        Some(p) if !p.is_empty() => {
            if p.contains('\n') || p.contains('\0') {
                bail!("process.apparmorProfile {p:?}: contains a newline or NUL byte");
            }
            if !host_enabled() {
                bail!("process.apparmorProfile {p:?}: AppArmor is not enabled on this host");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Ask for `profile` at the next execve of this thread. Called last before
/// execve (after no_new_privs and seccomp, as runc), so the runtime itself
/// is never confined by the container's profile.
pub fn apply_apparmor_profile(profile: Option<&str>) -> Result<()> {
    let Some(profile) = profile.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    validate(Some(profile))?;
    // The AppArmor-specific attribute directory exists since Linux 5.8; the
    // shared one is used when it is missing (or another LSM is stacked).
    let dedicated = Path::new("/proc/thread-self/attr/apparmor/exec");
    let path = if dedicated.exists() {
        dedicated
    } else {
        Path::new("/proc/thread-self/attr/exec")
    };
    let file = procfs::open_for_write(path).context("process.apparmorProfile")?;
    procfs::write_value(file, &format!("exec {profile}"), path)
        .with_context(|| format!("process.apparmorProfile {profile:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_profile_is_always_fine() {
        validate(None).unwrap();
        validate(Some("")).unwrap();
        apply_apparmor_profile(None).unwrap();
    }

    #[test]
    fn a_profile_with_a_newline_is_refused() {
        let err = validate(Some("a\nchangeprofile b"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("process.apparmorProfile"), "{err}");
    }

    #[test]
    fn a_profile_on_a_host_without_apparmor_names_the_field() {
        if host_enabled() {
            return;
        }
        let err = validate(Some("nook-default")).unwrap_err().to_string();
        assert!(err.contains("AppArmor is not enabled"), "{err}");
    }
}
