//! Parsing the command line without building all of it.
//!
//! `Cli::parse()` builds clap's description of all seventeen subcommands and
//! their flags before it looks at the arguments: about 0.35 ms of CPU in the
//! release build, paid by every create, start, delete and exec (a lifecycle
//! runs three of them). [`parse`] finds the subcommand's name first and
//! builds only that subcommand, with the same derived argument definitions,
//! so the result is the same `Cli`. Anything it does not accept (help,
//! version, an error, an unknown name) goes to the full `Cli::parse`, which
//! prints clap's usual help or error, so the user sees no difference.

use crate::cli::{
    CheckpointArgs, Cli, Command, CreateArgs, DeleteArgs, EventsArgs, ExecArgs, GlobalOpts, IdArg,
    KillArgs, ListArgs, PsArgs, RestoreArgs, RunArgs, SpecArgs, UpdateArgs,
};
use clap::{Args, FromArgMatches, Parser};
use std::ffi::OsString;

/// The command line of this process, as `Cli::parse()` would give it.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    parse_one_subcommand(&args).unwrap_or_else(|| Cli::parse_from(args))
}

/// Global flags that take their value as the next argument (when not
/// written `--flag=value`). `--rootless` needs `=`, so it is not here.
const GLOBALS_WITH_VALUE: [&str; 4] = ["--root", "--log", "--log-format", "--criu"];

/// The subcommand's name: the first argument that is neither a flag nor the
/// value of one of [`GLOBALS_WITH_VALUE`]. That is the argument clap takes as
/// the subcommand, since the top level has no positional arguments.
fn subcommand_name(args: &[OsString]) -> Option<&str> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        if arg == "--" {
            return None;
        }
        if GLOBALS_WITH_VALUE.contains(&arg) {
            rest.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// clap's description of the one subcommand `name`, from the same derives
/// as `Command`. Its about text is left out: help goes to the full parser.
fn one_subcommand(name: &str) -> Option<clap::Command> {
    let sub = |n: &'static str| clap::Command::new(n);
    Some(match name {
        "create" => CreateArgs::augment_args(sub("create")),
        "start" => IdArg::augment_args(sub("start")),
        "state" => IdArg::augment_args(sub("state")),
        "kill" => KillArgs::augment_args(sub("kill")),
        "delete" => DeleteArgs::augment_args(sub("delete")),
        "run" => RunArgs::augment_args(sub("run")),
        "exec" => ExecArgs::augment_args(sub("exec")),
        "list" => ListArgs::augment_args(sub("list")),
        "spec" => SpecArgs::augment_args(sub("spec")),
        "features" => sub("features"),
        "update" => UpdateArgs::augment_args(sub("update")),
        "pause" => IdArg::augment_args(sub("pause")),
        "resume" => IdArg::augment_args(sub("resume")),
        "events" => EventsArgs::augment_args(sub("events")),
        "ps" => PsArgs::augment_args(sub("ps")),
        "checkpoint" => CheckpointArgs::augment_args(sub("checkpoint")),
        "restore" => RestoreArgs::augment_args(sub("restore")),
        _ => return None,
    })
}

/// `args` parsed against the top level with only its named subcommand;
/// None where the full parser must decide (or report).
fn parse_one_subcommand(args: &[OsString]) -> Option<Cli> {
    let sub = one_subcommand(subcommand_name(args)?)?;
    // The top level as `Cli` declares it: its attributes, the global flags
    // and -v/--version (which the fast path leaves to the full parser).
    let top = GlobalOpts::augment_args(
        clap::Command::new("nook")
            .disable_version_flag(true)
            .disable_help_subcommand(true),
    )
    .subcommand(sub);
    let matches = top.try_get_matches_from(args).ok()?;
    Some(Cli {
        global: GlobalOpts::from_arg_matches(&matches).ok()?,
        version: false,
        command: Some(Command::from_arg_matches(&matches).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        std::iter::once("nook")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Command lines engines and users write, one per subcommand and flag
    /// shape; each must parse to exactly what the full parser gives.
    const SAME_AS_FULL: &[&[&str]] = &[
        &[
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "id",
        ],
        &[
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "create",
            "-b",
            "/b",
            "id",
        ],
        &[
            "--root=/r",
            "--systemd-cgroup",
            "create",
            "--no-pivot",
            "--preserve-fds",
            "2",
            "id",
        ],
        &["create", "--bundle", "/b", "id", "--root", "/late-global"],
        &["--rootless=auto", "--debug", "start", "id"],
        &["--rootless", "state", "id"],
        &["kill", "id", "KILL"],
        &["kill", "--all", "id", "9"],
        &["delete", "--force", "id"],
        &["--log-format", "json", "run", "-d", "--bundle", "/b", "id"],
        &[
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/p",
            "id",
        ],
        &[
            "exec",
            "-t",
            "--cwd",
            "/",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "id",
            "sh",
            "-c",
            "echo -n x",
        ],
        &["exec", "id", "--", "ls", "-l"],
        &["exec", "-u", "1000:1000", "--cap", "CAP_KILL", "id", "true"],
        &["list", "--format", "json", "-q"],
        &["spec", "--bundle", "/b"],
        &["features"],
        &["update", "--memory", "1G", "--pids-limit", "10", "id"],
        &["update", "--resources", "-", "id"],
        &["pause", "id"],
        &["resume", "id"],
        &["events", "--stats", "id"],
        &["events", "--interval", "2s", "id"],
        &["ps", "--format", "json", "id"],
        &["ps", "id", "-ef"],
        &[
            "--criu",
            "/c",
            "checkpoint",
            "--image-path",
            "/i",
            "--leave-running",
            "id",
        ],
        &[
            "restore",
            "--image-path",
            "/i",
            "-d",
            "--bundle",
            "/b",
            "id",
        ],
    ];

    #[test]
    fn the_fast_path_parses_exactly_as_the_full_parser() {
        for args in SAME_AS_FULL {
            let args = os(args);
            let full = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let fast = parse_one_subcommand(&args)
                .unwrap_or_else(|| panic!("{args:?}: the fast path gave up"));
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{args:?}");
        }
    }

    #[test]
    fn help_version_errors_and_unknown_names_go_to_the_full_parser() {
        for args in [
            &["--help"][..],
            &["create", "--help"],
            &["exec", "-h"],
            &["-v"],
            &["--version"],
            &["start"],
            &["create", "--no-such-flag", "id"],
            &["frobnicate", "id"],
            &[],
            &["--root"],
            &["--", "start", "id"],
        ] {
            assert!(parse_one_subcommand(&os(args)).is_none(), "{args:?}");
        }
    }

    #[test]
    fn the_subcommand_is_found_after_global_values() {
        let name = |args: &[&str]| subcommand_name(&os(args)).map(str::to_string);
        assert_eq!(
            name(&["--root", "start", "state", "x"]).as_deref(),
            Some("state")
        );
        assert_eq!(
            name(&["--log=/l", "--debug", "kill", "x"]).as_deref(),
            Some("kill")
        );
        assert_eq!(name(&["--rootless", "list"]).as_deref(), Some("list"));
        assert_eq!(name(&["--debug"]), None);
    }
}
