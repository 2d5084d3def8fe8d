//! `nook exec ID COMMAND...` / `nook exec -p process.json ID`: run one more
//! process in a container. In the foreground it forwards signals, relays a
//! terminal (-t without --console-socket) and exits with the process's
//! status; with --detach it prints nothing and returns once the process runs.
//! Errors are "exec failed: ..." with exit status 255, as runc's.
use crate::cgroups::SubCgroups;
use crate::cli::{ExecArgs, GlobalOpts};
use crate::console_relay;
use crate::foreground;
use crate::launch::{self, exec_process, ExecRequest};
use anyhow::{bail, Context, Result};
use std::os::unix::net::UnixStream;

/// runc's status for an exec that could not start.
const EXEC_FAILED: i32 = 255;

pub fn run(g: &GlobalOpts, a: &ExecArgs) -> Result<i32> {
    match exec(g, a) {
        Ok(code) => Ok(code),
        Err(e) => {
            crate::logging::error(&format!("exec failed: {e:#}"));
            Ok(EXEC_FAILED)
        }
    }
}

fn exec(g: &GlobalOpts, a: &ExecArgs) -> Result<i32> {
    let sub_cgroups = SubCgroups::parse(&a.cgroup)?;
    // Not locked: `kill` and `delete` must work while a foreground exec runs.
    let root = super::open_root(g)?;
    let container = root.load(&a.id)?;
    let flags = exec_process::ExecFlags {
        args: a.command.clone(),
        cwd: a.cwd.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        apparmor: a.apparmor.clone(),
        process_label: a.process_label.clone(),
        tty: a.tty,
    };
    let process =
        exec_process::exec_process(&container.state.config, a.process.as_deref(), &flags)?;
    let tty = process.terminal().unwrap_or(false);
    if tty && a.detach && a.console_socket.is_none() {
        bail!("cannot allocate tty if nook will detach without setting console socket");
    }
    if !tty && a.console_socket.is_some() {
        bail!("cannot use console socket if nook will not detach or allocate tty");
    }
    let set = if a.detach {
        None
    } else {
        Some(foreground::block_forwarded_signals()?)
    };
    // -t in the foreground without --console-socket: nook takes the pty
    // master itself and relays it to its own stdio.
    let (relay, console_socket) = match &a.console_socket {
        Some(path) if tty => {
            let stream = UnixStream::connect(path)
                .with_context(|| format!("--console-socket {}: cannot connect", path.display()))?;
            (None, Some(stream.into()))
        }
        None if tty => {
            let (ours, theirs) = console_relay::console_pair()?;
            (Some(ours), Some(theirs))
        }
        _ => (None, None),
    };
    let pid = launch::exec(ExecRequest {
        container: &container,
        process,
        console_socket,
        pid_file: a.pid_file.clone(),
        sub_cgroups,
        ignore_paused: a.ignore_paused,
        preserve_fds: a.preserve_fds,
        root: &root.path,
    })?;
    let Some(set) = set else {
        return Ok(0);
    };
    let master = match &relay {
        Some(ours) => Some(console_relay::receive_master(ours)?),
        None => None,
    };
    foreground::wait_forwarding(pid, &set, master.as_ref())
}
