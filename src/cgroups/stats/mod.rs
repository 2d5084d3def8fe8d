//! A container's resource usage, read from its cgroup for `nook events`.
//!
//! The types serialize to the JSON layout runc 1.1 prints in
//! `{"type":"stats","data":{...}}` (its `types.Stats`): the same field names,
//! and the same rule for which zero values are left out (Go's `omitempty` on
//! numbers and lists; nested objects are always present).
//! The readers for each cgroup version are in `v1.rs` and `v2.rs`; the text
//! formats of the cgroup files are parsed in `parse.rs`.

mod parse;
pub mod v1;
pub mod v2;

use serde::Serialize;
use std::collections::BTreeMap;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Per huge page size ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT is not supported: always `{}`, as runc prints it without RDT.
    pub intel_rdt: IntelRdt,
    /// runc 1.1 never fills this in and prints `null`; so do we.
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// On v1, memory plus swap (memsw); v2 values are reported the same way.
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Every line of memory.stat.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    /// How many times the OOM killer killed a process in the cgroup (for the
    /// `oom` events of `nook events`; not part of runc's stats JSON).
    #[serde(skip)]
    pub oom_kills: u64,
}

/// Bytes; `limit` is the kernel's "unlimited" value when there is none.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 (left out) when there is no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// "Read", "Write", "Sync", "Async", "Discard", "Total".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct IntelRdt {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stats_have_runc_layout() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
                "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                    "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                    "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
                "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                    "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {},
                "blkio": {},
                "hugetlb": {},
                "intel_rdt": {},
                "network_interfaces": null
            })
        );
    }

    #[test]
    fn non_zero_values_use_runc_field_names() {
        let mut s = Stats::default();
        s.cpu.throttling.throttled_periods = 2;
        s.memory.kernel_tcp.usage = 5;
        s.blkio.io_service_bytes_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 10,
        });
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["cpu"]["throttling"]["throttledPeriods"], 2);
        assert_eq!(json["memory"]["kernelTCP"]["usage"], 5);
        assert_eq!(
            json["blkio"]["ioServiceBytesRecursive"][0],
            serde_json::json!({"major": 8, "op": "Read", "value": 10})
        );
    }
}
