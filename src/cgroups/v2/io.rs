//! `linux.resources.blockIO` on the cgroup v2 io controller.
//!
//! - `weight`: io.bfq.weight (the BFQ scheduler, same 1..1000 scale as v1)
//!   when the file exists, else io.weight converted from the v1 scale
//!   (10..1000) to v2's (1..10000) with the linear map runc and crun use.
//! - `weightDevice[].weight`: "MAJ:MIN W" to the same file as `weight`
//!   (converted for io.weight). runc 1.1 writes it only to io.bfq.weight and
//!   ignores it otherwise; we convert it like `weight` instead of dropping it.
//! - `leafWeight`, `weightDevice[].leafWeight`: v2 has no leaf weights; runc
//!   ignores them silently, we ignore them with a warning.
//! - throttles: io.max, one "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=.." line
//!   per device. A rate of 0 means "no limit" on v1; io.max refuses 0
//!   (ERANGE), so 0 is written as "max" (runc 1.1 writes 0 and fails).

use crate::cgroups::block_io::{device, set_weight, throttle_lists};
use crate::cgroups::fs;
use crate::logging;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxBlockIo;
use std::path::Path;

/// Convert a v1 blkio weight (10..=1000) to a v2 io.weight (1..=10000).
pub fn blkio_weight_to_io_weight(weight: u16) -> Result<u64> {
    if !(10..=1000).contains(&weight) {
        bail!("{weight} is out of range (10-1000)");
    }
    Ok(1 + (u64::from(weight) - 10) * 9999 / 990)
}

/// Where weights go on this kernel, and how a v1 weight is written there.
enum WeightFile {
    /// io.bfq.weight: the v1 value as is.
    Bfq,
    /// io.weight: converted.
    Io,
}

impl WeightFile {
    fn find(dir: &Path, field: &str) -> Result<WeightFile> {
        if dir.join("io.bfq.weight").exists() {
            return Ok(WeightFile::Bfq);
        }
        if dir.join("io.weight").exists() {
            return Ok(WeightFile::Io);
        }
        bail!(
            "{field}: neither io.bfq.weight nor io.weight exists in {} (io controller not enabled, or no weight-based I/O control in this kernel)",
            dir.display()
        )
    }

    fn name(&self) -> &'static str {
        match self {
            WeightFile::Bfq => "io.bfq.weight",
            WeightFile::Io => "io.weight",
        }
    }

    fn value(&self, weight: u16, field: &str) -> Result<String> {
        match self {
            WeightFile::Bfq => Ok(weight.to_string()),
            WeightFile::Io => blkio_weight_to_io_weight(weight)
                .map(|w| w.to_string())
                .with_context(|| format!("{field}: converting to io.weight")),
        }
    }
}

/// Apply every `linux.resources.blockIO` field to the v2 cgroup `dir`.
pub fn apply_block_io(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    apply_block_io_weight(dir, set_weight(block_io.weight()))?;
    warn_block_io_leaf_weight(block_io);
    apply_block_io_weight_device(dir, block_io)?;
    apply_block_io_throttles(dir, block_io)
}

/// `linux.resources.blockIO.weight` (io.bfq.weight, or io.weight converted).
fn apply_block_io_weight(dir: &Path, weight: Option<u16>) -> Result<()> {
    let Some(weight) = weight else {
        return Ok(());
    };
    let field = "linux.resources.blockIO.weight";
    let file = WeightFile::find(dir, field)?;
    let value = file.value(weight, field)?;
    fs::write(dir, file.name(), &value).context(field)
}

/// `linux.resources.blockIO.leafWeight` and `weightDevice[].leafWeight`:
/// no such thing on v2 (see the module doc).
fn warn_block_io_leaf_weight(block_io: &LinuxBlockIo) {
    let per_device = block_io
        .weight_device()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|d| set_weight(d.leaf_weight()).is_some());
    if set_weight(block_io.leaf_weight()).is_some() || per_device {
        logging::warn("linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights; ignored");
    }
}

/// `linux.resources.blockIO.weightDevice[].weight` ("MAJ:MIN W" to the weight file).
fn apply_block_io_weight_device(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    let entries = block_io.weight_device().as_deref().unwrap_or(&[]);
    for (i, entry) in entries.iter().enumerate() {
        let Some(weight) = set_weight(entry.weight()) else {
            continue;
        };
        let field = format!("linux.resources.blockIO.weightDevice[{i}].weight");
        let dev = device(&field, entry.major(), entry.minor())?;
        let file = WeightFile::find(dir, &field)?;
        let value = file.value(weight, &field)?;
        fs::write(dir, file.name(), &format!("{dev} {value}")).context(field)?;
    }
    Ok(())
}

