//! process.noNewPrivileges.
use anyhow::{bail, Result};

pub fn set_no_new_privileges() -> Result<()> {
    bail!("noNewPrivileges: not implemented yet")
}
