//! `linux.seccomp` → a libseccomp filter (config-linux.md#seccomp), and the
//! checks on the profile that need no library: which errno an action takes,
//! where SCMP_ACT_NOTIFY may appear, and the seccomp(2) flags to load with.
//! Every error names the field at fault, e.g. "linux.seccomp.syscalls[3].action".

use anyhow::{bail, Context, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use libseccomp::{ScmpSyscall, ScmpVersion};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

/// The kernel's SECCOMP_FILTER_FLAG_* bits (linux/seccomp.h). Not all are in
/// the libc crate, so they are spelled out here.
pub const FLAG_TSYNC: u32 = 1 << 0;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// A system call has at most six arguments.
const MAX_ARG_INDEX: usize = 5;
/// The errno of SCMP_ACT_ERRNO / the message of SCMP_ACT_TRACE is the 16-bit
/// SECCOMP_RET_DATA part of the filter's return value.
const MAX_RET_DATA: u32 = u16::MAX as u32;

/// What loading the filter needs besides the program itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSettings {
    /// SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER).
    pub flags: u32,
    /// Some rule uses SCMP_ACT_NOTIFY: the load returns a listener fd that
    /// goes to linux.seccomp.listenerPath.
    pub notify: bool,
}

/// The profile's rules that need no library, and the load flags.
pub fn check(seccomp: &LinuxSeccomp) -> Result<LoadSettings> {
    let default = seccomp.default_action();
    errno_for(
        default,
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    if default == LinuxSeccompAction::ScmpActNotify {
        // Every syscall the init makes after loading, the write that hands
        // the listener fd to the runtime among them, would wait for an agent
        // that does not have the fd yet (runc refuses this too).
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    }
    let mut notify = false;
    for (i, call) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        if call.names().is_empty() {
            bail!("{field}.names: must contain at least one syscall name");
        }
        errno_for(
            call.action(),
            call.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        if call.action() == LinuxSeccompAction::ScmpActNotify {
            notify = true;
            // The init writes to the runtime after loading the filter; a
            // notified write would wait on an agent that has no fd yet.
            if call.names().iter().any(|n| n == "write") {
                bail!("{field}.names: SCMP_ACT_NOTIFY cannot be used for the write syscall");
            }
        }
        for (j, arg) in call.args().iter().flatten().enumerate() {
            if arg.index() > MAX_ARG_INDEX {
                bail!(
                    "{field}.args[{j}].index: {} is not a syscall argument (0 to {MAX_ARG_INDEX})",
                    arg.index()
                );
            }
        }
    }
    if notify && seccomp.listener_path().is_none() {
        bail!("linux.seccomp.listenerPath: not set, but SCMP_ACT_NOTIFY is used (the runtime sends the notify fd there)");
    }
    if seccomp.listener_metadata().is_some() && seccomp.listener_path().is_none() {
        bail!("linux.seccomp.listenerMetadata: must not be set without linux.seccomp.listenerPath");
    }
    let mut flags = if notify { FLAG_NEW_LISTENER } else { 0 };
    for flag in seccomp.flags().iter().flatten() {
        flags |= match flag {
            // The init is single-threaded when it loads the filter, so
            // there are no other threads to synchronise: a no-op, as in runc.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 0,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            // nook loads the program with seccomp(2) itself, so the flag
            // needs kernel support only (5.19), not libseccomp 2.6. The
            // kernel accepts it only with a listener; without a NOTIFY rule
            // there is nothing to wait for and it is left out.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    Ok(LoadSettings { flags, notify })
}

/// The errno (or trace message) an action returns: errnoRet, EPERM by
/// default; an errnoRet on any other action is an error (config-linux.md:
/// "When the action doesn't support an errno, the runtime MUST print an
/// error and fail").
fn errno_for(action: LinuxSeccompAction, errno_ret: Option<u32>, field: &str) -> Result<i32> {
    let takes_errno = matches!(
        action,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    );
    match errno_ret {
        Some(_) if !takes_errno => bail!(
            "{field}: {} does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)",
            action_name(action)
        ),
        Some(e) if e > MAX_RET_DATA => bail!("{field}: {e} is out of range (0 to {MAX_RET_DATA})"),
        Some(e) => Ok(e as i32),
        None => Ok(libc::EPERM),
    }
}

/// The libseccomp action for a spec action (SCMP_ACT_KILL is KILL_THREAD).
pub fn to_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction> {
    let errno = errno_for(action, errno_ret, field)?;
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// The libseccomp architecture for a spec architecture.
pub fn to_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The libseccomp comparison for one `args` entry. For SCMP_CMP_MASKED_EQ
/// `value` is the mask and `valueTwo` the value the masked argument must
/// equal (libseccomp's datum_a and datum_b).
pub fn to_comparison(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return ScmpArgCompare::new(
                arg.index() as u32,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            )
        }
    };
    ScmpArgCompare::new(arg.index() as u32, op, arg.value())
}

/// The spec's name of an action, as in config.json.
pub fn action_name(action: LinuxSeccompAction) -> String {
    spec_name(&action)
}

/// The spec's name of an architecture, as in config.json.
pub fn arch_name(arch: Arch) -> String {
    spec_name(&arch)
}

fn spec_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("?"),
    }
}

