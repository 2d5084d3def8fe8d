//! The container's root filesystem: everything from the new mount namespace
//! to the final read-only remounts. Runs in the init process, as root of the
//! container's user namespace (if any), in the container's mount namespace.
//!
//! Order used by the launcher (see `launch::init`):
//! 1. `prepare` — propagation, rootfs bind, `mounts`, /dev, devices, links.
//! 2. createContainer hooks run (still before pivot_root, as the spec says).
//! 3. `pivot` — pivot_root (or move + chroot with --no-pivot).
//! 4. the console is set up (needs /dev/pts and /dev/console in place).
//! 5. `finalize` — deferred `ro` of tmpfs and /dev mounts, root.readonly,
//!    readonlyPaths, maskedPaths.
//!
//! Files, one concern each: `options` (mount option strings), `mount_entry`
//! (validating `mounts[i]`), `safe_path` (resolving inside the rootfs),
//! `mount`/`bind`/`filesystem`/`cgroup_mount`/`idmap`/`tmpcopyup` (each kind
//! of mount), `devices`, `propagation`, `pivot`, `readonly`, `masked`,
//! `mountinfo`, and `sys` (raw syscalls).

pub mod bind;
pub mod cgroup_mount;
pub mod dev_null_stdio;
pub mod devices;
pub mod filesystem;
pub mod idmap;
pub mod masked;
pub mod mount;
pub mod mount_entry;
pub mod mountinfo;
pub mod options;
pub mod pivot;
pub mod propagation;
pub mod readonly;
pub mod safe_path;
pub mod sys;
pub mod tmpcopyup;

use anyhow::{Context, Result};
use mount_entry::{parse_mount_entry, MountEntry, MountKind};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use safe_path::Root;
use std::path::{Path, PathBuf};

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
    /// The bundle directory: relative bind-mount sources are relative to it
    /// (config.md#mounts). Empty means the current directory.
    pub bundle: PathBuf,
}

/// Validate every `mounts[i]` (before anything is mounted, so a bad entry
/// fails early with an error naming it).
pub fn validate_mounts(spec: &Spec, bundle: &Path) -> Result<Vec<MountEntry>> {
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    mounts
        .iter()
        .enumerate()
        .map(|(index, mount)| parse_mount_entry(index, mount, bundle))
        .collect()
}

/// runc's rule: a bind mount of the whole /dev means the user brings their
/// own devices, so no device nodes or /dev links are created.
fn needs_dev_setup(entries: &[MountEntry]) -> bool {
    !entries
        .iter()
        .any(|e| matches!(e.kind, MountKind::Bind { .. }) && e.destination == Path::new("/dev"))
}

/// Step 1: mounts and /dev, before pivot_root. `rootfs` is the absolute host path of root.path.
pub fn prepare(spec: &Spec, rootfs: &Path, opts: &RootfsOptions) -> Result<()> {
    let linux = spec.linux().as_ref();
    // Validate everything first: nothing is mounted for a config that cannot work.
    let propagation_flags = propagation::parse_rootfs_propagation(
        linux.and_then(|l| l.rootfs_propagation().as_deref()),
        opts.no_pivot,
    )?;
    let entries = validate_mounts(spec, &opts.bundle)?;
    let devices =
        devices::devices_for_spec(linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]))?;

    propagation::apply_rootfs_propagation(propagation_flags)?;
    let root = Root::open(rootfs).context("root.path")?;
    propagation::make_parent_mount_private(root.host_path())?;
    propagation::bind_rootfs_onto_itself(root.host_path())?;
    // Re-open: the descriptor must be on the new rootfs mount, not below it.
    let root = Root::open(rootfs).context("root.path")?;

    let mount_label = linux.and_then(|l| l.mount_label().as_deref());
    let cgroupns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup));
    let ctx = mount::MountContext {
        root: &root,
        mount_label,
        cgroupns,
        in_user_namespace: opts.in_user_namespace,
    };
    for entry in &entries {
        mount::mount_entry(&ctx, entry)?;
    }

    if needs_dev_setup(&entries) {
        devices::create_devices(&root, &devices, opts.in_user_namespace)?;
        devices::create_dev_links(&root)?;
    }
    if opts.terminal {
        devices::create_console_placeholder(&root).context("process.terminal")?;
    }
    Ok(())
}

/// Step 3: make `rootfs` the process's `/`.
pub fn pivot(rootfs: &Path, opts: &RootfsOptions) -> Result<()> {
    if opts.no_pivot {
        pivot::move_root_and_chroot(rootfs)
    } else {
        pivot::pivot_into(rootfs)
    }
}

/// Step 5: maskedPaths, readonlyPaths, root.readonly; after pivot_root, paths are container paths.
pub fn finalize(spec: &Spec, opts: &RootfsOptions) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    let entries = validate_mounts(spec, &opts.bundle)?;
    if needs_dev_setup(&entries) {
        dev_null_stdio::reopen_dev_null_stdio()?;
    }
    readonly::apply_deferred_read_only(&root, &entries)?;
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        readonly::apply_root_readonly(&root)?;
    }
    let linux = spec.linux().as_ref();
    let readonly_paths = linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or(&[]);
    readonly::apply_readonly_paths(&root, readonly_paths)?;
    let masked_paths = linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[]);
    let mount_label = linux.and_then(|l| l.mount_label().as_deref());
    masked::apply_masked_paths(&root, masked_paths, mount_label)?;
    Ok(())
}
