//! The container init: everything from the clone to execve, as a straight
//! line of steps. Until `Ready`, any error travels back to the parent as a
//! protocol message naming the step, so `create` prints the real cause.
//! After `Ready` the parent is gone; an error is printed on the container's
//! stderr and the init exits with status 127, as runc's init does.

use super::namespaces::{self, NamespacePlan};
use super::protocol::{Channel, Msg};
use crate::hooks;
use crate::linux;
use crate::linux::process::Prepared;
use crate::rootfs::{self, RootfsOptions};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io::Write;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

pub struct InitContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub plan: &'a NamespacePlan,
    pub channel: Channel,
    /// O_PATH fd of the container's state directory: the exec FIFO is opened
    /// through it after pivot_root, when the host path is out of reach.
    pub state_dir: OwnedFd,
    pub console_socket: Option<RawFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket activation fds nook itself was given (LISTEN_FDS), passed on.
    pub listen_fds: u32,
    /// linux.seccomp, compiled by the runtime before the clone.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The cgroups the init joins by itself (the runtime did not move it).
    pub cgroup_self_join: Option<&'a crate::cgroups::SelfJoin>,
}

/// Run the init; never returns.
pub fn run(ctx: InitContext) -> ! {
    let code = match setup(&ctx) {
        Ok(prepared) => {
            let err = after_ready(&ctx, prepared);
            let _ = writeln!(std::io::stderr(), "nook init: {err:#}");
            127
        }
        Err(err) => {
            let _ = ctx.channel.send(&Msg::Error(format!("{err:#}")));
            1
        }
    };
    // SAFETY: _exit ends the process without running destructors or atexit
    // handlers that belong to the parent's copy of the runtime.
    unsafe { libc::_exit(code) }
}

fn setup(ctx: &InitContext) -> Result<Prepared> {
    let spec = ctx.spec;
    let plan = ctx.plan;
    // The parent writes our uid_map/gid_map before it sends Go. An
    // unprivileged parent may do that only while this process is dumpable
    // (a non-dumpable process's /proc/PID files belong to root), so the flag
    // is cleared only now, before any namespace is joined.
    ctx.channel.expect(&Msg::Go)?;
    crate::timing::mark("init: got Go");
    // First of all, so everything the init does happens in its cgroup
    // (after Go, so that an error reaches a parent that is listening).
    if let Some(join) = ctx.cgroup_self_join {
        join.join_v1_hierarchies()?;
    }
    // Non-dumpable until the user program's execve resets it: a process in
    // the container (sharing its pid namespace, or joined later) cannot
    // ptrace the init or open its /proc/PID/{exe,mem,fd} while the runtime's
    // code and open host files are in it (CVE-2016-9962, CVE-2019-5736).
    // SAFETY: prctl(PR_SET_DUMPABLE) only changes a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };

    namespaces::join_all(&plan.joins)?;
    if plan.unshare_user {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER).context("unshare(user namespace)")?;
        ctx.channel.send(&Msg::MapsRequest)?;
        ctx.channel.expect(&Msg::MapsDone)?;
    }
    if plan.new.contains(CloneFlags::CLONE_NEWUSER) {
        become_namespace_root()?;
    }
    if !plan.unshare_flags.is_empty() {
        nix::sched::unshare(plan.unshare_flags)
            .with_context(|| format!("unshare({:?})", plan.unshare_flags))?;
    }
    if plan
        .unshare_flags
        .contains(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
    {
        if let Some(offsets) = spec
            .linux()
            .as_ref()
            .and_then(|l| l.time_offsets().as_ref())
        {
            linux::time_offsets::apply(offsets)?;
        }
    }
    if plan.fork_init {
        fork_init(ctx)?;
    }

    nix::unistd::setsid().context("setsid")?;
    if !ctx.no_new_keyring {
        let label = spec
            .process()
            .as_ref()
            .and_then(|p| p.selinux_label().clone());
        linux::selinux::apply_keyring_label(label.as_deref())?;
        linux::keyring::join_session_keyring(ctx.id)?;
    }
    let process = spec.process().as_ref().context("process: missing")?;
    if has_uts(spec) {
        linux::hostname::apply(spec.hostname().as_deref(), spec.domainname().as_deref())?;
    }

    crate::timing::mark("init: rootfs prepare");
    let ropts = RootfsOptions {
        in_user_namespace: plan.new.contains(CloneFlags::CLONE_NEWUSER)
            || plan
                .joins
                .iter()
                .any(|j| j.flag == CloneFlags::CLONE_NEWUSER),
        terminal: process.terminal().unwrap_or(false),
        no_pivot: ctx.no_pivot,
        bundle: ctx.bundle.to_path_buf(),
    };
    rootfs::prepare(spec, ctx.rootfs, &ropts)?;

    crate::timing::mark("init: hooks");
    ctx.channel.send(&Msg::HooksRequest)?;
    match ctx.channel.recv()? {
        Some(Msg::HooksDone) => {}
        Some(Msg::Error(e)) => bail!(e),
        other => bail!("protocol: expected HooksDone, got {other:?}"),
    }
    let annotations = spec.annotations().clone().unwrap_or_default();
    // Pid as the container sees it (runtime.md#state): this hook runs in its namespaces.
    let state = hooks::state_json(
        ctx.id,
        "creating",
        std::process::id() as i32,
        ctx.bundle,
        &annotations,
    );
    hooks::run_hooks(
        "createContainer",
        spec.hooks()
            .as_ref()
            .and_then(|h| h.create_container().as_ref()),
        &state,
    )?;

    crate::timing::mark("init: pivot");
    rootfs::pivot(ctx.rootfs, &ropts)?;
    crate::timing::mark("init: console, sysctl, finalize");
    if ropts.terminal {
        let socket = ctx
            .console_socket
            .context("process.terminal is true but no --console-socket was given")?;
        linux::tty::setup_console(socket, process.console_size().as_ref())?;
    }
    // sysctl before finalize: readonlyPaths usually include /proc/sys.
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        linux::sysctl::apply(sysctl)?;
    }
    rootfs::finalize(spec, &ropts)?;

    crate::timing::mark("init: process attributes");
    let prepared = linux::process::apply_process_attributes(
        process,
        &linux::process::ProcessOptions {
            personality: spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
            listen_fds: ctx.listen_fds,
            preserve_fds: ctx.preserve_fds,
            seccomp: ctx.seccomp,
            channel: &ctx.channel,
        },
    )?;
    // process.execCPUAffinity is not applied here: config.md says it "is not
    // applicable to the container's init process" (it is for `exec`).

    crate::timing::mark("init: ready");
    ctx.channel.send(&Msg::Ready)?;
    Ok(prepared)
}

