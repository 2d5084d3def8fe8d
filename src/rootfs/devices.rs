//! /dev inside the container: the default devices
//! (config-linux.md#default-devices), `linux.devices`
//! (config-linux.md#devices), the /dev symlinks and the /dev/console
//! placeholder. Nodes are created with mknodat(2) in a parent directory
//! opened inside the rootfs; without CAP_MKNOD (user namespace) character
//! and block devices are bind mounts of the host's nodes instead.

use crate::rootfs::safe_path::{container_components, Root};
use crate::rootfs::sys;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmodat, fstatat, major, makedev, minor, mknodat, FchmodatFlags, Mode, SFlag,
};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// A device node to provide, from the defaults or from `linux.devices[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Container path, e.g. /dev/fuse.
    pub path: PathBuf,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// How errors name it: "linux.devices[2] (\"/dev/fuse\")" or "default device /dev/null".
    pub origin: String,
}

/// The devices every container gets (config-linux.md#default-devices);
/// /dev/ptmx and /dev/console are handled separately.
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(path, major, minor)| DeviceNode {
        path: PathBuf::from(path),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
        origin: format!("default device {path}"),
    })
    .collect()
}

/// `linux.devices[index]` as a node to create (fileMode, uid, gid default to 0666, 0, 0 as runc).
pub fn device_from_spec(index: usize, device: &LinuxDevice) -> Result<DeviceNode> {
    let path = device.path();
    let origin = format!("linux.devices[{index}] ({path:?})");
    if !path.is_absolute() {
        bail!("linux.devices[{index}].path {path:?}: must be an absolute path");
    }
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            bail!("linux.devices[{index}].type \"a\": not a device type (c, b, u or p)")
        }
    };
    let number = |value: i64, field: &str| -> Result<u64> {
        u64::try_from(value)
            .map_err(|_| anyhow!("linux.devices[{index}].{field} {value}: must not be negative"))
    };
    let (major, minor) = if kind == SFlag::S_IFIFO {
        (0, 0)
    } else {
        (
            number(device.major(), "major")?,
            number(device.minor(), "minor")?,
        )
    };
    Ok(DeviceNode {
        path: crate::rootfs::safe_path::clean_container_path(path),
        kind,
        major,
        minor,
        // fileMode may carry file-type bits; only the permissions matter here.
        mode: device.file_mode().unwrap_or(0o666) & 0o7777,
        uid: device.uid().unwrap_or(0),
        gid: device.gid().unwrap_or(0),
        origin,
    })
}

/// The full list for a spec: defaults not overridden by `linux.devices`
/// (same path), then `linux.devices` in order. /dev/ptmx is skipped: it is a
/// symlink to pts/ptmx (see `create_dev_links`).
pub fn devices_for_spec(devices: &[LinuxDevice]) -> Result<Vec<DeviceNode>> {
    let mut from_spec = Vec::new();
    for (index, device) in devices.iter().enumerate() {
        from_spec.push(device_from_spec(index, device)?);
    }
    let mut all: Vec<DeviceNode> = default_devices()
        .into_iter()
        .filter(|d| !from_spec.iter().any(|s| s.path == d.path))
        .collect();
    all.extend(from_spec);
    all.retain(|d| d.path != Path::new("/dev/ptmx"));
    Ok(all)
}

/// Create every node in `devices`. `bind_from_host`: no CAP_MKNOD here (a
/// user namespace), so bind-mount the host's node at the same path instead.
pub fn create_devices(root: &Root, devices: &[DeviceNode], bind_from_host: bool) -> Result<()> {
    for device in devices {
        create_device(root, device, bind_from_host).with_context(|| device.origin.clone())?;
    }
    Ok(())
}

