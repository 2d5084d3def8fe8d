//! `ps`: the processes of a container, from its cgroup. The table form runs
//! the host's `ps` (default `-ef`) and keeps its header and the lines whose
//! PID column names a process of the container, as runc does.

use crate::container::Container;
use anyhow::{bail, Context, Result};
use std::process::Command;

/// Every pid in the container's cgroup.
pub fn container_pids(c: &Container) -> Result<Vec<i32>> {
    crate::cgroups::manager_for(&c.state.cgroup)?.pids()
}

/// The JSON form: an array of pids; `null` when there are none, which is
/// what runc prints for an empty list.
pub fn pids_json(pids: &[i32]) -> String {
    if pids.is_empty() {
        return "null".to_string();
    }
    serde_json::Value::from(pids.to_vec()).to_string()
}

/// Run `ps ARGS` (default `-ef`) and keep the container's lines.
pub fn ps_table(pids: &[i32], args: &[String]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if args.is_empty() { &default[..] } else { args };
    let output = Command::new("ps")
        .args(args)
        .output()
        .context("running ps")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "ps {}: {}: {}{}",
            args.join(" "),
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    filter_table(&text, pids)
}

/// The header and the lines whose PID column (found by the header word
/// "PID") is one of `pids`.
pub fn filter_table(ps_output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_column) = header.split_whitespace().position(|w| w == "PID") else {
        bail!("couldn't find PID field in ps output");
    };
    let mut kept = vec![header];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let field = line.split_whitespace().nth(pid_column).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unexpected pid '{field}' in ps output"))?;
        if pids.contains(&pid) {
            kept.push(line);
        }
    }
    let mut table = kept.join("\n");
    table.push('\n');
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         200       1  0 10:01 ?        00:00:00 sleep 100
root        2000     200  0 10:01 ?        00:00:00 sh -c 200
";

    #[test]
    fn keeps_header_and_matching_pid_column_only() {
        let table = filter_table(PS_EF, &[200]).unwrap();
        assert_eq!(
            table,
            "UID          PID    PPID  C STIME TTY          TIME CMD\n\
             root         200       1  0 10:01 ?        00:00:00 sleep 100\n"
        );
    }

    #[test]
    fn pid_column_is_found_by_name() {
        let table = filter_table("USER PID\nroot 7\nroot 8\n", &[8]).unwrap();
        assert_eq!(table, "USER PID\nroot 8\n");
    }

    #[test]
    fn errors_like_runc() {
        assert_eq!(
            filter_table("COMMAND\nsh\n", &[1]).unwrap_err().to_string(),
            "couldn't find PID field in ps output"
        );
        assert!(filter_table("PID\nx\n", &[1]).is_err());
    }

    #[test]
    fn json_is_an_array_or_null() {
        assert_eq!(pids_json(&[3, 4]), "[3,4]");
        assert_eq!(pids_json(&[]), "null");
    }
}
