//! `process.ioPriority` (config.md#linux-process): ioprio_set(IOPRIO_WHO_PROCESS).
use anyhow::{bail, Result};
use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority};

const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// The kernel class number for `process.ioPriority.class`.
pub fn class_of(class: IOPriorityClass) -> u32 {
    match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    }
}

/// The ioprio value (class << 13 | level) for `process.ioPriority`; the
/// priority must be 0 (highest) to 7 (lowest).
pub fn ioprio_of(prio: &LinuxIOPriority) -> Result<u32> {
    let level = prio.priority();
    if !(0..=7).contains(&level) {
        bail!("process.ioPriority.priority {level}: must be between 0 and 7");
    }
    Ok(class_of(prio.class()) << IOPRIO_CLASS_SHIFT | level as u32)
}

/// Applies `process.ioPriority` to the calling process; children inherit it.
pub fn apply(prio: &LinuxIOPriority) -> Result<()> {
    let value = ioprio_of(prio)?;
    // SAFETY: ioprio_set takes three integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "process.ioPriority (class {}, priority {}): ioprio_set: {err}",
            prio.class(),
            prio.priority()
        );
    }
    Ok(())
}

/// The calling process's ioprio value (for tests and diagnostics).
pub fn current() -> Result<u32> {
    // SAFETY: ioprio_get takes two integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc < 0 {
        bail!("ioprio_get: {}", std::io::Error::last_os_error());
    }
    Ok(rc as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIOPriorityBuilder;

    #[test]
    fn value_combines_class_and_level() {
        let p = LinuxIOPriorityBuilder::default()
            .class(IOPriorityClass::IoprioClassIdle)
            .priority(4)
            .build()
            .unwrap();
        assert_eq!(ioprio_of(&p).unwrap(), (3 << 13) | 4);
        let p = LinuxIOPriorityBuilder::default()
            .class(IOPriorityClass::IoprioClassRt)
            .priority(0)
            .build()
            .unwrap();
        assert_eq!(ioprio_of(&p).unwrap(), 1 << 13);
    }

    #[test]
    fn level_out_of_range_is_rejected() {
        for level in [-1, 8] {
            let p = LinuxIOPriorityBuilder::default()
                .class(IOPriorityClass::IoprioClassBe)
                .priority(level)
                .build()
                .unwrap();
            let err = ioprio_of(&p).unwrap_err().to_string();
            assert!(err.contains("process.ioPriority.priority"), "{err}");
        }
    }
}
