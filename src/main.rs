//! nook's entry point: parse the command line, set up logging, dispatch,
//! and turn an error into a message on --log/stderr and exit status 1.

use clap::Parser;
use nook::cli::{Cli, Command};

fn main() {
    nook::timing::mark("main");
    // nook run by criu as `restore`'s --action-script (no command line).
    if let Some(code) = nook::checkpoint::main_if_called_by_criu() {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    nook::logging::init(&cli.global);
    // Commands that put a nook process into a container run from a sealed
    // copy of the binary (CVE-2019-5736; see cloned_binary.rs).
    if matches!(
        cli.command,
        Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
    ) {
        if let Err(err) = nook::cloned_binary::reexec_from_sealed_copy() {
            nook::logging::error(&format!("{err:#}"));
            std::process::exit(1);
        }
    }
    nook::timing::mark("dispatch");
    let code = match nook::commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            nook::logging::error(&format!("{err:#}"));
            1
        }
    };
    nook::timing::mark("exit");
    std::process::exit(code);
}
