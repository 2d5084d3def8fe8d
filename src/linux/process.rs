//! The attributes of `process` that the container init and every `exec`'d
//! process apply to themselves, in one order, in one place: rlimits,
//! personality, scheduler, ioPriority, capabilities (bounding), user (and
//! HOME when `process.env` has none, as runc), cwd,
//! capabilities (the other sets), noNewPrivileges, then the fds the process
//! may keep. `execute` is the last step (execve). Seccomp and LSM labels
//! belong here too, at the spots marked below, so init and exec get them alike.
//!
//! What differs between the two callers stays with them: the init applies
//! oomScoreAdj, the rootfs and hostname before this; `exec` joins the
//! container's namespaces, sets up its terminal and execCPUAffinity before it.
use super::{apparmor, rlimits, scheduler, selinux, user};
use super::{capabilities, exec, fds, io_priority, no_new_privs, personality};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow};
use oci_spec::runtime::{LinuxPersonality, Process};
use std::ffi::CString;
use std::path::Path;

/// What a caller passes besides `process` itself.
pub struct ProcessOptions<'a> {
    /// `linux.personality` of the container (None: leave it).
    pub personality: Option<&'a LinuxPersonality>,
    /// Socket activation fds (LISTEN_FDS) passed on at fd 3 onward.
    pub listen_fds: u32,
    /// `--preserve-fds`: more fds kept after the socket activation ones.
    pub preserve_fds: u32,
    /// `linux.seccomp`, compiled by the runtime before it forked us.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// To the runtime: a seccomp notify fd is handed over on it.
    pub channel: &'a crate::launch::protocol::Channel,
}

/// The resolved program and its final argv and environment, ready for `execute`.
pub struct Prepared {
    pub executable: CString,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// `process.noNewPrivileges`: decides where seccomp is installed.
    pub no_new_privileges: bool,
    /// `process.apparmorProfile`, applied by `execute`.
    pub apparmor_profile: Option<String>,
    /// `process.selinuxLabel`, applied by `execute`.
    pub selinux_label: Option<String>,
}

/// Applies `process` to the calling process (already in the container's
/// namespaces and root, as root of its user namespace) and resolves the
/// program. After this only `execute` is left.
pub fn apply_process_attributes(process: &Process, opts: &ProcessOptions) -> Result<Prepared> {
    if let Some(rlimits) = process.rlimits() {
        rlimits::apply(rlimits)?;
    }
    if let Some(p) = opts.personality {
        personality::apply(p)?;
    }
    if let Some(s) = process.scheduler() {
        scheduler::apply(s)?;
    }
    if let Some(p) = process.io_priority() {
        io_priority::apply(p)?;
    }

    // Seccomp without noNewPrivileges: installed here, while the process
    // still has CAP_SYS_ADMIN, i.e. before the capabilities are dropped
    // below (as runc does). A notify filter is always installed here.
    crate::seccomp::install_before_capabilities(opts.seccomp, opts.channel)?;

    capabilities::apply_bounding(process.capabilities().as_ref())?;
    // Read before the switch: the user may not be allowed to read it.
    let home = user::home_of(process.user().uid());
    user::switch(process.user())?;
    let cwd = process.cwd();
    nix::unistd::chdir(cwd)
        .with_context(|| format!("process.cwd {}: cannot change into it", cwd.display()))?;
    check_cwd_inside_root(cwd)?;
    capabilities::apply_sets(process.capabilities().as_ref())?;

    let args = process.args().clone().unwrap_or_default();
    let Some(args0) = args.first() else {
        bail!("process.args: must not be empty");
    };
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    let executable = exec::find_executable(args0, &env)?;
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    if no_new_privileges {
        no_new_privs::set_no_new_privileges()?;
    }
    fds::set_listen_fds_env(&mut env, opts.listen_fds);
    fds::close_on_exec_beyond(opts.listen_fds + opts.preserve_fds)?;
    Ok(Prepared {
        executable,
        args,
        env,
        no_new_privileges,
        apparmor_profile: process.apparmor_profile().clone(),
        selinux_label: process.selinux_label().clone(),
    })
}

/// The last steps: unblock every signal, set the LSM labels, install a
/// seccomp filter not installed yet, and execve. Returns only on failure.
pub fn execute(p: &Prepared, seccomp: Option<&crate::seccomp::Filter>) -> anyhow::Error {
    // The runtime may have blocked signals to forward them (`run`, `exec`);
    // the container process starts with none blocked.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // LSM labels just before exec: they take effect at execve, so no
    // runtime code runs confined by them.
    if let Err(e) = apparmor::apply_apparmor_profile(p.apparmor_profile.as_deref()) {
        return e;
    }
    if let Err(e) = selinux::apply_selinux_label(p.selinux_label.as_deref()) {
        return e;
    }
    // Seccomp with noNewPrivileges: installed last, so the filter restricts
    // as few of the runtime's own syscalls as possible (as runc does) and
    // cannot deny the LSM writes above.
    if let Err(e) = crate::seccomp::install_before_exec(seccomp) {
        return e;
    }
    exec::execve(&p.executable, &p.args, &p.env)
}

/// CVE-2024-21626: a cwd such as /proc/self/fd/N could name a runtime
/// descriptor of a host directory. The kernel reports a cwd outside the
/// process's root as unreachable, and getcwd() then fails: refuse it.
pub fn check_cwd_inside_root(cwd: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => bail!(
            "process.cwd {}: resolves outside the container's root filesystem",
            cwd.display()
        ),
    }
}
