//! `process.execCPUAffinity` (config.md#linux-process): `initial` is applied to
//! the runtime process before it moves into the container's cgroup, `final`
//! after. Neither applies to the container's init process (spec), so these are
//! for `exec`. The format is a CPU list: "0-3,7".
use anyhow::{bail, Context, Result};
use nix::sched::CpuSet;
use nix::unistd::Pid;

/// Parses a CPU list such as "0-3,7" into CPU numbers (sorted, no duplicates).
/// `field` names the config field in errors.
pub fn parse_cpu_list(field: &str, list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (parse_cpu(field, list, a)?, parse_cpu(field, list, b)?),
            None => {
                let cpu = parse_cpu(field, list, part)?;
                (cpu, cpu)
            }
        };
        if first > last {
            bail!("{field} {list:?}: range {part:?} ends before it starts");
        }
        if last >= CpuSet::count() {
            bail!(
                "{field} {list:?}: CPU {last} is beyond the largest supported ({})",
                CpuSet::count() - 1
            );
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn parse_cpu(field: &str, list: &str, text: &str) -> Result<usize> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{field} {list:?}: {text:?} is not a CPU number");
    }
    text.parse::<usize>()
        .with_context(|| format!("{field} {list:?}: {text:?} is not a CPU number"))
}

/// Applies `process.execCPUAffinity.initial` to the calling thread.
pub fn apply_initial(cpus: &str) -> Result<()> {
    apply("process.execCPUAffinity.initial", cpus)
}

/// Applies `process.execCPUAffinity.final` to the calling thread.
pub fn apply_final(cpus: &str) -> Result<()> {
    apply("process.execCPUAffinity.final", cpus)
}

/// sched_setaffinity to the CPUs in `cpus`. An empty list changes nothing: the
/// spec says an omitted or empty `final` leaves the affinity to the kernel.
pub fn apply(field: &str, cpus: &str) -> Result<()> {
    if cpus.trim().is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for cpu in parse_cpu_list(field, cpus)? {
        set.set(cpu)
            .with_context(|| format!("{field} {cpus:?}: CPU {cpu}"))?;
    }
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)
        .with_context(|| format!("{field} {cpus:?}: sched_setaffinity"))
}

#[cfg(test)]
mod tests {
    use super::*;
    const F: &str = "process.execCPUAffinity.final";

    #[test]
    fn lists_and_ranges_parse() {
        assert_eq!(parse_cpu_list(F, "0-3,7").unwrap(), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse_cpu_list(F, "7").unwrap(), vec![7]);
        assert_eq!(parse_cpu_list(F, "3,1-2,2").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_cpu_list(F, "5-5").unwrap(), vec![5]);
    }

    #[test]
    fn bad_lists_name_the_field() {
        for bad in ["", "a", "1-", "-1", "3-1", "1,,2", "1-2-3", "+1", "99999"] {
            let err = parse_cpu_list(F, bad).unwrap_err().to_string();
            assert!(err.contains(F), "{bad:?}: {err}");
        }
    }

    #[test]
    fn empty_value_changes_nothing() {
        apply(F, "").unwrap();
    }
}
