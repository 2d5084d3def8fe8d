//! The cgroup v2 device filter (`linux.resources.devices` as a
//! BPF_PROG_TYPE_CGROUP_DEVICE program) on this host's real kernel.
//!
//! This host is cgroup v1 with cgroup2 beside it at /sys/fs/cgroup/unified;
//! a device program attached to a cgroup2 directory is enforced there too,
//! on top of the v1 devices controller (which allows everything for the
//! test's processes). Each test makes its own
//! /sys/fs/cgroup/unified/nook-test-<pid>-<n>, puts a forked child in it that
//! tries to open device nodes, and removes the cgroup in a Drop guard.
//! Needs root; skipped (with a message) without it or without cgroup2 there.

use nook::cgroups::devices_bpf::{
    apply_devices, attach_device_filter, attached_device_filters, detach_all_device_filters,
};
use nook::cgroups::DeviceRule;
use oci_spec::runtime::LinuxDeviceCgroup;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const UNIFIED: &str = "/sys/fs/cgroup/unified";
const EPERM: i32 = libc::EPERM;
const OPENED: i32 = 0;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The test's cgroup2 directory; detaches its programs and removes it on drop.
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    /// None (test skipped) unless we are root and cgroup2 is at UNIFIED.
    fn new() -> Option<TestCgroup> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        let is_cgroup2 = nix::sys::statfs::statfs(UNIFIED)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
        if !is_cgroup2 {
            eprintln!("skipped: no cgroup2 at {UNIFIED}");
            return None;
        }
        let name = format!(
            "nook-test-{}-bpf{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = Path::new(UNIFIED).join(name);
        std::fs::create_dir(&dir).unwrap();
        Some(TestCgroup { dir })
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Removing the cgroup releases its programs anyway; detaching first
        // checks that path too and leaves nothing if rmdir fails.
        if let Err(e) = detach_all_device_filters(&self.dir) {
            eprintln!("cleanup: {e:#}");
        }
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("cleanup: rmdir {}: {e}", self.dir.display());
        }
    }
}

/// What the child tries.
enum Probe {
    /// open(path, flags).
    Open(&'static str, i32),
    /// mknod(dir/node, S_IFCHR, major:minor), then unlink.
    MknodChar(u32, u32),
}

/// Fork a child that moves itself into `cgroup` and runs each probe; the
/// errno of each (0 = it worked).
fn probe_in(cgroup: &TestCgroup, probes: &[Probe]) -> Vec<i32> {
    let scratch = tempfile::tempdir().unwrap();
    let node = CString::new(
        scratch
            .path()
            .join("node")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    let paths: Vec<CString> = probes
        .iter()
        .map(|p| match p {
            Probe::Open(path, _) => CString::new(*path).unwrap(),
            Probe::MknodChar(..) => node.clone(),
        })
        .collect();
    let procs: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .open(cgroup.dir.join("cgroup.procs"))
        .unwrap()
        .into();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();

    // SAFETY: the child only makes async-signal-safe calls (write, open,
    // close, mknod, unlink, _exit) on memory prepared before the fork, so
    // the other test threads' state (locks, allocator) does not matter.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            // SAFETY: as above; every pointer is to a live CString or local.
            unsafe {
                // "0" moves the writing process itself.
                if libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(2);
                }
                for (probe, path) in probes.iter().zip(&paths) {
                    let ok = match probe {
                        Probe::Open(_, flags) => {
                            let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC);
                            fd >= 0 && libc::close(fd) == 0
                        }
                        Probe::MknodChar(major, minor) => {
                            let dev = libc::makedev(*major, *minor);
                            let made = libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, dev) == 0;
                            made && libc::unlink(path.as_ptr()) == 0
                        }
                    };
                    let errno = if ok { 0 } else { *libc::__errno_location() };
                    libc::write(write_end.as_raw_fd(), (&errno as *const i32).cast(), 4);
                }
                libc::_exit(0);
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write_end);
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::fs::File::from(read_end), &mut bytes).unwrap();
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            bytes
                .chunks(4)
                .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
                .collect()
        }
    }
}

