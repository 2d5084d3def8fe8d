//! `update`: change the cgroup limits of a created, running or paused
//! container, and remember them in state.json so later commands (another
//! `update`, `events`) see them.

mod flags;
mod size;

pub use flags::{merge, resources_from_json, ResourceFlags};
pub use size::parse_size;

use crate::container::{Container, Status};
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;

/// What the caller asks to change.
pub enum UpdateRequest {
    /// `--resources FILE|-`: a `linux.resources` JSON document (flags ignored, as runc).
    Json(String),
    /// The individual flags.
    Flags(Box<ResourceFlags>),
}

/// Intel RDT (`--l3-cache-schema`, `--mem-bw-schema`): nook does not manage
/// resctrl, so a schema is refused with runc's message for a host without RDT.
pub fn check_intel_rdt(l3_cache_schema: Option<&str>, mem_bw_schema: Option<&str>) -> Result<()> {
    if l3_cache_schema.is_some() {
        bail!("Intel RDT/CAT: l3 cache schema is not enabled");
    }
    if mem_bw_schema.is_some() {
        bail!("Intel RDT/MBA: memory bandwidth schema is not enabled");
    }
    Ok(())
}

/// Apply `request` to the container (locked by the caller) and save it.
pub fn update(c: &mut Container, request: UpdateRequest) -> Result<()> {
    // Parse everything before looking at the cgroup: bad input changes nothing.
    let (changes, asked) = match request {
        UpdateRequest::Json(text) => (resources_from_json(&text)?, "--resources".to_string()),
        UpdateRequest::Flags(flags) => (flags.to_resources()?, flags.describe()),
    };
    if c.status() == Status::Stopped {
        bail!("container not running");
    }
    let stored = stored_resources(c);
    let merged = merge(&stored, &changes);
    let mgr = crate::cgroups::manager_for(&c.state.cgroup)?;
    if let Err(e) = mgr.set(&merged) {
        // Some files may have been written before the failure: put back the
        // values state.json still holds.
        if let Err(restore) = mgr.set(&stored) {
            crate::logging::warn(&format!(
                "restoring the previous cgroup limits failed: {restore:#}; the cgroup and state.json may disagree"
            ));
        }
        return Err(e.context(format!("update {asked}")));
    }
    store_resources(c, merged);
    c.save()
}

/// The container's current `linux.resources` (empty when the config had none).
fn stored_resources(c: &Container) -> LinuxResources {
    c.state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default()
}

fn store_resources(c: &mut Container, resources: LinuxResources) {
    c.state
        .config
        .linux_mut()
        .get_or_insert_with(Default::default)
        .set_resources(Some(resources));
}
