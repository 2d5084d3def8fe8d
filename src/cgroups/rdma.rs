//! `linux.resources.rdma` (rdma.max). Shared by v1 and v2: same file, same
//! line format ("mlx4_0 hca_handle=2 hca_object=2000").

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxRdma;
use std::collections::HashMap;
use std::path::Path;

/// Whether any device has a limit to write.
pub fn rdma_is_set(rdma: &HashMap<String, LinuxRdma>) -> bool {
    rdma.values()
        .any(|r| r.hca_handles().is_some() || r.hca_objects().is_some())
}

/// The rdma.max line for one device, or None when it sets no limit.
/// A limit left out keeps the kernel's current value for it.
pub fn rdma_max_line(device: &str, rdma: &LinuxRdma) -> Result<Option<String>> {
    if device.is_empty() || device.contains(char::is_whitespace) {
        bail!("linux.resources.rdma[{device:?}]: not an RDMA device name");
    }
    let mut line = device.to_string();
    if let Some(handles) = rdma.hca_handles() {
        line.push_str(&format!(" hca_handle={handles}"));
    }
    if let Some(objects) = rdma.hca_objects() {
        line.push_str(&format!(" hca_object={objects}"));
    }
    Ok((line != device).then_some(line))
}

/// `linux.resources.rdma` (rdma.max): one write per device, in name order so
/// an error is reproducible.
pub fn apply_rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devices: Vec<&String> = rdma.keys().collect();
    devices.sort();
    for device in devices {
        let Some(line) = rdma_max_line(device, &rdma[device])? else {
            continue;
        };
        fs::write(dir, "rdma.max", &line)
            .with_context(|| format!("linux.resources.rdma[{device:?}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdma(json: &str) -> HashMap<String, LinuxRdma> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn lines_hold_only_the_given_limits() {
        let r = rdma(
            r#"{"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}, "mlx5_1": {"hcaObjects": 7}, "x": {}}"#,
        );
        assert_eq!(
            rdma_max_line("mlx4_0", &r["mlx4_0"]).unwrap().as_deref(),
            Some("mlx4_0 hca_handle=2 hca_object=2000")
        );
        assert_eq!(
            rdma_max_line("mlx5_1", &r["mlx5_1"]).unwrap().as_deref(),
            Some("mlx5_1 hca_object=7")
        );
        assert_eq!(rdma_max_line("x", &r["x"]).unwrap(), None);
        assert!(rdma_is_set(&r));
        assert!(!rdma_is_set(&rdma(r#"{"x": {}}"#)));
    }

    #[test]
    fn writes_rdma_max_and_rejects_bad_names() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("rdma.max"), "").unwrap();
        apply_rdma(
            tmp.path(),
            &rdma(r#"{"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}"#),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("rdma.max")).unwrap(),
            "mlx4_0 hca_handle=2 hca_object=2000"
        );
        let err = apply_rdma(tmp.path(), &rdma(r#"{"a b": {"hcaHandles": 1}}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux.resources.rdma[\"a b\"]"), "{err}");
        let missing = tempfile::tempdir().unwrap();
        let err = format!(
            "{:#}",
            apply_rdma(missing.path(), &rdma(r#"{"mlx4_0": {"hcaHandles": 1}}"#)).unwrap_err()
        );
        assert!(
            err.contains("linux.resources.rdma") && err.contains("rdma.max"),
            "{err}"
        );
    }
}
