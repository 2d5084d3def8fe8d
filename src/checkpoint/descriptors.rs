//! descriptors.json in the image directory: what the init's stdin, stdout
//! and stderr were at dump time ("pipe:[1234]", "/dev/null", ...), as runc
//! writes it. Restore hands its own stdio to criu in place of the pipes
//! (`--inherit-fd`), since the dumped pipes' other ends are gone.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::Path;

pub const DESCRIPTORS_FILE: &str = "descriptors.json";

/// Read fds 0, 1 and 2 of `pid` and write them to `image_dir/descriptors.json`.
pub fn save(pid: i32, image_dir: &Path) -> Result<()> {
    let targets: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let path = image_dir.join(DESCRIPTORS_FILE);
    let data = serde_json::to_vec(&targets).context("cannot encode descriptors")?;
    std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
}

/// The stdio targets saved at dump time.
pub fn load(image_dir: &Path) -> Result<Vec<String>> {
    let path = image_dir.join(DESCRIPTORS_FILE);
    let data = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {}: is --image-path a checkpoint made by nook or runc?",
            path.display()
        )
    })?;
    serde_json::from_slice(&data).with_context(|| format!("corrupt {}", path.display()))
}

/// `--inherit-fd fd[N]:pipe:[..]` for each saved stdio that was a pipe: our
/// own fd N (inherited by criu) takes its place.
pub fn inherit_fd_args(targets: &[String]) -> Vec<OsString> {
    let mut args = Vec::new();
    for (fd, target) in targets.iter().enumerate() {
        if target.starts_with("pipe:") {
            args.push(OsString::from("--inherit-fd"));
            args.push(OsString::from(format!("fd[{fd}]:{target}")));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pipes_are_inherited() {
        let t = vec![
            "/dev/null".to_string(),
            "pipe:[42]".to_string(),
            "pipe:[43]".to_string(),
        ];
        let args: Vec<String> = inherit_fd_args(&t)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--inherit-fd",
                "fd[1]:pipe:[42]",
                "--inherit-fd",
                "fd[2]:pipe:[43]"
            ]
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        save(std::process::id() as i32, tmp.path()).unwrap();
        let t = load(tmp.path()).unwrap();
        assert_eq!(t.len(), 3);
        let err = load(Path::new("/nonexistent")).unwrap_err().to_string();
        assert!(err.contains("descriptors.json"), "{err}");
    }
}
