//! One module per subcommand. Commands are thin: they read arguments,
//! call the library and print.

use crate::cli::{Cli, Command};
use crate::logging::Logger;
use anyhow::{bail, Result};

/// Run the command; Ok(code) is the process exit status.
pub fn dispatch(cli: Cli, logger: &Logger) -> Result<i32> {
    let _ = logger;
    if cli.version {
        print!("{}", crate::commands::version_text());
        return Ok(0);
    }
    match cli.command {
        None => bail!("no command given; see nook --help"),
        Some(Command::Features) => bail!("features: not implemented yet"),
        Some(other) => bail!("{other:?}: not implemented yet"),
    }
}

/// `nook --version`: three lines, as go-runc parses them.
pub fn version_text() -> String {
    format!(
        "nook version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("NOOK_COMMIT").unwrap_or("unknown"),
        crate::spec::SPEC_VERSION
    )
}