/// The io.max lines for the four throttle lists: one per device, in the
/// order devices first appear, each key in spec order.
pub fn io_max_lines(block_io: &LinuxBlockIo) -> Result<Vec<String>> {
    let mut lines: Vec<(String, String)> = Vec::new();
    for ((name, list), key) in throttle_lists(block_io)
        .into_iter()
        .zip(["rbps", "wbps", "riops", "wiops"])
    {
        for (i, entry) in list.iter().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            let dev = device(&field, entry.major(), entry.minor())?;
            let rate = match entry.rate() {
                0 => "max".to_string(),
                n => n.to_string(),
            };
            let setting = format!(" {key}={rate}");
            match lines.iter_mut().find(|(d, _)| *d == dev) {
                Some((_, settings)) => settings.push_str(&setting),
                None => lines.push((dev, setting)),
            }
        }
    }
    Ok(lines.into_iter().map(|(dev, s)| dev + &s).collect())
}

/// `linux.resources.blockIO.throttleReadBpsDevice`, `throttleWriteBpsDevice`,
/// `throttleReadIOPSDevice`, `throttleWriteIOPSDevice` (io.max).
fn apply_block_io_throttles(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    for line in io_max_lines(block_io)? {
        fs::write(dir, "io.max", &line)
            .with_context(|| format!("linux.resources.blockIO throttles ({line:?})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_io(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    fn content(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn weight_conversion_matches_runc_and_crun() {
        assert_eq!(blkio_weight_to_io_weight(10).unwrap(), 1);
        assert_eq!(blkio_weight_to_io_weight(500).unwrap(), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000).unwrap(), 10000);
        assert!(blkio_weight_to_io_weight(9).is_err());
        assert!(blkio_weight_to_io_weight(1001).is_err());
    }

    #[test]
    fn io_max_has_one_line_per_device_and_zero_is_max() {
        let lines = io_max_lines(&block_io(
            r#"{"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                "throttleReadIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 200}]}"#,
        ))
        .unwrap();
        assert_eq!(
            lines,
            ["254:0 rbps=1048576 riops=100 wiops=200", "8:0 wbps=max"]
        );
    }

    #[test]
    fn weight_goes_to_bfq_as_is_or_to_io_weight_converted() {
        let json = r#"{"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}]}"#;
        let bfq = tempfile::tempdir().unwrap();
        std::fs::write(bfq.path().join("io.bfq.weight"), "").unwrap();
        std::fs::write(bfq.path().join("io.weight"), "").unwrap();
        apply_block_io_weight(bfq.path(), Some(500)).unwrap();
        assert_eq!(content(bfq.path(), "io.bfq.weight"), "500");
        apply_block_io_weight_device(bfq.path(), &block_io(json)).unwrap();
        assert_eq!(content(bfq.path(), "io.bfq.weight"), "8:0 1000");
        assert_eq!(content(bfq.path(), "io.weight"), "");

        let io = tempfile::tempdir().unwrap();
        std::fs::write(io.path().join("io.weight"), "").unwrap();
        apply_block_io_weight(io.path(), Some(500)).unwrap();
        assert_eq!(content(io.path(), "io.weight"), "4950");
        apply_block_io_weight_device(io.path(), &block_io(json)).unwrap();
        assert_eq!(content(io.path(), "io.weight"), "8:0 10000");
    }

    #[test]
    fn errors_name_the_field() {
        let empty = tempfile::tempdir().unwrap();
        let err = apply_block_io(empty.path(), &block_io(r#"{"weight": 500}"#))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("linux.resources.blockIO.weight:"), "{err}");
        std::fs::write(empty.path().join("io.weight"), "").unwrap();
        let err = format!(
            "{:#}",
            apply_block_io(empty.path(), &block_io(r#"{"weight": 5}"#)).unwrap_err()
        );
        assert!(
            err.contains("linux.resources.blockIO.weight") && err.contains("10-1000"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            apply_block_io(
                empty.path(),
                &block_io(r#"{"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}"#)
            )
            .unwrap_err()
        );
        assert!(
            err.contains("linux.resources.blockIO") && err.contains("io.max"),
            "{err}"
        );
    }

    #[test]
    fn leaf_weights_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        apply_block_io(
            tmp.path(),
            &block_io(r#"{"leafWeight": 20, "weightDevice": [{"major": 8, "minor": 0, "leafWeight": 30}]}"#),
        )
        .unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
