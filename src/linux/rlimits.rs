//! `process.rlimits` (config.md#posix-process): setrlimit for each entry.
use anyhow::{bail, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// The kernel resource number for a `process.rlimits[i].type`.
pub fn resource_of(typ: PosixRlimitType) -> libc::__rlimit_resource_t {
    match typ {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Parses a `process.rlimits[index].type` name such as "RLIMIT_NOFILE", for
/// callers that check the raw JSON before typed parsing (the spec requires an
/// error for any type that cannot be mapped to the kernel).
pub fn parse_type(index: usize, name: &str) -> Result<PosixRlimitType> {
    match name.parse::<PosixRlimitType>() {
        Ok(typ) => Ok(typ),
        Err(_) => bail!("process.rlimits[{index}].type {name:?}: unknown resource limit"),
    }
}

/// Checks `process.rlimits`: no duplicated type (a spec MUST) and soft <= hard.
pub fn validate(rlimits: &[PosixRlimit]) -> Result<()> {
    let mut seen: Vec<PosixRlimitType> = Vec::new();
    for (i, rlimit) in rlimits.iter().enumerate() {
        let typ = rlimit.typ();
        if seen.contains(&typ) {
            bail!("process.rlimits[{i}].type {typ}: duplicated entry");
        }
        seen.push(typ);
        if rlimit.soft() > rlimit.hard() {
            bail!(
                "process.rlimits[{i}] ({typ}): soft limit {} is greater than hard limit {}",
                rlimit.soft(),
                rlimit.hard()
            );
        }
    }
    Ok(())
}

/// Applies every entry of `process.rlimits` with setrlimit. u64::MAX is
/// RLIM_INFINITY, so "unlimited" needs no special case.
pub fn apply(rlimits: &[PosixRlimit]) -> Result<()> {
    validate(rlimits)?;
    for (i, rlimit) in rlimits.iter().enumerate() {
        let limit = libc::rlimit {
            rlim_cur: rlimit.soft(),
            rlim_max: rlimit.hard(),
        };
        // SAFETY: setrlimit reads one rlimit struct that lives on our stack.
        let rc = unsafe { libc::setrlimit(resource_of(rlimit.typ()), &limit) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            bail!(
                "process.rlimits[{i}] ({}): setrlimit soft={} hard={}: {err}",
                rlimit.typ(),
                rlimit.soft(),
                rlimit.hard()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn names_parse_to_types() {
        assert_eq!(
            parse_type(0, "RLIMIT_NOFILE").unwrap(),
            PosixRlimitType::RlimitNofile
        );
        assert_eq!(
            parse_type(0, "RLIMIT_MSGQUEUE").unwrap(),
            PosixRlimitType::RlimitMsgqueue
        );
        assert_eq!(
            parse_type(0, "RLIMIT_RTTIME").unwrap(),
            PosixRlimitType::RlimitRttime
        );
        assert_eq!(
            resource_of(PosixRlimitType::RlimitNofile),
            libc::RLIMIT_NOFILE
        );
    }

    #[test]
    fn unknown_name_is_an_error_naming_the_field() {
        let err = parse_type(2, "RLIMIT_FOO").unwrap_err().to_string();
        assert!(err.contains("process.rlimits[2].type"), "{err}");
        assert!(err.contains("RLIMIT_FOO"), "{err}");
        assert!(parse_type(0, "nofile").is_err());
    }

    #[test]
    fn soft_above_hard_is_rejected() {
        let err = validate(&[rlimit(PosixRlimitType::RlimitNofile, 2048, 1024)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("process.rlimits[0]"), "{err}");
        validate(&[rlimit(PosixRlimitType::RlimitNofile, 1024, 1024)]).unwrap();
    }

    #[test]
    fn duplicates_are_rejected() {
        let list = [
            rlimit(PosixRlimitType::RlimitCore, 0, 0),
            rlimit(PosixRlimitType::RlimitCore, 1, 1),
        ];
        let err = validate(&list).unwrap_err().to_string();
        assert!(err.contains("process.rlimits[1].type"), "{err}");
        assert!(err.contains("duplicated"), "{err}");
    }
}