fn rule(
    allow: bool,
    kind: char,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> DeviceRule {
    DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: access.to_string(),
    }
}

const READ: i32 = libc::O_RDONLY;
const WRITE: i32 = libc::O_WRONLY;
const READ_WRITE: i32 = libc::O_RDWR;

#[test]
fn a_device_filter_denies_what_its_rules_deny_and_an_update_replaces_it() {
    let Some(cgroup) = TestCgroup::new() else {
        return;
    };
    let probes = [
        Probe::Open("/dev/null", READ),
        Probe::Open("/dev/null", WRITE),
        Probe::Open("/dev/null", READ_WRITE),
        Probe::Open("/dev/zero", READ),
    ];
    // Without a program everything opens: the denials below are the filter's.
    assert_eq!(probe_in(&cgroup, &probes), [OPENED; 4], "before any filter");

    let deny_null_read = [
        rule(true, 'a', None, None, "rwm"),
        rule(false, 'c', Some(1), Some(3), "r"),
    ];
    attach_device_filter(&cgroup.dir, &deny_null_read).unwrap();
    assert_eq!(
        probe_in(&cgroup, &probes),
        [EPERM, OPENED, EPERM, OPENED],
        "deny c 1:3 r"
    );
    let first = attached_device_filters(&cgroup.dir).unwrap();
    assert_eq!(first.len(), 1, "{first:?}");

    // An update: the new rules apply and the old program is gone.
    let deny_zero_read = [
        rule(true, 'a', None, None, "rwm"),
        rule(false, 'c', Some(1), Some(5), "r"),
    ];
    attach_device_filter(&cgroup.dir, &deny_zero_read).unwrap();
    assert_eq!(
        probe_in(&cgroup, &probes),
        [OPENED, OPENED, OPENED, EPERM],
        "deny c 1:5 r"
    );
    let second = attached_device_filters(&cgroup.dir).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
}

#[test]
fn the_runtime_rule_list_allows_the_default_devices_and_the_config_rules() {
    let Some(cgroup) = TestCgroup::new() else {
        return;
    };
    // /dev/kmsg (c 1:11) is not among the default devices.
    let probes = [
        Probe::Open("/dev/null", READ_WRITE),
        Probe::Open("/dev/urandom", READ),
        Probe::Open("/dev/kmsg", READ),
        Probe::MknodChar(1, 11),
    ];
    assert_eq!(probe_in(&cgroup, &probes), [OPENED; 4], "before any filter");

    // No linux.resources.devices: only the defaults (mknod of anything).
    apply_devices(&cgroup.dir, &[]).unwrap();
    assert_eq!(
        probe_in(&cgroup, &probes),
        [OPENED, OPENED, EPERM, OPENED],
        "default list"
    );

    // A config rule adds /dev/kmsg; a deny of all mknod comes before the
    // default list, which allows mknod again.
    let config: Vec<LinuxDeviceCgroup> = serde_json::from_str(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}]"#,
    )
    .unwrap();
    apply_devices(&cgroup.dir, &config).unwrap();
    assert_eq!(
        probe_in(&cgroup, &probes),
        [OPENED, OPENED, OPENED, OPENED],
        "config allows c 1:11 r"
    );
    assert_eq!(attached_device_filters(&cgroup.dir).unwrap().len(), 1);

    // Without mknod in the list, creating the node fails.
    attach_device_filter(&cgroup.dir, &[rule(true, 'a', None, None, "rw")]).unwrap();
    assert_eq!(
        probe_in(&cgroup, &probes),
        [OPENED, OPENED, OPENED, EPERM],
        "allow a *:* rw"
    );
}

#[test]
fn errors_name_the_field_and_the_errno() {
    let Some(_cgroup) = TestCgroup::new() else {
        return;
    };
    // A plain directory is not a cgroup: the kernel refuses the attach.
    let plain = tempfile::tempdir().unwrap();
    let err = format!(
        "{:#}",
        attach_device_filter(plain.path(), &[rule(true, 'a', None, None, "rwm")]).unwrap_err()
    );
    assert!(err.contains("linux.resources.devices"), "{err}");
    assert!(err.contains("EBADF"), "{err}");
}