fn create_device(root: &Root, device: &DeviceNode, bind_from_host: bool) -> Result<()> {
    let comps = container_components(&device.path);
    let Some((name, parent)) = comps.split_last() else {
        bail!("the root directory cannot be a device");
    };
    let parent: PathBuf = parent.iter().collect();
    let dir = root.mkdir_all(&parent, 0o755)?;

    if let Some(existing) = existing_node(dir.as_fd(), name)? {
        // config-linux.md#devices: a file already at the path that does not
        // match the requested device is an error.
        if existing != (device.kind, device.major, device.minor) {
            bail!(
                "{:?} already exists and is not the requested device (type {:o}, {}:{})",
                device.path,
                device.kind.bits(),
                device.major,
                device.minor
            );
        }
        return set_owner_and_mode(dir.as_fd(), name, device);
    }

    // FIFOs need no privilege; character and block devices need CAP_MKNOD.
    if bind_from_host && device.kind != SFlag::S_IFIFO {
        return bind_host_device(root, device);
    }
    let dev = makedev(device.major, device.minor);
    match mknodat(
        dir.as_fd(),
        *name,
        device.kind,
        Mode::from_bits_truncate(device.mode),
        dev,
    ) {
        Ok(()) => set_owner_and_mode(dir.as_fd(), name, device),
        // Not allowed after all (e.g. a restricted device cgroup or LSM): bind instead, as runc.
        Err(Errno::EPERM) if device.kind != SFlag::S_IFIFO => bind_host_device(root, device),
        Err(e) => Err(anyhow!("mknod {:?}: {e}", device.path)),
    }
}

/// Type, major and minor of `name` in `dir`, if something is there.
fn existing_node(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<Option<(SFlag, u64, u64)>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            let (maj, min) = if kind == SFlag::S_IFIFO {
                (0, 0)
            } else {
                (major(st.st_rdev), minor(st.st_rdev))
            };
            Ok(Some((kind, maj, min)))
        }
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(anyhow!("stat {}: {e}", Path::new(name).display())),
    }
}

fn set_owner_and_mode(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    device: &DeviceNode,
) -> Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(device.uid)),
        Some(Gid::from_raw(device.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| {
        anyhow!(
            "chown {:?} to {}:{}: {e}",
            device.path,
            device.uid,
            device.gid
        )
    })?;
    // mknod applied the umask; set the exact fileMode. The node is not a
    // symlink (checked above or just created), so following is harmless.
    fchmodat(
        dir,
        name,
        Mode::from_bits_truncate(device.mode),
        FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| anyhow!("chmod {:?} to {:o}: {e}", device.path, device.mode))
}

/// Bind the host's node at the same path onto an empty file in the rootfs.
fn bind_host_device(root: &Root, device: &DeviceNode) -> Result<()> {
    let host = nix::fcntl::open(
        &device.path,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open host device {:?} to bind it: {e}", device.path))?;
    let target = root.create_file(&device.path, 0o000)?;
    let host_path = sys::proc_fd_path(host.as_fd());
    sys::mount_on_fd(Some(&host_path), target.as_fd(), None, libc::MS_BIND, None)
        .map_err(|e| anyhow!("bind host device {:?}: {e}", device.path))
}

/// The /dev links runc creates: fd, stdin, stdout, stderr, core (when the
/// kernel has /proc/kcore), and /dev/ptmx -> pts/ptmx (config-linux.md#default-devices).
pub fn create_dev_links(root: &Root) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(anyhow!("symlink /dev/{name} -> {target}: {e}")),
        }
    }
    // /dev/ptmx must be the one of the container's devpts instance.
    match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(anyhow!("remove /dev/ptmx: {e}")),
    }
    symlinkat("pts/ptmx", dev.as_fd(), "ptmx")
        .map_err(|e| anyhow!("symlink /dev/ptmx -> pts/ptmx: {e}"))
}