/// Build the libseccomp filter for the profile (already `check`ed).
///
/// As runc does: a syscall name libseccomp does not know is skipped (the
/// profile may name syscalls newer than this host); a rule whose action is
/// the default action is skipped (libseccomp refuses it); conditions on
/// different arguments are one rule (all must match), while several
/// conditions on the same argument become one rule each (any may match).
pub fn build_filter(seccomp: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let default = to_action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    let mut filter = ScmpFilterContext::new(default).with_context(|| {
        format!(
            "linux.seccomp.defaultAction: libseccomp refused {}",
            action_name(seccomp.default_action())
        )
    })?;
    for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
        filter.add_arch(to_arch(*arch)).with_context(|| {
            format!(
                "linux.seccomp.architectures[{i}]: {} is not supported by libseccomp {}",
                arch_name(*arch),
                library_version()
            )
        })?;
    }
    let syscalls = seccomp.syscalls().clone().unwrap_or_default();
    let rule_count: usize = syscalls.iter().map(|c| c.names().len()).sum();
    // Long profiles (Docker's, Podman's) run faster as a binary tree of
    // syscall numbers than as a linear list; libseccomp <= 2.5.4 misbehaves
    // with the tree and no rules, hence the threshold (runc uses the same).
    if rule_count > 32 {
        let _ = filter.set_ctl_optimize(2);
    }
    for (i, call) in syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = to_action(
            call.action(),
            call.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        if action == default {
            continue;
        }
        let comparisons: Vec<ScmpArgCompare> =
            call.args().iter().flatten().map(to_comparison).collect();
        let same_arg_twice = {
            let mut seen = [0u8; MAX_ARG_INDEX + 1];
            call.args().iter().flatten().any(|a| {
                seen[a.index()] += 1;
                seen[a.index()] > 1
            })
        };
        for (n, name) in call.names().iter().enumerate() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                crate::logging::debug(&format!(
                    "{field}.names[{n}]: unknown syscall {name:?} ignored"
                ));
                continue;
            };
            let added = if same_arg_twice {
                comparisons.iter().try_for_each(|c| {
                    filter
                        .add_rule_conditional(action, syscall, &[*c])
                        .map(|_| ())
                })
            } else {
                filter
                    .add_rule_conditional(action, syscall, &comparisons)
                    .map(|_| ())
            };
            added.with_context(|| {
                format!(
                    "{field}: libseccomp refused the rule for {name:?} with {}",
                    action_name(call.action())
                )
            })?;
        }
    }
    Ok(filter)
}

