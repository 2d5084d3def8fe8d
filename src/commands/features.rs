//! `nook features`: what this build and host support (features.md), as JSON.
use anyhow::Result;

pub fn run() -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::features::features())?
    );
    Ok(())
}