/// process.terminal: an empty /dev/console (mode 0666, as runc creates it
/// with umask 0) that the console pty is bind-mounted onto later.
pub fn create_console_placeholder(root: &Root) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match openat(
        dev.as_fd(),
        "console",
        flags,
        Mode::from_bits_truncate(0o666),
    ) {
        Ok(_) => {}
        // Already a device or something we cannot open for writing: it is
        // there, and the pty will be bound over it.
        Err(Errno::EEXIST | Errno::ENXIO | Errno::ENODEV | Errno::EACCES) => return Ok(()),
        Err(e) => return Err(anyhow!("create /dev/console: {e}")),
    }
    fchmodat(
        dev.as_fd(),
        "console",
        Mode::from_bits_truncate(0o666),
        FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| anyhow!("chmod /dev/console: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn defaults_are_the_six_spec_devices_with_mode_666() {
        let d = default_devices();
        let paths: Vec<_> = d
            .iter()
            .map(|d| d.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
        assert!(d
            .iter()
            .all(|d| d.mode == 0o666 && d.kind == SFlag::S_IFCHR));
        assert_eq!((d[0].major, d[0].minor), (1, 3));
        assert_eq!((d[5].major, d[5].minor), (5, 0));
    }

    #[test]
    fn spec_devices_override_defaults_and_ptmx_is_skipped() {
        let null = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .file_mode(0o600u32)
            .build()
            .unwrap();
        let ptmx = LinuxDeviceBuilder::default()
            .path("/dev/ptmx")
            .typ(LinuxDeviceType::C)
            .major(5)
            .minor(2)
            .build()
            .unwrap();
        let all = devices_for_spec(&[null, ptmx]).unwrap();
        let nulls: Vec<_> = all
            .iter()
            .filter(|d| d.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(nulls.len(), 1);
        assert_eq!(nulls[0].mode, 0o600);
        assert!(nulls[0].origin.starts_with("linux.devices[0]"));
        assert!(all.iter().all(|d| d.path != Path::new("/dev/ptmx")));
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn spec_device_fields() {
        let fifo = LinuxDeviceBuilder::default()
            .path("/dev/../run/fifo")
            .typ(LinuxDeviceType::P)
            .major(9)
            .minor(9)
            .file_mode(0o020644u32)
            .uid(5u32)
            .gid(6u32)
            .build()
            .unwrap();
        let d = device_from_spec(3, &fifo).unwrap();
        assert_eq!(d.path, PathBuf::from("/run/fifo"));
        assert_eq!(d.kind, SFlag::S_IFIFO);
        assert_eq!((d.major, d.minor), (0, 0));
        assert_eq!(d.mode, 0o644);
        assert_eq!((d.uid, d.gid), (5, 6));

        let u = LinuxDeviceBuilder::default()
            .path("/dev/u")
            .typ(LinuxDeviceType::U)
            .major(4)
            .minor(1)
            .build()
            .unwrap();
        assert_eq!(device_from_spec(0, &u).unwrap().kind, SFlag::S_IFCHR);
        let b = LinuxDeviceBuilder::default()
            .path("/dev/sda")
            .typ(LinuxDeviceType::B)
            .major(8)
            .minor(0)
            .build()
            .unwrap();
        assert_eq!(device_from_spec(0, &b).unwrap().kind, SFlag::S_IFBLK);
    }

    #[test]
    fn bad_spec_devices_name_the_field() {
        let a = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build()
            .unwrap();
        assert!(device_from_spec(2, &a)
            .unwrap_err()
            .to_string()
            .starts_with("linux.devices[2].type"));
        let rel = LinuxDeviceBuilder::default()
            .path("dev/x")
            .typ(LinuxDeviceType::C)
            .build()
            .unwrap();
        assert!(device_from_spec(1, &rel)
            .unwrap_err()
            .to_string()
            .starts_with("linux.devices[1].path"));
        let neg = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::C)
            .major(-1)
            .build()
            .unwrap();
        assert!(device_from_spec(0, &neg)
            .unwrap_err()
            .to_string()
            .starts_with("linux.devices[0].major"));
    }
}
