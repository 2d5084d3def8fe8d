//! `exec`: one more process in a running (or created) container.
//!
//! Process model, three processes, as runc's:
//! - nook (the caller's process) makes itself non-dumpable, opens the init's
//!   /proc/PID directory (checked against the start time in state.json, so a
//!   recycled pid is never joined) and its namespace files through it, then
//!   forks the intermediate.
//! - the intermediate applies execCPUAffinity.initial and the rlimits (from
//!   the host, where raising a hard limit is still allowed), asks nook to
//!   move it into the container's cgroup (or an `--cgroup` sub-cgroup), then
//!   joins the namespaces (user first, mount last) and forks the process
//!   with CLONE_PARENT: it is nook's child, inside the container's pid
//!   namespace, and inherits the cgroup before it runs any user code.
//!   The intermediate reports the process's pid and exits.
//! - the process: setsid, session keyring, terminal, execCPUAffinity.final,
//!   then the attributes the init applies too (`linux::process`), and execve.
//!
//! The channel is close-on-exec: nook reads until end of file, so it knows
//! the user program was executed, or receives the error that stopped it.
//! Non-dumpable (CVE-2016-9962, CVE-2019-5736): a process in the container
//! cannot ptrace the joining runtime, nor open its /proc/PID/exe or mem;
//! execve of the user program makes the process dumpable again.
//! Hooks are not run for exec (runtime.md: they belong to the lifecycle).
use super::clone::{clone_process, clone_process_into};
use super::namespaces::{self, Join};
use super::protocol::{channel_pair, Channel, Msg};
use crate::cgroups::{self, SubCgroups};
use crate::container::{open_proc_dir, Container, Status};
use crate::linux;
use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{openat, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::{fstat, stat, Mode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

pub struct ExecRequest<'a> {
    pub container: &'a Container,
    /// The process to run (see `exec_process`).
    pub process: Process,
    /// Where the pty master goes when `process.terminal` is true: a connected
    /// --console-socket, or the relay's socketpair end.
    pub console_socket: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub sub_cgroups: SubCgroups,
    pub ignore_paused: bool,
    pub preserve_fds: u32,
    /// The runtime's --root (holds the seccomp cache).
    pub root: &'a std::path::Path,
}

/// Starts the process; returns its host pid once the user program is executed.
pub fn exec(req: ExecRequest) -> Result<i32> {
    let c = req.container;
    match c.status() {
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Paused if !req.ignore_paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => {}
    }
    if req.process.terminal().unwrap_or(false) && req.console_socket.is_none() {
        bail!("process.terminal is true: a console socket is required to receive the pty");
    }
    let listen_fds = linux::fds::listen_fds_from_env();
    // The container's linux.seccomp applies to exec'd processes too (as
    // runc); compiled (or read from the cache) before anything is forked.
    let seccomp = crate::seccomp::prepare(&c.state.config, req.root)?
        .map(|f| f.for_process(req.process.no_new_privileges().unwrap_or(false)));
    let cgroup = cgroups::manager_for(&c.state.cgroup)?;
    set_dumpable(false)?;
    let proc_dir = open_proc_dir(c.state.pid, c.state.pid_start_time)?;
    let joins = open_namespaces(&proc_dir, &c.state.config)?;
    drop(proc_dir);

    // The intermediate gets into the cgroup by itself where it can (see
    // cgroups::SelfJoin): a migration by us would wait for an RCU grace period.
    let mut self_join = cgroup.prepare_self_enter(&req.sub_cgroups)?;
    let clone_into = self_join.as_mut().and_then(|j| j.clone_into.take());
    let (parent_end, child_end) = channel_pair()?;
    let child = match &clone_into {
        Some(dir) => match clone_process_into(CloneFlags::empty(), std::os::fd::AsFd::as_fd(dir)) {
            Ok(child) => child,
            Err(e) => {
                crate::logging::debug(&format!(
                    "clone3 into the cgroup failed ({e}); cloning, then moving the process"
                ));
                self_join = None;
                clone_process(CloneFlags::empty())?
            }
        },
        None => clone_process(CloneFlags::empty())?,
    };
    let Some(intermediate) = child else {
        // No host directory fd may reach the container (CVE-2024-21626).
        drop(clone_into);
        drop(parent_end);
        run_intermediate(&ExecChild {
            id: &c.state.id,
            config: &c.state.config,
            process: &req.process,
            joins: &joins,
            channel: child_end,
            console_socket: req.console_socket.as_ref().map(|fd| fd.as_raw_fd()),
            no_new_keyring: c.state.no_new_keyring,
            listen_fds,
            preserve_fds: req.preserve_fds,
            seccomp: seccomp.as_ref(),
            cgroup_self_join: self_join.as_ref(),
        });
    };
    drop(clone_into);
    drop(child_end);
    crate::fault::point(crate::fault::EXEC_CLONED);
    drop(joins);
    drop(req.console_socket);

    let mut pid = None;
    let outcome = loop {
        let (msg, fd) = match parent_end.recv_with_fd() {
            Ok(Some((msg, fd))) => (Ok(Some(msg)), fd),
            Ok(None) => (Ok(None), None),
            Err(e) => (Err(e), None),
        };
        match msg {
            Ok(Some(Msg::SeccompListener)) => {
                let forwarded = forward_seccomp_listener(c, pid, fd)
                    .and_then(|()| parent_end.send(&Msg::SeccompListenerDone));
                if let Err(e) = forwarded {
                    break Err(e);
                }
            }
            Ok(Some(Msg::CgroupRequest)) => {
                // Without a self-join, we move the intermediate now.
                if self_join.is_none() {
                    if let Err(e) = cgroup.enter(intermediate, &req.sub_cgroups) {
                        break Err(e);
                    }
                }
                crate::fault::point(crate::fault::EXEC_IN_CGROUP);
                if let Err(e) = parent_end.send(&Msg::Go) {
                    break Err(e);
                }
            }
            Ok(Some(Msg::ExecPid(p))) => pid = Some(p),
            Ok(Some(Msg::Error(e))) => break Err(anyhow!(e)),
            Ok(Some(other)) => break Err(anyhow!("protocol: unexpected {other:?} from exec")),
            // End of file: every copy of the channel is closed, by the
            // intermediate's exit and the process's execve.
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // Closing our end ends an intermediate still waiting for `Go`.
    drop(parent_end);
    let intermediate_status = waitpid(Pid::from_raw(intermediate), None);
    if let Err(e) = outcome {
        if let Some(p) = pid {
            // The process sent the error and exits; it is our child.
            let _ = waitpid(Pid::from_raw(p), None);
        }
        return Err(e);
    }
    let Some(pid) = pid else {
        bail!(
            "the exec'd process was never started{}",
            describe(intermediate_status)
        );
    };
    if let Some(path) = &req.pid_file {
        super::parent::write_pid_file(path, pid)?;
    }
    Ok(pid)
}

/// SCMP_ACT_NOTIFY: send the exec'd process's notify fd to
/// linux.seccomp.listenerPath with the container's state, as for the init.
fn forward_seccomp_listener(c: &Container, pid: Option<i32>, fd: Option<OwnedFd>) -> Result<()> {
    use std::os::fd::AsFd;
    let fd = fd.context("protocol: SeccompListener came without an fd")?;
    let pid = pid.context("protocol: SeccompListener before the exec'd pid")?;
    let state = crate::hooks::state_json(
        &c.state.id,
        &c.status().to_string(),
        c.state.pid,
        &c.state.bundle,
        &c.state.annotations,
    );
    crate::seccomp::notify::forward(&c.state.config, pid, &state, fd.as_fd())
}

fn describe(status: nix::Result<WaitStatus>) -> String {
    match status {
        Ok(WaitStatus::Exited(_, code)) => format!(" (exit status {code})"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!(" (killed by {sig})"),
        _ => String::new(),
    }
}

/// PR_SET_DUMPABLE: see the module comment. Inherited by both forks.
fn set_dumpable(dumpable: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, dumpable as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        bail!(
            "prctl(PR_SET_DUMPABLE, {dumpable}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The /proc/PID/ns file name of a namespace type.
fn ns_file(flag: CloneFlags) -> &'static str {
    match flag {
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWNET => "net",
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWNS => "mnt",
        _ => "time",
    }
}

/// The init's namespace of every type in `linux.namespaces` (created or
/// joined by path alike), opened through its checked /proc/PID fd, in join
/// order. One we are in already is skipped (setns into one's own user
/// namespace fails, and the others would change nothing).
fn open_namespaces(proc_dir: &OwnedFd, config: &Spec) -> Result<Vec<Join>> {
    let mut joins = Vec::new();
    let namespaces = config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &namespaces {
        let flag = namespaces::clone_flag(ns.typ())?;
        let name = ns_file(flag);
        let field = format!("the container's {name} namespace");
        let fd = openat(
            proc_dir,
            format!("ns/{name}").as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("{field}: cannot open"))?;
        let ours = stat(format!("/proc/self/ns/{name}").as_str())
            .with_context(|| format!("/proc/self/ns/{name}: stat"))?;
        if identity(&fd).with_context(|| field.clone())? == (ours.st_dev, ours.st_ino) {
            continue;
        }
        joins.push(Join { flag, fd, field });
    }
    // User first, then the rest in rank order (mount last), except those
    // not owned by the container's user namespace (joined by path at create,
    // e.g. a host network namespace): once in the container's user namespace
    // we have no rights over them, so they are joined before it.
    let user = joins
        .iter()
        .find(|j| j.flag == CloneFlags::CLONE_NEWUSER)
        .map(|j| identity(&j.fd))
        .transpose()?;
    let mut keyed = Vec::new();
    for j in joins {
        let owned_by_user = match user {
            Some(user) if j.flag != CloneFlags::CLONE_NEWUSER => {
                identity(&owner_of(&j.fd).with_context(|| j.field.clone())?)? == user
            }
            _ => true,
        };
        keyed.push(((owned_by_user, namespaces::join_rank(j.flag)), j));
    }
    keyed.sort_by_key(|(key, _)| *key);
    Ok(keyed.into_iter().map(|(_, j)| j).collect())
}

/// (device, inode): what tells two namespace files apart.
fn identity(fd: &OwnedFd) -> Result<(u64, u64)> {
    let st = fstat(fd).context("fstat of a namespace file")?;
    Ok((st.st_dev, st.st_ino))
}

/// NS_GET_USERNS: the user namespace that owns the namespace `fd`.
fn owner_of(fd: &OwnedFd) -> Result<OwnedFd> {
    const NS_GET_USERNS: libc::c_ulong = 0xb701; // _IO(0xb7, 0x1)
                                                 // SAFETY: the ioctl takes no argument and returns a new fd or -1.
    let owner = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_USERNS as _) };
    if owner < 0 {
        bail!(
            "cannot find its owning user namespace: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: the kernel just returned this new fd; nothing else owns it.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(owner) })
}

/// What the two forked processes need.
struct ExecChild<'a> {
    id: &'a str,
    config: &'a Spec,
    process: &'a Process,
    joins: &'a [Join],
    channel: Channel,
    console_socket: Option<RawFd>,
    no_new_keyring: bool,
    listen_fds: u32,
    preserve_fds: u32,
    seccomp: Option<&'a crate::seccomp::Filter>,
    /// The cgroups the intermediate joins by itself (the runtime does not move it).
    cgroup_self_join: Option<&'a crate::cgroups::SelfJoin>,
}

/// The intermediate process; never returns.
fn run_intermediate(ctx: &ExecChild) -> ! {
    let code = match intermediate(ctx) {
        Ok(()) => 0,
        Err(e) => {
            let _ = ctx.channel.send(&Msg::Error(format!("{e:#}")));
            1
        }
    };
    // SAFETY: _exit ends this forked copy without running the destructors
    // and atexit handlers that belong to nook's own process.
    unsafe { libc::_exit(code) }
}

fn intermediate(ctx: &ExecChild) -> Result<()> {
    let affinity = ctx.process.exec_cpu_affinity().as_ref();
    if let Some(initial) = affinity.and_then(|a| a.initial().as_deref()) {
        linux::exec_cpu_affinity::apply_initial(initial)?;
    }
    // From the host: in a joined user namespace, raising a hard limit above
    // nook's would be refused (CAP_SYS_RESOURCE counts in the initial one).
    if let Some(rlimits) = ctx.process.rlimits() {
        linux::rlimits::apply(rlimits)?;
    }
    // Joined before CgroupRequest, so that when the runtime answers Go the
    // intermediate is in its cgroup either way.
    if let Some(join) = ctx.cgroup_self_join {
        join.join_v1_hierarchies()?;
    }
    ctx.channel.send(&Msg::CgroupRequest)?;
    ctx.channel.expect(&Msg::Go)?;
    namespaces::join_all(ctx.joins)?;
    if ctx
        .joins
        .iter()
        .any(|j| j.flag == CloneFlags::CLONE_NEWUSER)
    {
        super::init::become_namespace_root()?;
    }
    // CLONE_PARENT: the process is nook's child (nook waits for it), and,
    // forked after setns, it is inside the joined pid and time namespaces.
    match clone_process(CloneFlags::CLONE_PARENT)? {
        None => run_process(ctx),
        Some(pid) => ctx.channel.send(&Msg::ExecPid(pid)),
    }
}

/// The exec'd process; never returns.
fn run_process(ctx: &ExecChild) -> ! {
    let err = match prepare_process(ctx) {
        Ok(prepared) => linux::process::execute(&prepared, ctx.seccomp),
        Err(e) => e,
    };
    let _ = ctx.channel.send(&Msg::Error(format!(
        "unable to start container process: {err:#}"
    )));
    // SAFETY: see run_intermediate.
    unsafe { libc::_exit(127) }
}

fn prepare_process(ctx: &ExecChild) -> Result<linux::process::Prepared> {
    let process = ctx.process;
    // Its own session, so a terminal can become its controlling one and
    // signals to nook's process group do not reach it.
    nix::unistd::setsid().context("setsid")?;
    if !ctx.no_new_keyring {
        linux::keyring::join_session_keyring(ctx.id)?;
    }
    if process.terminal().unwrap_or(false) {
        let socket = ctx
            .console_socket
            .context("process.terminal is true but no console socket was given")?;
        linux::tty::setup_terminal(socket, process.console_size().as_ref(), false)?;
    }
    let affinity = process.exec_cpu_affinity().as_ref();
    if let Some(last) = affinity.and_then(|a| a.cpu_affinity_final().as_deref()) {
        linux::exec_cpu_affinity::apply_final(last)?;
    }
    linux::process::apply_process_attributes(
        process,
        &linux::process::ProcessOptions {
            personality: ctx
                .config
                .linux()
                .as_ref()
                .and_then(|l| l.personality().as_ref()),
            listen_fds: ctx.listen_fds,
            preserve_fds: ctx.preserve_fds,
            seccomp: ctx.seccomp,
            channel: &ctx.channel,
        },
    )
}
