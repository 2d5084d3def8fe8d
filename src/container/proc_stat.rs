//! The few facts nook reads from /proc/PID/stat: whether a pid is alive, its
//! run state and its start time (which guards against pid reuse).
use std::fs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// Running, sleeping, stopped...: the process exists and has not exited.
    Alive,
    /// Exited, waiting to be reaped.
    Zombie,
}

/// Start time (clock ticks after boot, field 22) and run state of `pid`,
/// or None when there is no such process.
pub fn process_start_time(pid: i32) -> Option<(u64, ProcessState)> {
    if pid <= 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Opens /proc/PID as a directory and checks, through that descriptor, that
/// it is still the live process that started at `start_time`. Files opened
/// through the returned fd (ns/*) then belong to that process even if the pid
/// is reused later: a /proc/PID fd of an exited process only yields ESRCH.
pub fn open_proc_dir(pid: i32, start_time: u64) -> anyhow::Result<std::os::fd::OwnedFd> {
    use anyhow::{bail, Context};
    use nix::fcntl::{open, openat, OFlag};
    use nix::sys::stat::Mode;
    let dir = open(
        format!("/proc/{pid}").as_str(),
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .with_context(|| format!("the container process {pid} is gone"))?;
    let stat = openat(
        &dir,
        "stat",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("the container process {pid} is gone"))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(stat), &mut text)
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    match parse_stat(&text) {
        Some((start, ProcessState::Alive)) if start == start_time => Ok(dir),
        _ => bail!(
            "the container process {pid} is gone (its pid now names another process or a zombie)"
        ),
    }
}

fn parse_stat(stat: &str) -> Option<(u64, ProcessState)> {
    // comm (field 2) may contain spaces and ')': fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?; // field 3
    let start = fields.nth(18)?.parse().ok()?; // field 22
    let st = if state == "Z" || state == "X" {
        ProcessState::Zombie
    } else {
        ProcessState::Alive
    };
    Some((start, st))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_comm_with_parens() {
        let s = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(s), Some((98765, ProcessState::Alive)));
    }
    #[test]
    fn proc_dir_is_checked_against_the_start_time() {
        let me = std::process::id() as i32;
        let (start, _) = process_start_time(me).unwrap();
        open_proc_dir(me, start).unwrap();
        assert!(open_proc_dir(me, start + 1).is_err());
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        assert_eq!(
            process_start_time(me).map(|x| x.1),
            Some(ProcessState::Alive)
        );
        assert!(process_start_time(0).is_none());
    }
}