/// From `Ready` to execve: wait for `start`, run startContainer hooks, exec.
fn after_ready(ctx: &InitContext, p: Prepared) -> anyhow::Error {
    // Held open until execve closes it (see wait_for_start).
    let _fifo = match wait_for_start(ctx) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let spec = ctx.spec;
    let annotations = spec.annotations().clone().unwrap_or_default();
    // runtime.md#state: hooks in the container namespace get the pid as the
    // container sees it; the user program has not run yet, so "created".
    let state = hooks::state_json(
        ctx.id,
        "created",
        std::process::id() as i32,
        ctx.bundle,
        &annotations,
    );
    if let Err(e) = hooks::run_hooks(
        "startContainer",
        spec.hooks()
            .as_ref()
            .and_then(|h| h.start_container().as_ref()),
        &state,
    ) {
        return e;
    }
    crate::timing::mark("init: started, execute");
    linux::process::execute(&p, ctx.seccomp)
}

/// Block on the exec FIFO until `nook start` opens it, and write its byte.
/// The FIFO stays open (close-on-exec) until execve: `start` reads to EOF,
/// so it knows when the user process has been executed and only then runs
/// the poststart hooks (runtime.md#lifecycle steps 8-9).
fn wait_for_start(ctx: &InitContext) -> Result<OwnedFd> {
    let fifo = nix::fcntl::openat(
        &ctx.state_dir,
        "exec.fifo",
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("cannot open the exec FIFO")?;
    nix::unistd::write(&fifo, b"0").context("cannot write the exec FIFO")?;
    Ok(fifo)
}

/// After the user namespace has its maps: become its root, so the rest of the
/// setup (and files it creates) belong to container uid/gid 0.
pub(super) fn become_namespace_root() -> Result<()> {
    nix::unistd::setresgid(0.into(), 0.into(), 0.into())
        .context("setresgid(0) in the new user namespace (is gid 0 in linux.gidMappings?)")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into())
        .context("setresuid(0) in the new user namespace (is uid 0 in linux.uidMappings?)")?;
    Ok(())
}

/// Fork once more so the init is inside the new or joined pid/time namespace;
/// this process reports the init's pid to the parent and exits.
fn fork_init(ctx: &InitContext) -> Result<()> {
    // SAFETY: the process is single-threaded (see clone_process).
    match unsafe { nix::unistd::fork() }.context("fork of the container init")? {
        nix::unistd::ForkResult::Child => Ok(()),
        nix::unistd::ForkResult::Parent { child } => {
            let code = match ctx.channel.send(&Msg::InitPid(child.as_raw())) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            // SAFETY: see `run`.
            unsafe { libc::_exit(code) }
        }
    }
}

fn has_uts(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Uts))
}
