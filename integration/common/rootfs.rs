//! The busybox-static root filesystem shared by all tests: built once per
//! test run by `scripts/build-rootfs.sh` into the target directory, and copied
//! into each bundle.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of the shared rootfs (`target/tmp/test-rootfs`), built on first use.
///
/// A OnceLock guards the threads of one test binary; an flock on a lock file
/// guards several test binaries running at once. The build script is
/// idempotent and fast when the tree is already complete.
pub fn shared_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join("test-rootfs");
        build_locked(&dir, None);
        dir
    })
}

/// The shared rootfs packed as a tar (`target/tmp/test-rootfs.tar`), for
/// `podman import`.
pub fn shared_rootfs_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let tar = base.join("test-rootfs.tar");
        build_locked(&base.join("test-rootfs"), Some(&tar));
        tar
    })
}

fn build_locked(dir: &Path, tar: Option<&Path>) {
    let base = dir.parent().expect("rootfs dir has a parent");
    fs::create_dir_all(base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
    let lock_path = base.join("test-rootfs.lock");
    let lock_file =
        File::create(&lock_path).unwrap_or_else(|e| panic!("create {}: {e}", lock_path.display()));
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("flock {}: {e}", lock_path.display()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-rootfs.sh");
    let mut cmd = Command::new(&script);
    cmd.arg(dir);
    if let Some(tar) = tar {
        cmd.arg(tar);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {} failed ({}): {}",
        script.display(),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
