//! nook's entry point: parse the command line, set up logging, dispatch,
//! and turn an error into a message on --log/stderr and exit status 1.

use clap::Parser;
use nook::cli::Cli;

fn main() {
    let cli = Cli::parse();
    nook::logging::init(&cli.global);
    let code = match nook::commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            nook::logging::error(&format!("{err:#}"));
            1
        }
    };
    std::process::exit(code);
}
