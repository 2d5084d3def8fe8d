//! process.oomScoreAdj: /proc/self/oom_score_adj.
use anyhow::{bail, Result};

pub fn apply(value: i32) -> Result<()> {
    let _ = value;
    bail!("oomScoreAdj: not implemented yet")
}
