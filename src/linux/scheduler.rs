//! `process.scheduler` (config.md#linux-process): sched_setattr(2) with the
//! policy, nice, priority, flags and the SCHED_DEADLINE runtime/deadline/period.
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

/// `struct sched_attr` from <linux/sched/types.h> (SCHED_ATTR_SIZE_VER1, 56
/// bytes). libc does not define it. The util clamp fields stay 0 because the
/// spec has no field for them (runc does the same).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// The kernel policy number for `process.scheduler.policy`.
pub fn policy_of(policy: LinuxSchedulerPolicy) -> u32 {
    match policy {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        // Reserved by the kernel but never implemented: sched_setattr says EINVAL.
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

/// The kernel bit for one of `process.scheduler.flags`.
pub fn flag_of(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// oci-spec 0.10 spells two flags differently from the runtime spec: it only
/// accepts "SCHED_RESET_ON_FORK" and "SCHED_FLAG_D_L_OVERRUN", so a config
/// using the spec's "SCHED_FLAG_RESET_ON_FORK" or "SCHED_FLAG_DL_OVERRUN"
/// fails to parse. The config loader calls this on the raw
/// `process.scheduler` JSON before typed parsing to accept the spec's names.
pub fn accept_spec_flag_names(scheduler: &mut serde_json::Value) {
    let Some(flags) = scheduler.get_mut("flags").and_then(|f| f.as_array_mut()) else {
        return;
    };
    for flag in flags {
        let renamed = match flag.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *flag = serde_json::Value::String(renamed.to_string());
    }
}

/// Checks `process.scheduler` the way the kernel will, so the error names the field.
pub fn validate(s: &Scheduler) -> Result<()> {
    let policy = *s.policy();
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        bail!("process.scheduler.nice {nice}: must be between -20 and 19");
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    if realtime && !(1..=99).contains(&priority) {
        bail!("process.scheduler.priority {priority}: must be between 1 and 99 for {policy}");
    }
    if !realtime && priority != 0 {
        bail!("process.scheduler.priority {priority}: must be 0 for {policy}");
    }
    let deadline_fields = [
        ("runtime", s.runtime()),
        ("deadline", s.deadline()),
        ("period", s.period()),
    ];
    if policy != LinuxSchedulerPolicy::SchedDeadline {
        for (name, value) in deadline_fields {
            if value.is_some_and(|v| v != 0) {
                bail!("process.scheduler.{name}: only valid with SCHED_DEADLINE, not {policy}");
            }
        }
    }
    Ok(())
}

/// The sched_attr for `process.scheduler`; unset numbers are 0, as the spec says.
pub fn attr_of(s: &Scheduler) -> SchedAttr {
    let flags = s
        .flags()
        .iter()
        .flatten()
        .fold(0u64, |acc, f| acc | flag_of(*f));
    SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy_of(*s.policy()),
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        sched_util_min: 0,
        sched_util_max: 0,
    }
}

/// Applies `process.scheduler` to the calling thread (pid 0) with sched_setattr.
pub fn apply(s: &Scheduler) -> Result<()> {
    validate(s)?;
    let attr = attr_of(s);
    // SAFETY: sched_setattr reads `attr.size` bytes from a SchedAttr that lives
    // on our stack and has exactly that size.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "process.scheduler (policy {}): sched_setattr: {err}",
            s.policy()
        );
    }
    Ok(())
}

/// Reads the calling thread's sched_attr (for tests and diagnostics).
pub fn current() -> Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: sched_getattr writes at most `size` bytes into `attr`, which is that big.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0,
        )
    };
    if rc != 0 {
        bail!("sched_getattr: {}", std::io::Error::last_os_error());
    }
    Ok(attr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::SchedulerBuilder;

    #[test]
    fn spec_flag_names_parse_after_renaming() {
        let mut raw = serde_json::json!({
            "policy": "SCHED_DEADLINE",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]
        });
        assert!(serde_json::from_value::<Scheduler>(raw.clone()).is_err());
        accept_spec_flag_names(&mut raw);
        let s: Scheduler = serde_json::from_value(raw).unwrap();
        assert_eq!(attr_of(&s).sched_flags, 0x01 | 0x04 | 0x02);
    }

    #[test]
    fn sched_attr_has_the_kernel_ver1_size() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
    }

    #[test]
    fn attr_carries_policy_flags_and_numbers() {
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedBatch)
            .nice(5)
            .flags(vec![LinuxSchedulerFlag::SchedResetOnFork])
            .build()
            .unwrap();
        validate(&s).unwrap();
        let a = attr_of(&s);
        assert_eq!(a.sched_policy, 3);
        assert_eq!(a.sched_nice, 5);
        assert_eq!(a.sched_flags, 1);
        assert_eq!(a.size, 56);
    }

    #[test]
    fn realtime_priority_range_is_checked() {
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedFifo)
            .build()
            .unwrap();
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.contains("process.scheduler.priority"), "{err}");
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedOther)
            .priority(3)
            .build()
            .unwrap();
        assert!(validate(&s).is_err());
    }

    #[test]
    fn nice_range_and_deadline_fields_are_checked() {
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedOther)
            .nice(20)
            .build()
            .unwrap();
        assert!(validate(&s)
            .unwrap_err()
            .to_string()
            .contains("process.scheduler.nice"));
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedOther)
            .runtime(10u64)
            .build()
            .unwrap();
        assert!(validate(&s)
            .unwrap_err()
            .to_string()
            .contains("process.scheduler.runtime"));
    }
}