/// "2.5.4", for messages and the cache key.
pub fn library_version() -> String {
    match ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => String::from("unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    fn check_err(v: serde_json::Value) -> String {
        format!("{:#}", check(&profile(v)).unwrap_err())
    }

    #[test]
    fn errno_only_where_the_action_takes_one() {
        let ok = profile(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]}),
        );
        assert!(check(&ok).is_ok());
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}));
        assert!(
            e.starts_with("linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW"),
            "{e}"
        );
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": 1}]}));
        assert!(e.starts_with("linux.seccomp.syscalls[1].errnoRet"), "{e}");
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn actions_map_to_libseccomp() {
        let f = "f";
        use LinuxSeccompAction as A;
        assert_eq!(
            to_action(A::ScmpActKill, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            to_action(A::ScmpActKillThread, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            to_action(A::ScmpActKillProcess, None, f).unwrap(),
            ScmpAction::KillProcess
        );
        assert_eq!(
            to_action(A::ScmpActTrap, None, f).unwrap(),
            ScmpAction::Trap
        );
        assert_eq!(
            to_action(A::ScmpActErrno, None, f).unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            to_action(A::ScmpActErrno, Some(38), f).unwrap(),
            ScmpAction::Errno(38)
        );
        assert_eq!(
            to_action(A::ScmpActTrace, Some(3), f).unwrap(),
            ScmpAction::Trace(3)
        );
        assert_eq!(to_action(A::ScmpActLog, None, f).unwrap(), ScmpAction::Log);
        assert_eq!(
            to_action(A::ScmpActNotify, None, f).unwrap(),
            ScmpAction::Notify
        );
        assert_eq!(
            to_action(A::ScmpActAllow, None, f).unwrap(),
            ScmpAction::Allow
        );
        assert_eq!(action_name(A::ScmpActKillProcess), "SCMP_ACT_KILL_PROCESS");
        assert_eq!(arch_name(Arch::ScmpArchMips64n32), "SCMP_ARCH_MIPS64N32");
    }

    #[test]
    fn masked_eq_takes_the_mask_from_value() {
        let arg: LinuxSeccompArg = serde_json::from_value(
            json!({"index": 2, "value": 56, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}),
        )
        .unwrap();
        assert_eq!(
            to_comparison(&arg),
            ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(56), 8)
        );
        let arg: LinuxSeccompArg =
            serde_json::from_value(json!({"index": 0, "value": 5, "op": "SCMP_CMP_LE"})).unwrap();
        assert_eq!(
            to_comparison(&arg),
            ScmpArgCompare::new(0, ScmpCompareOp::LessOrEqual, 5)
        );
    }

    #[test]
    fn notify_rules() {
        let e = check_err(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"}));
        assert!(e.starts_with("linux.seccomp.defaultAction"), "{e}");
        let e = check_err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        assert!(e.starts_with("linux.seccomp.syscalls[0].names"), "{e}");
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert!(e.starts_with("linux.seccomp.listenerPath"), "{e}");
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}));
        assert!(e.starts_with("linux.seccomp.listenerMetadata"), "{e}");
        let s = check(&profile(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        ))
        .unwrap();
        assert!(s.notify);
        assert_eq!(s.flags, FLAG_NEW_LISTENER);
    }

    #[test]
    fn flags_map_to_seccomp_filter_flags() {
        let s = check(&profile(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
            "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
        ))
        .unwrap();
        // TSYNC is a no-op for a single thread; WAIT_KILLABLE_RECV needs a listener.
        assert_eq!(s.flags, FLAG_LOG | FLAG_SPEC_ALLOW);
        assert!(!s.notify);
        let s = check(&profile(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        ))
        .unwrap();
        assert_eq!(s.flags, FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV);
    }

    #[test]
    fn argument_index_and_names_are_checked() {
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].args[1].index"),
            "{e}"
        );
        let e = check_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(e.starts_with("linux.seccomp.syscalls[0].names"), "{e}");
    }

    #[test]
    fn unknown_syscalls_and_default_action_rules_are_skipped() {
        let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["no_such_syscall_at_all", "read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(build_filter(&p).is_ok());
    }
}
