//! `linux.seccomp` (config-linux.md#seccomp).
//!
//! The runtime turns the profile into a BPF program before it clones the
//! init (`prepare`: from the compiled-filter cache, or libseccomp), and the
//! init, a fork of the runtime, loads that program with seccomp(2) at the
//! point runc does:
//! - without process.noNewPrivileges, before capabilities are dropped,
//!   because loading a filter then needs CAP_SYS_ADMIN
//!   (`install_before_capabilities`);
//! - with it, as late as possible, right before execve, so that no runtime
//!   step (the exec FIFO, startContainer hooks) runs under the container's
//!   profile (`install_before_exec`);
//! - when SCMP_ACT_NOTIFY is used, before capabilities in either case: the
//!   notify fd must reach linux.seccomp.listenerPath while `create` runs.

mod cache;
mod compile;
pub mod features;
mod load;
pub mod notify;
mod sha256;
mod translate;

pub use cache::DIR_NAME as CACHE_DIR_NAME;

use crate::launch::protocol::{Channel, Msg};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::AsFd;
use std::path::Path;

/// A profile ready to load: the BPF program and how to load it.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<u8>,
    settings: translate::LoadSettings,
    /// process.noNewPrivileges decides when the init loads the filter.
    no_new_privileges: bool,
}

impl Filter {
    /// The listener fd must be handed to the runtime (SCMP_ACT_NOTIFY).
    pub fn uses_notify(&self) -> bool {
        self.settings.notify
    }

    /// The same filter for an `exec`'d process, whose own
    /// noNewPrivileges decides when it is loaded.
    pub fn for_process(mut self, no_new_privileges: bool) -> Filter {
        self.no_new_privileges = no_new_privileges;
        self
    }

    fn loads_early(&self) -> bool {
        !self.no_new_privileges || self.settings.notify
    }
}

/// Check `linux.seccomp` and produce its program, from the cache under
/// `root` (the runtime's --root) when a valid one is there. None without a
/// linux.seccomp. Runs in the runtime before the clone, so every profile
/// error is reported before anything exists.
pub fn prepare(spec: &Spec, root: &Path) -> Result<Option<Filter>> {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let settings = translate::check(seccomp)?;
    let no_new_privileges = spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    let key = cache::key(seccomp);
    let dir = cache::open_dir(root);
    let cached = dir.as_deref().and_then(|d| cache::read(d, &key));
    let program = match cached {
        Some(program) => program,
        None => {
            let program = compile::compile(seccomp)?;
            if let Some(dir) = &dir {
                if let Err(e) = cache::write(dir, &key, &program) {
                    crate::logging::debug(&format!("seccomp cache not written: {e:#}"));
                }
            }
            program
        }
    };
    Ok(Some(Filter {
        program,
        settings,
        no_new_privileges,
    }))
}

/// In the init, before the capability sets are applied: load the filter
/// now if it must be loaded while the init still has CAP_SYS_ADMIN (no
/// noNewPrivileges) or must hand a notify fd to the runtime.
pub fn install_before_capabilities(filter: Option<&Filter>, channel: &Channel) -> Result<()> {
    let Some(filter) = filter.filter(|f| f.loads_early()) else {
        return Ok(());
    };
    let listener = load::load(&filter.program, filter.settings.flags)
        .context("linux.seccomp: cannot load the filter")?;
    if let Some(fd) = listener {
        // The runtime forwards it to listenerPath and answers; our copy is
        // closed (dropped) so the container process never holds it.
        channel.send_with_fd(&Msg::SeccompListener, fd.as_fd())?;
        channel.expect(&Msg::SeccompListenerDone)?;
    }
    Ok(())
}

/// In the init, right before execve: load the filter now if it was not
/// loaded early. Only execve (and, if it fails, the error message) run
/// after it.
pub fn install_before_exec(filter: Option<&Filter>) -> Result<()> {
    let Some(filter) = filter.filter(|f| !f.loads_early()) else {
        return Ok(());
    };
    if filter.settings.notify {
        bail!("linux.seccomp: internal error: a notify filter must be loaded early");
    }
    load::load(&filter.program, filter.settings.flags)
        .context("linux.seccomp: cannot load the filter")?;
    Ok(())
}
