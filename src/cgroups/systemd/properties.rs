//! Unit properties for `linux.resources`, with runc's conversions, for
//! systemd on cgroup v2 (MemoryMax, CPUWeight, ...) or v1 (MemoryLimit,
//! CPUShares, ...). Fields systemd cannot express are written to the cgroup
//! files by the cgroupfs driver afterwards (see `super::SystemdManager::set`).

use super::devices::device_properties;
use crate::cgroups::cpu_shares_to_weight;
use crate::cgroups::v2::swap_for_v2;
use crate::dbus::Value;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxCpu, LinuxResources};

pub type Property = (String, Value);

fn prop(name: &str, value: Value) -> Property {
    (name.to_string(), value)
}

/// The kernel's default CFS period, used when a quota is given without one.
const DEFAULT_PERIOD_US: u64 = 100_000;

/// A spec number where -1 means "no limit": systemd's "infinity" is u64::MAX.
fn limit_value(n: i64) -> u64 {
    if n < 0 {
        u64::MAX
    } else {
        n as u64
    }
}

/// Every property for `resources`, for systemd managing cgroup v2
/// (`unified`) or v1. `proc_devices` is the text of /proc/devices.
pub fn resource_properties(
    resources: &LinuxResources,
    unified: bool,
    proc_devices: &str,
) -> Result<Vec<Property>> {
    let rules = resources.devices().as_deref().unwrap_or(&[]);
    let mut props = device_properties(rules, proc_devices)?;
    if let Some(memory) = resources.memory() {
        let limit = memory.limit().unwrap_or(0);
        if unified {
            memory_v2(&mut props, limit, memory.swap().unwrap_or(0))?;
            // `linux.resources.memory.reservation` → MemoryLow (memory.low).
            if let Some(low) = memory.reservation().filter(|&r| r != 0) {
                props.push(prop("MemoryLow", Value::Uint64(limit_value(low))));
            }
        } else if limit != 0 {
            // `linux.resources.memory.limit` → MemoryLimit (memory.limit_in_bytes).
            props.push(prop("MemoryLimit", Value::Uint64(limit_value(limit))));
        }
    }
    if let Some(cpu) = resources.cpu() {
        cpu_shares(&mut props, cpu, unified);
        cpu_quota(
            &mut props,
            cpu.quota().unwrap_or(0),
            cpu.period().unwrap_or(0),
        );
        cpuset(&mut props, cpu)?;
    }
    if let Some(pids) = resources.pids() {
        // `linux.resources.pids.limit` → TasksMax (pids.max); 0 is "not set".
        let limit = pids.limit();
        if limit > 0 || limit == -1 {
            props.push(prop("TasksMax", Value::Uint64(limit_value(limit))));
        }
    }
    if let Some(weight) = resources
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|&w| w != 0)
    {
        props.push(block_io_weight(weight, unified)?);
    }
    Ok(props)
}

/// `linux.resources.memory.limit` → MemoryMax and `.swap` → MemorySwapMax
/// (swap only on v2: the spec's memory+swap minus the limit).
fn memory_v2(props: &mut Vec<Property>, limit: i64, swap: i64) -> Result<()> {
    if limit != 0 {
        props.push(prop("MemoryMax", Value::Uint64(limit_value(limit))));
    }
    let swap_only = swap_for_v2(swap, limit)?;
    if swap_only != 0 {
        props.push(prop("MemorySwapMax", Value::Uint64(limit_value(swap_only))));
    } else if swap > 0 {
        // swap == limit: no swap at all.
        props.push(prop("MemorySwapMax", Value::Uint64(0)));
    }
    Ok(())
}

/// `linux.resources.cpu.shares` → CPUWeight (v2, converted as the cgroupfs
/// driver does) or CPUShares (v1).
fn cpu_shares(props: &mut Vec<Property>, cpu: &LinuxCpu, unified: bool) {
    let Some(shares) = cpu.shares().filter(|&s| s != 0) else {
        return;
    };
    if unified {
        props.push(prop(
            "CPUWeight",
            Value::Uint64(cpu_shares_to_weight(shares)),
        ));
    } else {
        props.push(prop("CPUShares", Value::Uint64(shares)));
    }
}

