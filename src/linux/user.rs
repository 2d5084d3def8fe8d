//! process.user: additionalGids, gid, uid (keeping capabilities across the
//! switch so `capabilities::apply_sets` can set them) and umask.
use anyhow::{bail, Result};
use oci_spec::runtime::User;

pub fn switch(user: &User) -> Result<()> {
    let _ = user;
    bail!("user: not implemented yet")
}
