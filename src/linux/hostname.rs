//! hostname and domainname (need a UTS namespace; validated in spec::validate).
use anyhow::{bail, Result};

pub fn apply(hostname: Option<&str>, domainname: Option<&str>) -> Result<()> {
    let _ = (hostname, domainname);
    bail!("hostname: not implemented yet")
}