/// `linux.resources.cpu.quota` and `.period` → CPUQuotaPerSecUSec and
/// CPUQuotaPeriodUSec. systemd keeps the quota as a whole percentage of a
/// CPU, so, like runc, round the per-second quota up to a multiple of 10 ms
/// (the cgroupfs driver then writes the exact value to the file).
fn cpu_quota(props: &mut Vec<Property>, quota: i64, period: u64) {
    if period != 0 {
        props.push(prop("CPUQuotaPeriodUSec", Value::Uint64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = u64::MAX; // no quota ("infinity")
    if quota > 0 {
        let period = if period == 0 {
            DEFAULT_PERIOD_US
        } else {
            period
        };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        if per_sec % 10_000 != 0 {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    props.push(prop("CPUQuotaPerSecUSec", Value::Uint64(per_sec)));
}

/// `linux.resources.cpu.cpus` → AllowedCPUs and `.mems` → AllowedMemoryNodes
/// (bit masks, needs systemd >= 244).
fn cpuset(props: &mut Vec<Property>, cpu: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
        let mask = list_to_mask(cpus).context("linux.resources.cpu.cpus")?;
        props.push(prop("AllowedCPUs", mask));
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
        let mask = list_to_mask(mems).context("linux.resources.cpu.mems")?;
        props.push(prop("AllowedMemoryNodes", mask));
    }
    Ok(())
}

/// The largest CPU or node number accepted (systemd's own limit is 8192 CPUs).
const MAX_CPU: usize = 8191;

/// A list like "0-2,7" as the byte array systemd wants: bit `n % 8` of
/// byte `n / 8` set for each `n` in the list.
pub fn list_to_mask(list: &str) -> Result<Value> {
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let parse = |s: &str| -> Result<usize> {
            let n: usize = s
                .trim()
                .parse()
                .with_context(|| format!("{list:?}: {s:?} is not a number"))?;
            if n > MAX_CPU {
                bail!("{list:?}: {n} is larger than {MAX_CPU}");
            }
            Ok(n)
        };
        let (first, last) = (parse(first)?, parse(last)?);
        if first > last {
            bail!("{list:?}: range {part:?} is backwards");
        }
        for n in first..=last {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(Value::array(
        "y",
        bytes.into_iter().map(Value::Byte).collect(),
    ))
}

/// `linux.resources.blockIO.weight` (10..=1000) → BlockIOWeight (v1), or
/// IOWeight (v2, 1..=10000) with runc's linear conversion.
fn block_io_weight(weight: u16, unified: bool) -> Result<Property> {
    if !(10..=1000).contains(&weight) {
        bail!("linux.resources.blockIO.weight: {weight} is not in 10..=1000");
    }
    let weight = u64::from(weight);
    Ok(if unified {
        prop("IOWeight", Value::Uint64(1 + (weight - 10) * 9999 / 990))
    } else {
        prop("BlockIOWeight", Value::Uint64(weight))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// The properties, without the device ones (tested in devices.rs).
    fn props(json: &str, unified: bool) -> Vec<Property> {
        resource_properties(&resources(json), unified, "")
            .unwrap()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("Device"))
            .collect()
    }

    fn u(name: &str, n: u64) -> Property {
        prop(name, Value::Uint64(n))
    }

    #[test]
    fn v2_limits_as_unit_properties() {
        let got = props(
            r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 1048576},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                "pids": {"limit": 20},
                "blockIO": {"weight": 500}}"#,
            true,
        );
        assert_eq!(
            got,
            vec![
                u("MemoryMax", 67108864),
                u("MemorySwapMax", 67108864),
                u("MemoryLow", 1048576),
                u("CPUWeight", 20),
                u("CPUQuotaPeriodUSec", 100000),
                u("CPUQuotaPerSecUSec", 500000),
                u("TasksMax", 20),
                u("IOWeight", 1 + 490 * 9999 / 990),
            ]
        );
    }

    #[test]
    fn v1_limits_as_unit_properties() {
        let got = props(
            r#"{"memory": {"limit": 1000}, "cpu": {"shares": 512}, "pids": {"limit": -1},
                "blockIO": {"weight": 10}}"#,
            false,
        );
        assert_eq!(
            got,
            vec![
                u("MemoryLimit", 1000),
                u("CPUShares", 512),
                u("TasksMax", u64::MAX),
                u("BlockIOWeight", 10),
            ]
        );
    }

    #[test]
    fn unlimited_and_equal_swap() {
        let got = props(r#"{"memory": {"limit": -1}, "cpu": {"quota": -1}}"#, true);
        assert_eq!(
            got,
            vec![
                u("MemoryMax", u64::MAX),
                u("MemorySwapMax", u64::MAX),
                u("CPUQuotaPerSecUSec", u64::MAX),
            ]
        );
        let got = props(r#"{"memory": {"limit": 100, "swap": 100}}"#, true);
        assert_eq!(got, vec![u("MemoryMax", 100), u("MemorySwapMax", 0)]);
        assert!(props(r#"{"pids": {"limit": 0}}"#, true).is_empty());
    }

    #[test]
    fn quota_rounds_up_to_whole_percent_and_defaults_the_period() {
        // 12345/100000 = 123450 us per second → 130000.
        assert_eq!(
            props(r#"{"cpu": {"quota": 12345, "period": 100000}}"#, true)[1],
            u("CPUQuotaPerSecUSec", 130000)
        );
        // No period: the kernel's 100 ms.
        assert_eq!(
            props(r#"{"cpu": {"quota": 20000}}"#, true),
            vec![u("CPUQuotaPerSecUSec", 200000)]
        );
    }

    #[test]
    fn cpu_lists_become_bit_masks() {
        let bytes = |v: Value| match v {
            Value::Array(_, items) => items
                .into_iter()
                .map(|b| match b {
                    Value::Byte(b) => b,
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<u8>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(bytes(list_to_mask("0").unwrap()), vec![0b1]);
        assert_eq!(bytes(list_to_mask("0-2,7").unwrap()), vec![0b1000_0111]);
        assert_eq!(bytes(list_to_mask("9").unwrap()), vec![0, 0b10]);
        for bad in ["", "a", "3-1", "99999"] {
            assert!(list_to_mask(bad).is_err(), "{bad}");
        }
        let got = props(r#"{"cpu": {"cpus": "1", "mems": "0"}}"#, true);
        assert_eq!(got[0].0, "AllowedCPUs");
        assert_eq!(got[1].0, "AllowedMemoryNodes");
    }

    #[test]
    fn bad_values_name_the_field() {
        for (json, field) in [
            (r#"{"memory": {"limit": 100, "swap": 10}}"#, "memory.swap"),
            (r#"{"cpu": {"cpus": "x"}}"#, "linux.resources.cpu.cpus"),
            (r#"{"blockIO": {"weight": 5}}"#, "blockIO.weight"),
        ] {
            let err = resource_properties(&resources(json), true, "").unwrap_err();
            assert!(format!("{err:#}").contains(field), "{json}: {err:#}");
        }
    }
}
