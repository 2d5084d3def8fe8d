//! `kill`: signal names (TERM, SIGTERM, term), numbers, and delivery to the
//! init or, with --all, to every process in the container's cgroup.
use crate::container::{Container, Status};
use anyhow::{bail, Context, Result};

/// Parse a signal as runc does: a number, or a name with or without "SIG",
/// in any case; RTMIN+N / RTMAX-N too.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        bail!("unknown signal {s:?}");
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().unwrap_or(-1)
        };
        // checked: "RTMIN+2147483647" is an unknown signal, not an overflow.
        if let Some(sig) = libc::SIGRTMIN().checked_add(off) {
            if off >= 0 && sig <= libc::SIGRTMAX() {
                return Ok(sig);
            }
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().unwrap_or(1)
        };
        if let Some(sig) = libc::SIGRTMAX().checked_add(off) {
            if off <= 0 && sig >= libc::SIGRTMIN() {
                return Ok(sig);
            }
        }
    } else if let Ok(sig) = format!("SIG{name}").parse::<nix::sys::signal::Signal>() {
        return Ok(sig as i32);
    }
    bail!("unknown signal {s:?}")
}

fn kill_raw(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) with a pid and signal number has no memory effects.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Send `sig` to the init (or to every process of the container with `all`).
///
/// As runc 1.1: with `all`, the cgroup is frozen while its pids are listed
/// and signalled (no process can fork past the list) and thawed afterwards,
/// so a paused container runs again. Without `all`, a paused container stays
/// paused, except for SIGKILL: a frozen v1 task does not die until thawed.
pub fn send_signal(c: &Container, sig: i32, all: bool) -> Result<()> {
    let status = c.status();
    if status == Status::Stopped {
        bail!("container not running");
    }
    if all {
        return signal_every_process(c, sig);
    }
    kill_raw(c.state.pid, sig)
        .map_err(|e| anyhow::anyhow!("cannot signal init {}: {e}", c.state.pid))?;
    if status == Status::Paused && sig == libc::SIGKILL {
        crate::cgroups::manager_for(&c.state.cgroup)?.freeze(false)?;
    }
    Ok(())
}

fn signal_every_process(c: &Container, sig: i32) -> Result<()> {
    let mgr = crate::cgroups::manager_for(&c.state.cgroup)?;
    // Fails clearly when there is no cgroup to list (rootless on cgroup v1),
    // before the freeze below warns about a missing freezer.
    mgr.pids().context("kill --all")?;
    if let Err(e) = mgr.freeze(true) {
        // Still signal what we can, as runc does (e.g. no freezer hierarchy).
        crate::logging::warn(&format!("{e:#}"));
    }
    let pids = mgr.pids();
    for pid in pids.as_deref().unwrap_or(&[]) {
        // A process may exit between listing and signalling.
        let _ = kill_raw(*pid, sig);
    }
    if let Err(e) = mgr.freeze(false) {
        crate::logging::warn(&format!("{e:#}"));
    }
    pids.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("hup").unwrap(), libc::SIGHUP);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse_signal("SIGRTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        for bad in ["FOO", "0", "99", "-1", "RTMIN+99", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    /// Offsets near i32's limits are unknown signals, not an overflow.
    #[test]
    fn huge_realtime_offsets_are_unknown_signals() {
        for bad in [
            "RTMIN+2147483647",
            "SIGRTMAX-2147483648",
            "rtmin+2147483640",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
