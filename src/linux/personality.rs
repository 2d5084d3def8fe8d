//! `linux.personality` (config-linux.md#personality): personality(2) domain
//! (LINUX, LINUX32). The spec defines no flags yet, so any flag is refused.
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

/// PER_LINUX and PER_LINUX32 from <linux/personality.h>.
const PER_LINUX: libc::c_ulong = 0x0000;
const PER_LINUX32: libc::c_ulong = 0x0008;

/// The personality(2) value for `linux.personality`.
pub fn persona_of(p: &LinuxPersonality) -> Result<libc::c_ulong> {
    if let Some(flags) = p.flags() {
        if let Some(flag) = flags.first() {
            bail!("linux.personality.flags: unsupported flag {flag:?} (the spec defines none)");
        }
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    })
}

/// Applies `linux.personality`.
pub fn apply(p: &LinuxPersonality) -> Result<()> {
    let persona = persona_of(p)?;
    // SAFETY: personality only takes an integer; it cannot touch our memory.
    let rc = unsafe { libc::personality(persona) };
    if rc == -1 {
        let err = std::io::Error::last_os_error();
        bail!(
            "linux.personality.domain {}: personality: {err}",
            p.domain()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxPersonalityBuilder;

    #[test]
    fn domains_map_to_kernel_values() {
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux32)
            .build()
            .unwrap();
        assert_eq!(persona_of(&p).unwrap(), 0x0008);
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux)
            .build()
            .unwrap();
        assert_eq!(persona_of(&p).unwrap(), 0);
    }

    #[test]
    fn flags_are_refused() {
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux)
            .flags(vec!["ADDR_NO_RANDOMIZE".to_string()])
            .build()
            .unwrap();
        let err = persona_of(&p).unwrap_err().to_string();
        assert!(err.contains("linux.personality.flags"), "{err}");
    }
}
