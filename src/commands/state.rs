//! `nook state ID`: runc's state JSON, pretty-printed.
use crate::cli::GlobalOpts;
use anyhow::Result;

pub fn run(g: &GlobalOpts, id: &str) -> Result<()> {
    let c = super::open_root(g)?.load(id)?;
    let text = serde_json::to_string_pretty(&c.oci_state(""))?;
    print!("{text}");
    Ok(())
}
