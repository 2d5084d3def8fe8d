//! `linux.resources.blockIO` on the v1 blkio controller.
//!
//! Weights live in `blkio.weight*` (the CFQ scheduler, gone since Linux 5.0)
//! or, when those are missing, `blkio.bfq.weight*` (the BFQ scheduler), as
//! runc picks them. Leaf weights only ever existed with CFQ: on newer kernels
//! a leaf weight is an error naming the missing file. A BFQ weight only has
//! an effect on devices that use the bfq scheduler; a per-device BFQ weight
//! for a device that does not is refused by the kernel (EOPNOTSUPP).
//! Throttles (`blkio.throttle.*`) work whatever the scheduler.

use crate::cgroups::block_io::{device, set_weight, throttle_lists};
use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxBlockIo;
use std::path::Path;

/// The weight files of this kernel: CFQ's if present, else BFQ's.
struct WeightFiles {
    weight: &'static str,
    weight_device: &'static str,
}

fn weight_files(dir: &Path) -> Option<WeightFiles> {
    if dir.join("blkio.weight").exists() {
        return Some(WeightFiles {
            weight: "blkio.weight",
            weight_device: "blkio.weight_device",
        });
    }
    if dir.join("blkio.bfq.weight").exists() {
        return Some(WeightFiles {
            weight: "blkio.bfq.weight",
            weight_device: "blkio.bfq.weight_device",
        });
    }
    None
}

fn no_weight_files(field: &str, dir: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{field}: neither blkio.weight nor blkio.bfq.weight exists in {} (this kernel has no CFQ or BFQ I/O scheduler)",
        dir.display()
    )
}

/// Apply every `linux.resources.blockIO` field to the blkio cgroup `dir`.
pub fn apply_block_io(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    apply_block_io_weight(dir, set_weight(block_io.weight()))?;
    apply_block_io_leaf_weight(dir, set_weight(block_io.leaf_weight()))?;
    apply_block_io_weight_device(dir, block_io)?;
    apply_block_io_throttles(dir, block_io)
}

/// `linux.resources.blockIO.weight` (blkio.weight or blkio.bfq.weight).
fn apply_block_io_weight(dir: &Path, weight: Option<u16>) -> Result<()> {
    let Some(weight) = weight else {
        return Ok(());
    };
    let field = "linux.resources.blockIO.weight";
    let files = weight_files(dir).ok_or_else(|| no_weight_files(field, dir))?;
    fs::write(dir, files.weight, &weight.to_string()).context(field)
}

/// `linux.resources.blockIO.leafWeight` (blkio.leaf_weight, CFQ only).
fn apply_block_io_leaf_weight(dir: &Path, leaf_weight: Option<u16>) -> Result<()> {
    let Some(leaf_weight) = leaf_weight else {
        return Ok(());
    };
    write_leaf(
        dir,
        "blkio.leaf_weight",
        &leaf_weight.to_string(),
        "linux.resources.blockIO.leafWeight",
    )
}

fn write_leaf(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    if !dir.join(file).exists() {
        bail!(
            "{field}: {} does not exist (leaf weights need the CFQ I/O scheduler, removed in Linux 5.0)",
            dir.join(file).display()
        );
    }
    fs::write(dir, file, value).context(field.to_string())
}

/// `linux.resources.blockIO.weightDevice[]`: `weight` to
/// blkio.(bfq.)weight_device and `leafWeight` to blkio.leaf_weight_device,
/// one "MAJ:MIN WEIGHT" line per write.
fn apply_block_io_weight_device(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    let entries = block_io.weight_device().as_deref().unwrap_or(&[]);
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        let dev = device(&field, entry.major(), entry.minor())?;
        if let Some(weight) = set_weight(entry.weight()) {
            let field = format!("{field}.weight");
            let files = weight_files(dir).ok_or_else(|| no_weight_files(&field, dir))?;
            write_weight_device(dir, files.weight_device, &dev, weight, &field)?;
        }
        if let Some(leaf_weight) = set_weight(entry.leaf_weight()) {
            write_leaf(
                dir,
                "blkio.leaf_weight_device",
                &format!("{dev} {leaf_weight}"),
                &format!("{field}.leafWeight"),
            )?;
        }
    }
    Ok(())
}

/// One "MAJ:MIN WEIGHT" write. BFQ refuses a device that uses another
/// scheduler with EOPNOTSUPP: say so rather than "operation not supported".
fn write_weight_device(dir: &Path, file: &str, dev: &str, weight: u16, field: &str) -> Result<()> {
    let line = format!("{dev} {weight}");
    match fs::write_raw(dir, file, &line) {
        Ok(()) => Ok(()),
        Err(e) if fs::is_errno(&e, nix::errno::Errno::EOPNOTSUPP) => bail!(
            "{field}: device {dev} does not use the bfq I/O scheduler (see /sys/dev/block/{dev}/queue/scheduler)"
        ),
        Err(e) => Err(e).with_context(|| {
            format!("{field}: writing {line:?} to {}", dir.join(file).display())
        }),
    }
}

