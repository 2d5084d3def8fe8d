//! Running the criu binary. Its log (-o, at -v4) is where CRIU says what
//! went wrong; a failure is reported with the log's path and its first error
//! line, so the message alone usually tells the cause.

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use std::ffi::CString;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// The criu binary named by the global --criu flag (default: `criu` from PATH).
#[derive(Debug, Clone)]
pub struct Criu {
    pub binary: PathBuf,
}

/// A criu that has been started but waits for `release` before it runs
/// (restore puts it into the container's cgroup first, so that everything it
/// restores starts there).
pub struct Gated {
    pid: Pid,
    binary: PathBuf,
    gate: Option<OwnedFd>,
}

impl Criu {
    pub fn new(flag: Option<&Path>) -> Criu {
        Criu {
            binary: flag.map_or_else(|| PathBuf::from("criu"), Path::to_path_buf),
        }
    }

    fn command(&self, args: &[OsString]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args);
        // SAFETY: runs in the forked child before exec and only calls
        // sigprocmask(2), which is async-signal-safe. `run`/`restore` block
        // the signals they forward; criu must start with none blocked.
        unsafe {
            cmd.pre_exec(|| {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        cmd
    }

    fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        if e.kind() == ErrorKind::NotFound {
            anyhow!(
                "criu binary {:?} not found: install CRIU or give its path with --criu PATH",
                self.binary
            )
        } else {
            anyhow!("cannot run criu binary {:?}: {e}", self.binary)
        }
    }

    /// Run `criu ARGS` to the end; `log` is the -o file it writes.
    pub fn run(&self, args: &[OsString], log: &Path) -> Result<()> {
        crate::logging::debug(&format!("running {:?} {:?}", self.binary, args));
        let status = self
            .command(args)
            .status()
            .map_err(|e| self.spawn_error(e))?;
        check_status(status, log)
    }

    /// Start `criu ARGS` stopped at a gate: the forked child blocks before
    /// exec until `Gated::release_and_wait`. (std's `Command::spawn` cannot
    /// do this: it waits for the exec itself.)
    /// `env` is added to nook's own environment for criu (and so for the
    /// action scripts it runs).
    pub fn spawn_gated(&self, args: &[OsString], env: &[(OsString, OsString)]) -> Result<Gated> {
        crate::logging::debug(&format!("running {:?} {:?}", self.binary, args));
        let binary = self.resolve()?;
        // Everything the child needs is built before the fork.
        let c_binary =
            CString::new(binary.as_os_str().as_bytes()).context("criu path contains a NUL byte")?;
        let mut c_args = vec![c_binary.clone()];
        for a in args {
            c_args.push(CString::new(a.as_bytes()).context("criu argument contains a NUL byte")?);
        }
        let mut c_env = Vec::new();
        let ours: Vec<&OsString> = env.iter().map(|(k, _)| k).collect();
        let inherited = std::env::vars_os().filter(|(k, _)| !ours.contains(&k));
        for (k, v) in inherited.chain(env.iter().cloned()) {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            c_env.push(CString::new(kv).context("environment variable contains a NUL byte")?);
        }
        let (read_end, write_end) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot make a pipe")?;
        // SAFETY: nook is single-threaded here, so the child may run any
        // code; it only reads the gate, resets its signal mask and execs.
        match unsafe { nix::unistd::fork() }.context("cannot fork for criu")? {
            ForkResult::Child => {
                drop(write_end);
                let mut byte = [0u8; 1];
                if nix::unistd::read(&read_end, &mut byte) != Ok(1) {
                    // SAFETY: leaving the forked child without running the
                    // parent's destructors or atexit handlers.
                    unsafe { libc::_exit(125) };
                }
                let _ = nix::sys::signal::sigprocmask(
                    nix::sys::signal::SigmaskHow::SIG_SETMASK,
                    Some(&nix::sys::signal::SigSet::empty()),
                    None,
                );
                let _ = nix::unistd::execve(&c_binary, &c_args, &c_env);
                // SAFETY: as above.
                unsafe { libc::_exit(127) };
            }
            ForkResult::Parent { child } => {
                drop(read_end);
                Ok(Gated {
                    pid: child,
                    binary,
                    gate: Some(write_end),
                })
            }
        }
    }

    /// The binary's path: as given when it has a '/', else found in PATH.
    fn resolve(&self) -> Result<PathBuf> {
        let not_found = || {
            anyhow!(
                "criu binary {:?} not found: install CRIU or give its path with --criu PATH",
                self.binary
            )
        };
        if self.binary.as_os_str().as_bytes().contains(&b'/') {
            return if self.binary.exists() {
                Ok(self.binary.clone())
            } else {
                Err(not_found())
            };
        }
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
        std::env::split_paths(&path)
            .map(|dir| dir.join(&self.binary))
            .find(|p| p.is_file())
            .ok_or_else(not_found)
    }
}

impl Gated {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Let criu run, and wait for it; `log` is the -o file it writes.
    pub fn release_and_wait(mut self, log: &Path) -> Result<()> {
        if let Some(gate) = self.gate.take() {
            nix::unistd::write(&gate, b"g").context("cannot start criu")?;
        }
        loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(WaitStatus::Exited(_, 127)) => {
                    bail!("cannot exec the criu binary {:?}", self.binary)
                }
                Ok(WaitStatus::Exited(_, code)) => {
                    return failed(&format!("exit status {code}"), log)
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    return failed(&format!("killed by {sig}"), log)
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("cannot wait for criu: {e}"),
            }
        }
    }

    /// Stop criu without running it (closing the gate makes it exit).
    pub fn abort(mut self) {
        self.gate = None;
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// Turn criu's exit status into Ok or an error that quotes its log.
fn check_status(status: ExitStatus, log: &Path) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    failed(&status.to_string(), log)
}

/// The error for a criu that failed: its first error line and the log's path.
fn failed(how: &str, log: &Path) -> Result<()> {
    match super::log::first_error(log) {
        Some(line) => bail!("criu failed: {line} (log: {})", log.display()),
        None => bail!(
            "criu failed ({how}) and its log has no error line (log: {})",
            log.display()
        ),
    }
}
