//! `nook spec [--bundle DIR] [--rootless]`: write runc's default config.json.
use crate::cli::SpecArgs;
use anyhow::{bail, Context, Result};
use serde::Serialize;

/// `--rootless` (a global flag, as in runc) selects the rootless spec.
pub fn run(a: &SpecArgs, rootless: bool) -> Result<()> {
    let dir = a.bundle.clone().unwrap_or_else(|| ".".into());
    let path = dir.join("config.json");
    if path.exists() {
        bail!("{}: file exists; remove it first", path.display());
    }
    let spec = crate::spec::default_spec(
        rootless,
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    spec.serialize(&mut ser)?;
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))
}
