//! The runtime side of `create`: reserve the id, clone the child into its
//! namespaces, put it in its cgroup, write its id maps, run the hooks that
//! belong to the runtime namespace, and record the state once the init waits
//! for `start`. If any step fails, everything created so far is removed
//! (the guard below), so a failed create leaves nothing behind.

use super::clone::{clone_process, clone_process_into as clone_into_cgroup};
use super::idmap;
use super::init::{self, InitContext};
use super::namespaces;
use super::protocol::{channel_pair, Msg};
use crate::cgroups::{self, CgroupSpec, Manager};
use crate::container::{process_start_time, Container, Root, State};
use crate::hooks;
use crate::spec::Bundle;
use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct CreateRequest<'a> {
    pub id: String,
    pub bundle: Bundle,
    pub root: &'a Root,
    /// Connected --console-socket (required when process.terminal is true).
    pub console_socket: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    pub rootless: bool,
}

pub struct Created {
    pub container: Container,
}

/// Undo a half-made container: kill what was started, remove the cgroup and
/// the state directory. Disarmed once the container exists.
struct Cleanup {
    dir: PathBuf,
    pids: Vec<i32>,
    cgroup: Option<Box<dyn Manager>>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &pid in &self.pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            // Our own children are reaped here; a grandchild init is reaped by
            // whoever it was reparented to.
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            if let Err(e) = cg.destroy() {
                crate::logging::warn(&format!("cleanup after failed create: {e:#}"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn create(req: CreateRequest) -> Result<Created> {
    let spec = &req.bundle.spec;
    let listen_fds = crate::linux::fds::listen_fds_from_env();
    let plan = namespaces::plan(spec)?;
    crate::timing::mark("create: seccomp prepare");
    // Compiled (or read from the cache) before anything exists, so a bad
    // profile leaves nothing behind; the init inherits the program.
    let seccomp = crate::seccomp::prepare(spec, &req.root.path)?;
    crate::timing::mark("create: reserve");
    if let Some(p) = spec.process() {
        for w in crate::linux::capabilities::warnings(p.capabilities().as_ref()) {
            // runc's own default spec lists ambient caps without inheritable
            // ones and runc says nothing: keep that case quiet.
            if w.contains("cannot be raised") {
                crate::logging::debug(&w);
            } else {
                crate::logging::warn(&w);
            }
        }
    }
    let (dir, lock) = req.root.reserve(&req.id)?;
    crate::fault::point(crate::fault::CREATE_RESERVED);
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        pids: Vec::new(),
        cgroup: None,
        armed: true,
    };
    let cgroup_spec = CgroupSpec::for_config(spec, &req.id, req.systemd_cgroup, req.rootless);
    let mut container = Container::new(
        dir.clone(),
        lock,
        State::for_new_container(
            &req.id,
            &req.bundle,
            cgroup_spec.clone(),
            plan.new.contains(CloneFlags::CLONE_NEWPID),
            req.no_new_keyring,
        ),
    );
    let annotations = container.state.annotations.clone();
    // Written before anything else exists, so `delete --force` can clean up
    // after a create that was killed half-way.
    container.save()?;
    crate::timing::mark("create: fifo");
    crate::fault::point(crate::fault::CREATE_STATE_SAVED);

    let fifo = container.exec_fifo();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .with_context(|| format!("cannot create {}", fifo.display()))?;
    let (uid, gid) = idmap::host_root_ids(spec);
    std::os::unix::fs::chown(&fifo, Some(uid), Some(gid))
        .with_context(|| format!("cannot chown {}", fifo.display()))?;
    // mkfifo applies the umask; the init opens the FIFO after switching to
    // process.user, so it must be writable by any uid (as runc's is).
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .with_context(|| format!("cannot chmod {}", fifo.display()))?;
    let state_dir = nix::fcntl::open(
        &dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", dir.display()))?;

    crate::timing::mark("create: cgroup manager");
    let cgroup = cgroups::manager_for_create(&cgroup_spec, spec)?;
    crate::timing::mark("create: cgroup prepare");
    // The init gets into its cgroup by itself where it can (see
    // cgroups::SelfJoin): a migration by us would wait for an RCU grace period.
    let child_has_host_creds = !plan.clone_flags.contains(CloneFlags::CLONE_NEWUSER)
        && !plan.unshare_user
        && !plan
            .joins
            .iter()
            .any(|j| j.flag == CloneFlags::CLONE_NEWUSER);
    let mut self_join = cgroup.prepare_self_join(child_has_host_creds)?;
    let clone_into = self_join.as_mut().and_then(|j| j.clone_into.take());
    crate::timing::mark("create: clone");
    let (parent_end, init_end) = channel_pair()?;

    let child = match &clone_into {
        Some(dir) => match clone_into_cgroup(plan.clone_flags, dir.as_fd()) {
            Ok(child) => child,
            Err(e) => {
                crate::logging::debug(&format!(
                    "clone3 into the cgroup failed ({e}); cloning, then moving the init"
                ));
                self_join = None;
                clone_process(plan.clone_flags)?
            }
        },
        None => clone_process(plan.clone_flags)?,
    };
    let Some(child) = child else {
        // In the child: this never returns.
        // The cgroup directory must not reach the container (a host
        // directory fd, as in CVE-2024-21626).
        drop(clone_into);
        drop(parent_end);
        if let Some(fd) = container.lock_fd() {
            // SAFETY: the child never returns nor drops `container` (init::run
            // ends in execve or _exit), so nothing uses or closes this fd again.
            // Closing our copy leaves the parent's lock in place.
            unsafe { libc::close(fd) };
        }
        init::run(InitContext {
            spec,
            rootfs: &req.bundle.rootfs,
            id: &req.id,
            bundle: &req.bundle.dir,
            plan: &plan,
            channel: init_end,
            state_dir,
            console_socket: req.console_socket.as_ref().map(|fd| fd.as_raw_fd()),
            no_pivot: req.no_pivot,
            no_new_keyring: req.no_new_keyring,
            preserve_fds: req.preserve_fds,
            listen_fds,
            seccomp: seccomp.as_ref(),
            cgroup_self_join: self_join.as_ref(),
        });
    };
    drop(clone_into);
    drop(init_end);
    drop(state_dir);
    cleanup.pids.push(child);
    crate::timing::mark("create: cgroup apply");
    crate::fault::point(crate::fault::CREATE_CLONED);

    if plan.clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
        idmap::write_id_maps(child, spec)?;
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        crate::linux::oom_score_adj::apply_to(child, adj)?;
    }
    if self_join.is_none() {
        cgroup.apply(child)?;
    }
    cleanup.cgroup = Some(cgroup);
    // Always set: with no linux.resources the device allowlist still applies
    // (everything denied but the default devices), as runc does.
    let resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if let Some(cg) = &cleanup.cgroup {
        cg.set(&resources)?;
    }
    crate::fault::point(crate::fault::CREATE_CGROUP_SET);
    parent_end.send(&Msg::Go)?;
    crate::timing::mark("create: sent Go");

    let mut init_pid = child;
    loop {
        let (msg, fd) = match parent_end.recv_with_fd()? {
            Some((msg, fd)) => (Some(msg), fd),
            None => (None, None),
        };
        match msg {
            Some(Msg::SeccompListener) => {
                let fd = fd.context("protocol: SeccompListener came without an fd")?;
                let state =
                    hooks::state_json(&req.id, "creating", init_pid, &req.bundle.dir, &annotations);
                crate::seccomp::notify::forward(spec, init_pid, &state, fd.as_fd())?;
                parent_end.send(&Msg::SeccompListenerDone)?;
            }
            Some(Msg::MapsRequest) => {
                idmap::write_id_maps(child, spec)?;
                parent_end.send(&Msg::MapsDone)?;
            }
            Some(Msg::InitPid(pid)) => {
                init_pid = pid;
                cleanup.pids.insert(0, pid);
            }
            Some(Msg::HooksRequest) => {
                let state =
                    hooks::state_json(&req.id, "creating", init_pid, &req.bundle.dir, &annotations);
                let h = spec.hooks().as_ref();
                hooks::run_hooks("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
                hooks::run_hooks(
                    "createRuntime",
                    h.and_then(|h| h.create_runtime().as_ref()),
                    &state,
                )?;
                parent_end.send(&Msg::HooksDone)?;
            }
            Some(Msg::Ready) => {
                crate::timing::mark("create: init ready");
                crate::fault::point(crate::fault::CREATE_INIT_READY);
                break;
            }
            Some(Msg::Error(e)) => return Err(anyhow!(e)),
            Some(other) => bail!("protocol: unexpected {other:?} from the container init"),
            None => bail!(
                "container init exited before it was ready{}",
                exit_reason(child)
            ),
        }
    }
    if init_pid != child {
        // The intermediate process exits once it has forked the init.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(child), None);
    }
    let (start_time, _) = process_start_time(init_pid)
        .ok_or_else(|| anyhow!("container init {init_pid} exited before it was ready"))?;
    container.state.pid = init_pid;
    container.state.pid_start_time = start_time;
    container.save()?;
    crate::timing::mark("create: state saved");
    crate::fault::point(crate::fault::CREATE_DONE);
    if let Some(path) = &req.pid_file {
        write_pid_file(path, init_pid)?;
    }
    cleanup.armed = false;
    Ok(Created { container })
}

/// How a child that closed the channel ended, for the error message.
fn exit_reason(pid: i32) -> String {
    use nix::sys::wait::{waitpid, WaitStatus};
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, code)) => format!(" (exit status {code})"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!(" (killed by {sig})"),
        _ => String::new(),
    }
}

/// --pid-file: written atomically (temp + rename) as runc does, so an engine
/// polling for it never reads an empty file.
pub(crate) fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("--pid-file {}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("--pid-file {}: cannot write", path.display()))?;
    Ok(())
}
