//! nook's entry point: parse the command line, set up logging, dispatch,
//! and turn an error into a message on --log/stderr and exit status 1.

fn main() {
    nook::timing::mark("main");
    // nook run by criu as `restore`'s --action-script (no command line).
    if let Some(code) = nook::checkpoint::main_if_called_by_criu() {
        std::process::exit(code);
    }
    // Commands that put a nook process into a container run from a sealed
    // copy of the binary (CVE-2019-5736; see cloned_binary.rs). This happens
    // before the command line is parsed, so that only the copy parses it.
    if nook::cloned_binary::may_enter_a_container(std::env::args_os().skip(1)) {
        if let Err(err) = nook::cloned_binary::reexec_from_sealed_copy() {
            nook::logging::init(&nook::cli_parse::parse().global);
            nook::logging::error(&format!("{err:#}"));
            std::process::exit(1);
        }
    }
    let cli = nook::cli_parse::parse();
    nook::logging::init(&cli.global);
    nook::cloned_binary::log_why_a_memfd_copy();
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
