//! The release build (`make release`, scripts/build-release.sh) is what users
//! install and what `make bench` measures, and it is linked differently from
//! the debug build the other tests run: statically, glibc and libseccomp
//! included, and not position-independent. Build it and check that it is
//! what it claims to be and that the parts a static glibc can break work:
//! a container runs with a seccomp filter, the CVE-2019-5736 re-execution
//! through a read-only overlayfs view still happens, and `list` resolves
//! the owner's name (glibc's NSS). Needs root; the build takes minutes.

mod common;

use common::runtime::profile_dir;
use common::{default_config, unique_id, Bundle, Runtime};
use serde_json::json;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Build the release nook with the script `make release` runs; its path.
fn build_release() -> PathBuf {
    let out = Command::new(Path::new(REPO).join("scripts/build-release.sh"))
        .args(["--bin", "nook"])
        .env(
            "CARGO_TARGET_DIR",
            profile_dir().parent().expect("target dir"),
        )
        .output()
        .expect("run scripts/build-release.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build-release.sh failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .last()
        .expect("build-release.sh printed its dir");
    PathBuf::from(dir).join("nook")
}

/// ELF64 little-endian header fields: e_type and the p_type of every
/// program header.
fn elf_type_and_segments(path: &Path) -> (u16, Vec<u32>) {
    let bytes = std::fs::read(path).expect("read the release binary");
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(bytes[4], 2, "not ELF64");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let e_type = u16_at(16);
    let phoff = u64_at(32) as usize;
    let phentsize = u16_at(54) as usize;
    let phnum = u16_at(56) as usize;
    let segments = (0..phnum).map(|i| u32_at(phoff + i * phentsize)).collect();
    (e_type, segments)
}

#[test]
fn release_build_is_static_and_runs_containers() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let nook = build_release();

    const ET_EXEC: u16 = 2;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let (e_type, segments) = elf_type_and_segments(&nook);
    assert_eq!(e_type, ET_EXEC, "not a fixed-address executable (PIE?)");
    assert!(!segments.contains(&PT_INTERP), "has a dynamic loader");
    assert!(!segments.contains(&PT_DYNAMIC), "has a dynamic section");

    let rt = Runtime::with_binary(&nook);

    // seccomp from the static libseccomp: mkdir is denied with EPERM, the
    // rest of the profile allows everything.
    let mut config = default_config(
        &["sh", "-c", "mkdir /tmp/x; echo mkdir=$?; echo fine"],
        false,
    );
    config["root"]["readonly"] = json!(false);
    config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    let out = rt.run(&unique_id("rel-run"), &Bundle::with_config(config), &[]);
    out.assert_ok();
    assert!(out.stdout.contains("mkdir=1\nfine"), "{out}");

    // A created container's init runs from the read-only overlayfs view of
    // the binary, not from the host's file.
    let id = unique_id("rel-create");
    let bundle = Bundle::new(&["true"]);
    rt.create(&id, &bundle, &[]).assert_ok();
    let exe = File::open(format!("/proc/{}/exe", rt.pid(&id))).expect("open the init's exe");
    let fs = nix::sys::statfs::fstatfs(exe.as_fd()).expect("statfs the init's exe");
    assert_eq!(
        fs.filesystem_type(),
        nix::sys::statfs::OVERLAYFS_SUPER_MAGIC,
        "the init does not run from the overlayfs view"
    );

    // `list` names the owner through glibc's NSS, linked in statically.
    let out = rt.exec(&["list"]);
    out.assert_ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed: {out}"));
    assert!(line.ends_with("root"), "owner not resolved: {line}");
    rt.delete_force(&id).assert_ok();
}