/// `linux.resources.blockIO.throttleReadBpsDevice`, `throttleWriteBpsDevice`,
/// `throttleReadIOPSDevice`, `throttleWriteIOPSDevice`
/// (blkio.throttle.{read,write}_{bps,iops}_device, "MAJ:MIN RATE"; a rate of
/// 0 removes the device's limit).
fn apply_block_io_throttles(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    for (name, list) in throttle_lists(block_io) {
        let file = throttle_file(name);
        for (i, entry) in list.iter().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            let dev = device(&field, entry.major(), entry.minor())?;
            fs::write(dir, file, &format!("{dev} {}", entry.rate())).context(field)?;
        }
    }
    Ok(())
}

fn throttle_file(spec_name: &str) -> &'static str {
    match spec_name {
        "throttleReadBpsDevice" => "blkio.throttle.read_bps_device",
        "throttleWriteBpsDevice" => "blkio.throttle.write_bps_device",
        "throttleReadIOPSDevice" => "blkio.throttle.read_iops_device",
        _ => "blkio.throttle.write_iops_device",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THROTTLE_FILES: [&str; 4] = [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];

    fn blkio_dir(extra: &[&str]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for f in THROTTLE_FILES.iter().chain(extra) {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        tmp
    }

    fn block_io(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    fn content(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn throttles_go_to_their_files() {
        let tmp = blkio_dir(&[]);
        apply_block_io(
            tmp.path(),
            &block_io(
                r#"{"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 2097152}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 400}]}"#,
            ),
        )
        .unwrap();
        assert_eq!(content(tmp.path(), THROTTLE_FILES[0]), "254:0 1048576");
        assert_eq!(content(tmp.path(), THROTTLE_FILES[1]), "254:0 2097152");
        assert_eq!(content(tmp.path(), THROTTLE_FILES[2]), "8:16 300");
        assert_eq!(content(tmp.path(), THROTTLE_FILES[3]), "8:0 400");
    }

    #[test]
    fn weight_prefers_cfq_files_and_falls_back_to_bfq() {
        let cfq = blkio_dir(&["blkio.weight", "blkio.weight_device", "blkio.bfq.weight"]);
        let json = r#"{"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}"#;
        apply_block_io(cfq.path(), &block_io(json)).unwrap();
        assert_eq!(content(cfq.path(), "blkio.weight"), "300");
        assert_eq!(content(cfq.path(), "blkio.weight_device"), "8:0 500");
        assert_eq!(content(cfq.path(), "blkio.bfq.weight"), "");

        let bfq = blkio_dir(&["blkio.bfq.weight", "blkio.bfq.weight_device"]);
        apply_block_io(bfq.path(), &block_io(json)).unwrap();
        assert_eq!(content(bfq.path(), "blkio.bfq.weight"), "300");
        assert_eq!(content(bfq.path(), "blkio.bfq.weight_device"), "8:0 500");
    }

    #[test]
    fn leaf_weights_need_cfq_files() {
        let cfq = blkio_dir(&["blkio.leaf_weight", "blkio.leaf_weight_device"]);
        apply_block_io(
            cfq.path(),
            &block_io(r#"{"leafWeight": 20, "weightDevice": [{"major": 8, "minor": 0, "leafWeight": 30}]}"#),
        )
        .unwrap();
        assert_eq!(content(cfq.path(), "blkio.leaf_weight"), "20");
        assert_eq!(content(cfq.path(), "blkio.leaf_weight_device"), "8:0 30");

        let bfq = blkio_dir(&["blkio.bfq.weight"]);
        let err = apply_block_io(bfq.path(), &block_io(r#"{"leafWeight": 20}"#))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linux.resources.blockIO.leafWeight") && err.contains("CFQ"),
            "{err}"
        );
        let err = apply_block_io(
            bfq.path(),
            &block_io(r#"{"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 30}]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("weightDevice[0].leafWeight"), "{err}");
    }

    #[test]
    fn weight_without_any_weight_file_names_the_field() {
        let none = blkio_dir(&[]);
        for (json, field) in [
            (r#"{"weight": 300}"#, "linux.resources.blockIO.weight:"),
            (
                r#"{"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}"#,
                "linux.resources.blockIO.weightDevice[0].weight:",
            ),
        ] {
            let err = apply_block_io(none.path(), &block_io(json))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(field) && err.contains("blkio.bfq.weight"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_device_numbers_name_the_entry() {
        let tmp = blkio_dir(&[]);
        let err = apply_block_io(
            tmp.path(),
            &block_io(r#"{"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}, {"major": -1, "minor": 0, "rate": 1}]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("throttleReadBpsDevice[1]"), "{err}");
    }

    #[test]
    fn weight_zero_means_unset_as_docker_sends_it() {
        // No weight file at all: a set weight would be an error; 0 writes nothing.
        let dir = tempfile::tempdir().unwrap();
        let bio: LinuxBlockIo = serde_json::from_str(r#"{"weight": 0, "leafWeight": 0}"#).unwrap();
        apply_block_io(dir.path(), &bio).unwrap();
        assert_eq!(crate::cgroups::block_io::first_set_field(&bio), None);
    }
}
