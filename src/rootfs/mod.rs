//! The container's root filesystem: everything from the new mount namespace
//! to the final read-only remounts. Runs in the init process, as root of the
//! container's user namespace (if any), in the container's mount namespace.
//!
//! Order used by the launcher (see `launch::init`):
//! 1. `prepare` — propagation, rootfs bind, `mounts`, /dev, devices, links.
//! 2. createContainer hooks run (still before pivot_root, as the spec says).
//! 3. `pivot` — pivot_root (or move + chroot with --no-pivot).
//! 4. the console is set up (needs /dev/pts and /dev/console in place).
//! 5. `finalize` — maskedPaths, readonlyPaths, root.readonly.

use anyhow::{bail, Result};
use oci_spec::runtime::Spec;
use std::path::Path;

/// What the rootfs code needs to know beyond config.json.
#[derive(Debug, Clone, Default)]
pub struct RootfsOptions {
    /// A new user namespace is in use: device nodes are bind-mounted from the
    /// host instead of created with mknod, as runc does.
    pub in_user_namespace: bool,
    /// process.terminal is true: create an empty /dev/console to bind the pty onto.
    pub terminal: bool,
    /// `--no-pivot`: move the rootfs onto / and chroot instead of pivot_root.
    pub no_pivot: bool,
}

/// Step 1: mounts and /dev, before pivot_root. `rootfs` is the absolute host path of root.path.
pub fn prepare(spec: &Spec, rootfs: &Path, opts: &RootfsOptions) -> Result<()> {
    let _ = (spec, rootfs, opts);
    bail!("rootfs: prepare not implemented yet")
}

/// Step 3: make `rootfs` the process's `/`.
pub fn pivot(rootfs: &Path, opts: &RootfsOptions) -> Result<()> {
    let _ = (rootfs, opts);
    bail!("rootfs: pivot not implemented yet")
}

/// Step 5: maskedPaths, readonlyPaths, root.readonly; after pivot_root, paths are container paths.
pub fn finalize(spec: &Spec, opts: &RootfsOptions) -> Result<()> {
    let _ = (spec, opts);
    bail!("rootfs: finalize not implemented yet")
}
