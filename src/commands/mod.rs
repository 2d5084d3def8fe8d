//! One module per subcommand. Commands are thin: they read arguments,
//! call the library and print.

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::cli::{Cli, Command, GlobalOpts};
use crate::container::Root;
use anyhow::{bail, Result};

/// Run the command; Ok(code) is the process exit status.
pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.version {
        print!("{}", version_text());
        return Ok(0);
    }
    let g = &cli.global;
    match cli.command {
        None => bail!("no command given; see nook --help"),
        Some(Command::Create(a)) => create::run(g, &a.id, &a.opts).map(|_| 0),
        Some(Command::Start(a)) => start::run(g, &a.id).map(|_| 0),
        Some(Command::State(a)) => state::run(g, &a.id).map(|_| 0),
        Some(Command::Kill(a)) => kill::run(g, &a).map(|_| 0),
        Some(Command::Delete(a)) => delete::run(g, &a).map(|_| 0),
        Some(Command::Run(a)) => run::run(g, &a),
        Some(Command::Exec(a)) => exec::run(g, &a),
        Some(Command::List(a)) => list::run(g, &a).map(|_| 0),
        Some(Command::Spec(a)) => spec::run(&a, g.rootless.as_deref() == Some("true")).map(|_| 0),
        Some(Command::Features) => features::run().map(|_| 0),
        Some(Command::Update(a)) => update::run(g, &a).map(|_| 0),
        Some(Command::Pause(a)) => pause::pause(g, &a.id).map(|_| 0),
        Some(Command::Resume(a)) => pause::resume(g, &a.id).map(|_| 0),
        Some(Command::Events(a)) => events::run(g, &a).map(|_| 0),
        Some(Command::Ps(a)) => ps::run(g, &a).map(|_| 0),
        Some(Command::Checkpoint(a)) => checkpoint::run(g, &a).map(|_| 0),
        Some(Command::Restore(a)) => restore::run(g, &a),
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

fn open_root(g: &GlobalOpts) -> Result<Root> {
    Root::open(g.root.as_deref())
}

/// --rootless: "true", "false" or "auto" (rootless when not root of the
/// host: not uid 0, or uid 0 of a user namespace such as rootless Podman's),
/// as runc.
fn rootless(g: &GlobalOpts) -> Result<bool> {
    match g.rootless.as_deref() {
        None | Some("auto") => Ok(!crate::linux::userns::is_host_root()),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => bail!("--rootless {other:?}: use true, false or auto"),
    }
}
