//! `nook ps [--format table|json] ID [PS_ARGS...]`.
use crate::cli::{GlobalOpts, PsArgs, PsFormat};
use anyhow::Result;

pub fn run(g: &GlobalOpts, a: &PsArgs) -> Result<()> {
    let c = super::open_root(g)?.load(&a.id)?;
    let pids = crate::ps::container_pids(&c)?;
    match a.format {
        PsFormat::Json => println!("{}", crate::ps::pids_json(&pids)),
        PsFormat::Table => print!("{}", crate::ps::ps_table(&pids, &a.ps_args)?),
    }
    Ok(())
}
