//! What v1 blkio and v2 io share about `linux.resources.blockIO`: which
//! fields are set, and the "MAJ:MIN" device of an entry.

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

fn list(l: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
    l.as_deref().unwrap_or(&[])
}

/// The throttle lists with their spec field names.
pub fn throttle_lists(block_io: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice]); 4] {
    [
        (
            "throttleReadBpsDevice",
            list(block_io.throttle_read_bps_device()),
        ),
        (
            "throttleWriteBpsDevice",
            list(block_io.throttle_write_bps_device()),
        ),
        (
            "throttleReadIOPSDevice",
            list(block_io.throttle_read_iops_device()),
        ),
        (
            "throttleWriteIOPSDevice",
            list(block_io.throttle_write_iops_device()),
        ),
    ]
}

/// A weight as runc reads it: 0 means "not set" (Docker sends
/// `"weight": 0` for every container that did not ask for one).
pub fn set_weight(weight: Option<u16>) -> Option<u16> {
    weight.filter(|w| *w != 0)
}

/// The first `blockIO` field that would write something, for messages
/// (e.g. the controller is missing). None when nothing is set.
pub fn first_set_field(block_io: &LinuxBlockIo) -> Option<&'static str> {
    if set_weight(block_io.weight()).is_some() {
        return Some("weight");
    }
    if set_weight(block_io.leaf_weight()).is_some() {
        return Some("leafWeight");
    }
    if block_io
        .weight_device()
        .as_ref()
        .is_some_and(|l| !l.is_empty())
    {
        return Some("weightDevice");
    }
    throttle_lists(block_io)
        .into_iter()
        .find(|(_, list)| !list.is_empty())
        .map(|(name, _)| name)
}

/// "MAJ:MIN" for a device entry; negative numbers are not devices.
pub fn device(field: &str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 {
        bail!("{field}: {major}:{minor} is not a device number");
    }
    Ok(format!("{major}:{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_io(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn first_set_field_names_the_spec_field() {
        assert_eq!(first_set_field(&block_io("{}")), None);
        assert_eq!(first_set_field(&block_io(r#"{"weightDevice": []}"#)), None);
        assert_eq!(
            first_set_field(&block_io(r#"{"weight": 10}"#)),
            Some("weight")
        );
        assert_eq!(
            first_set_field(&block_io(
                r#"{"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}]}"#
            )),
            Some("throttleWriteIOPSDevice")
        );
    }

    #[test]
    fn device_numbers() {
        assert_eq!(device("f", 254, 0).unwrap(), "254:0");
        assert!(device("f", -1, 0)
            .unwrap_err()
            .to_string()
            .starts_with("f:"));
    }
}
