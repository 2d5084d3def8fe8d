//! `run.nook.gpu=dri`: the DRM render and card nodes (`/dev/dri/renderD*`,
//! `/dev/dri/card*`) as linux.devices with a cgroup allow rule each, and
//! their groups (usually `render` and `video`) added to
//! process.user.additionalGids, since the nodes are mode 0660.
//!
//! `run.nook.host-dev-dri` names another directory to take the nodes from:
//! it exists for machines without a GPU, where tests use stand-in nodes
//! made with mknod. The nodes inside are always at /dev/dri.
//!
//! Isolation: the container can use the GPU as the user can; a render node
//! gives no access to other clients' buffers, a card node allows modesetting
//! calls that the compositor normally holds (DRM master stays with the
//! compositor).
use super::edits::Device;
use super::host_path::{self, Kind};
use super::identity;
use super::Setup;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub(super) fn add(setup: &mut Setup<'_>, spec: &oci_spec::runtime::Spec) -> Result<()> {
    if !setup.req.gpu {
        return Ok(());
    }
    let dir = setup
        .req
        .host_dev_dri
        .clone()
        .unwrap_or_else(|| PathBuf::from("/dev/dri"));
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::logging::warn(&format!(
                "run.nook.gpu: {} does not exist; the container gets no GPU",
                dir.display()
            ));
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("run.nook.gpu: {}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("renderD") || n.starts_with("card"))
        .collect();
    names.sort();
    let gid_maps = spec
        .linux()
        .as_ref()
        .and_then(|l| l.gid_mappings().as_ref());
    for name in names {
        let host = dir.join(&name);
        // Device nodes belong to root (udev); anything else is refused.
        let Some(node) = host_path::check(&host, Kind::CharDevice, &[setup.host_root])
            .with_context(|| "run.nook.gpu".to_string())?
        else {
            continue;
        };
        // Under rootless Podman the node's group (render, video) is not
        // mapped into nook's own namespace: there is no group to grant.
        let gid = if crate::linux::userns::is_unmapped_gid(node.gid) {
            None
        } else if setup.ident.user_namespace {
            identity::container_id_of(gid_maps, node.gid)
        } else {
            Some(node.gid)
        };
        match gid {
            Some(gid) => {
                push_node(setup, &name, &host, &node, gid);
                setup.edits.additional_gids.push(gid);
            }
            None => {
                crate::logging::warn(&format!(
                    "run.nook.gpu: the group {} of {} is not mapped into the container's user namespace{}: only the node's owner and mode decide access",
                    node.gid,
                    host.display(),
                    if crate::linux::userns::running_in_user_namespace() {
                        " (nook runs in a user namespace, as under rootless Podman, and cannot grant host groups)"
                    } else {
                        ""
                    }
                ));
                push_node(setup, &name, &host, &node, 0);
            }
        }
    }
    Ok(())
}

fn push_node(setup: &mut Setup<'_>, name: &str, host: &Path, node: &host_path::Checked, gid: u32) {
    let rdev = node.rdev;
    // In a user namespace (the container's, or rootless nook's own) no
    // node can be made: bind the one checked here.
    let bind_from = (setup.ident.user_namespace || !crate::linux::userns::is_host_root())
        .then(|| host.to_path_buf());
    setup.edits.devices.push(Device {
        path: Path::new("/dev/dri").join(name),
        major: nix::sys::stat::major(rdev) as i64,
        minor: nix::sys::stat::minor(rdev) as i64,
        mode: node.mode & 0o777,
        uid: 0,
        gid,
        bind_from,
    });
}
