//! `linux.seccomp` of `nook features` (features-linux.md#seccomp), in
//! runc's shape, reporting what works on this host: architectures that the
//! linked libseccomp can add to a filter, and flags that the kernel accepts.

use super::{load, translate};
use libseccomp::{ScmpAction, ScmpFilterContext};
use oci_spec::runtime::{Arch, LinuxSeccompFilterFlag};
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Every architecture of config-linux.md#seccomp.
const ARCHS: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// The flags nook knows, with the seccomp(2) flags that probe each.
const FLAGS: &[(LinuxSeccompFilterFlag, &str, u32)] = &[
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        "SECCOMP_FILTER_FLAG_TSYNC",
        translate::FLAG_TSYNC,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        translate::FLAG_SPEC_ALLOW,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        "SECCOMP_FILTER_FLAG_LOG",
        translate::FLAG_LOG,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        // The kernel takes it only together with a listener.
        translate::FLAG_WAIT_KILLABLE_RECV | translate::FLAG_NEW_LISTENER,
    ),
];

pub fn features() -> Value {
    let mut archs: Vec<String> = ARCHS
        .iter()
        .filter(|a| arch_supported(**a))
        .map(|a| translate::arch_name(*a))
        .collect();
    archs.sort();
    let mut known: Vec<&str> = FLAGS.iter().map(|(_, name, _)| *name).collect();
    known.sort_unstable();
    let mut supported: Vec<&str> = FLAGS
        .iter()
        .filter(|(_, _, bits)| load::kernel_accepts_flags(*bits))
        .map(|(_, name, _)| *name)
        .collect();
    supported.sort_unstable();
    json!({
        "enabled": true,
        "actions": ACTIONS,
        "operators": OPERATORS,
        "archs": archs,
        "knownFlags": known,
        "supportedFlags": supported,
    })
}

fn arch_supported(arch: Arch) -> bool {
    ScmpFilterContext::new(ScmpAction::Allow)
        .and_then(|mut f| f.add_arch(translate::to_arch(arch)).map(|_| ()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_flag_and_arch_is_listed() {
        for (flag, name, _) in FLAGS {
            assert_eq!(serde_json::to_value(flag).unwrap(), json!(name));
        }
        let f = features();
        let archs = f["archs"].as_array().unwrap();
        // The host's own architecture is always there.
        #[cfg(target_arch = "x86_64")]
        assert!(archs.contains(&json!("SCMP_ARCH_X86_64")), "{f}");
        #[cfg(target_arch = "aarch64")]
        assert!(archs.contains(&json!("SCMP_ARCH_AARCH64")), "{f}");
        assert!(!archs.is_empty());
        assert_eq!(f["knownFlags"].as_array().unwrap().len(), 4);
    }
}
