//! `update`'s resource flags and `--resources` JSON, turned into the values
//! that change, and merged into the container's stored `linux.resources`.
//!
//! As runc 1.1: a value of 0 (or an empty cpuset) means "unchanged", and
//! from the JSON only the fields runc's `update` takes are merged (memory
//! limit/reservation/swap/kernel/kernelTCP, the cpu fields, blockIO.weight,
//! pids.limit, unified), plus memory.checkBeforeUpdate.

use super::size::parse_size;
use anyhow::{anyhow, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

/// The raw flag values, as given on the command line (None = not given).
#[derive(Debug, Clone, Default)]
pub struct ResourceFlags {
    pub blkio_weight: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_share: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<String>,
}

fn unsigned(flag: &str, value: &Option<String>) -> Result<Option<u64>> {
    value
        .as_deref()
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| anyhow!("invalid value for {flag}: {v:?} is not an unsigned integer"))
        })
        .transpose()
}

fn signed(flag: &str, value: &Option<String>) -> Result<Option<i64>> {
    value
        .as_deref()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| anyhow!("invalid value for {flag}: {v:?} is not an integer"))
        })
        .transpose()
}

fn size(flag: &str, value: &Option<String>) -> Result<Option<i64>> {
    value
        .as_deref()
        .map(|v| parse_size(v).map_err(|e| anyhow!("invalid value for {flag}: {e}")))
        .transpose()
}

impl ResourceFlags {
    /// The flags given, as on the command line ("--memory 1g --pids-limit 5"),
    /// so an error from the kernel names the flag that caused it.
    pub fn describe(&self) -> String {
        [
            ("blkio-weight", &self.blkio_weight),
            ("cpu-period", &self.cpu_period),
            ("cpu-quota", &self.cpu_quota),
            ("cpu-share", &self.cpu_share),
            ("cpu-rt-period", &self.cpu_rt_period),
            ("cpu-rt-runtime", &self.cpu_rt_runtime),
            ("cpuset-cpus", &self.cpuset_cpus),
            ("cpuset-mems", &self.cpuset_mems),
            ("kernel-memory", &self.kernel_memory),
            ("kernel-memory-tcp", &self.kernel_memory_tcp),
            ("memory", &self.memory),
            ("memory-reservation", &self.memory_reservation),
            ("memory-swap", &self.memory_swap),
            ("pids-limit", &self.pids_limit),
        ]
        .iter()
        .filter_map(|(flag, value)| value.as_ref().map(|v| format!("--{flag} {v}")))
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// The resources the flags ask for. Every value is checked before
    /// anything is applied, so one bad flag changes nothing.
    pub fn to_resources(&self) -> Result<LinuxResources> {
        let mut memory = LinuxMemory::default();
        memory.set_limit(size("memory", &self.memory)?);
        memory.set_reservation(size("memory-reservation", &self.memory_reservation)?);
        memory.set_swap(size("memory-swap", &self.memory_swap)?);
        #[allow(deprecated)] // linux.resources.memory.kernel: still a v1 file
        memory.set_kernel(size("kernel-memory", &self.kernel_memory)?);
        memory.set_kernel_tcp(size("kernel-memory-tcp", &self.kernel_memory_tcp)?);

        let mut cpu = LinuxCpu::default();
        cpu.set_shares(unsigned("cpu-share", &self.cpu_share)?);
        cpu.set_period(unsigned("cpu-period", &self.cpu_period)?);
        cpu.set_quota(signed("cpu-quota", &self.cpu_quota)?);
        cpu.set_realtime_period(unsigned("cpu-rt-period", &self.cpu_rt_period)?);
        cpu.set_realtime_runtime(signed("cpu-rt-runtime", &self.cpu_rt_runtime)?);
        cpu.set_cpus(self.cpuset_cpus.clone());
        cpu.set_mems(self.cpuset_mems.clone());

        let mut resources = LinuxResources::default();
        resources.set_memory(Some(memory));
        resources.set_cpu(Some(cpu));
        if let Some(weight) = &self.blkio_weight {
            let weight: u16 = weight.parse().map_err(|_| {
                anyhow!(
                    "invalid value for blkio-weight: {weight:?} is not a number from 0 to 65535"
                )
            })?;
            let mut block_io = LinuxBlockIo::default();
            block_io.set_weight(Some(weight));
            resources.set_block_io(Some(block_io));
        }
        if let Some(limit) = signed("pids-limit", &self.pids_limit)? {
            let mut pids = LinuxPids::default();
            pids.set_limit(limit);
            resources.set_pids(Some(pids));
        }
        Ok(resources)
    }
}

/// Parse `--resources` JSON (a `linux.resources` object). Unknown fields
/// are ignored, as runc does; a value of the wrong type names its path.
pub fn resources_from_json(text: &str) -> Result<LinuxResources> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        anyhow!("--resources: {path}: {}", e.into_inner())
    })
}

/// `stored` with every changed value of `update` written over it.
pub fn merge(stored: &LinuxResources, update: &LinuxResources) -> LinuxResources {
    let mut merged = stored.clone();
    if let Some(m) = update.memory() {
        let target = merged.memory_mut().get_or_insert_with(Default::default);
        merge_memory(target, m);
    }
    if let Some(c) = update.cpu() {
        let target = merged.cpu_mut().get_or_insert_with(Default::default);
        merge_cpu(target, c);
    }
    if let Some(weight) = update
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        merged
            .block_io_mut()
            .get_or_insert_with(Default::default)
            .set_weight(Some(weight));
    }
    if let Some(limit) = update.pids().map(|p| p.limit()).filter(|l| *l != 0) {
        merged
            .pids_mut()
            .get_or_insert_with(Default::default)
            .set_limit(limit);
    }
    if let Some(unified) = update.unified() {
        let target = merged.unified_mut().get_or_insert_with(Default::default);
        target.extend(unified.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    merged
}

fn non_zero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

#[allow(deprecated)] // linux.resources.memory.kernel
fn merge_memory(target: &mut LinuxMemory, m: &LinuxMemory) {
    if let Some(v) = non_zero(m.limit()) {
        target.set_limit(Some(v));
    }
    if let Some(v) = non_zero(m.reservation()) {
        target.set_reservation(Some(v));
    }
    if let Some(v) = non_zero(m.swap()) {
        target.set_swap(Some(v));
    }
    if let Some(v) = non_zero(m.kernel()) {
        target.set_kernel(Some(v));
    }
    if let Some(v) = non_zero(m.kernel_tcp()) {
        target.set_kernel_tcp(Some(v));
    }
    if let Some(v) = m.check_before_update() {
        target.set_check_before_update(Some(v));
    }
}

fn merge_cpu(target: &mut LinuxCpu, c: &LinuxCpu) {
    if let Some(v) = non_zero(c.shares()) {
        target.set_shares(Some(v));
    }
    if let Some(v) = non_zero(c.quota()) {
        target.set_quota(Some(v));
    }
    if let Some(v) = non_zero(c.period()) {
        target.set_period(Some(v));
    }
    if let Some(v) = non_zero(c.realtime_runtime()) {
        target.set_realtime_runtime(Some(v));
    }
    if let Some(v) = non_zero(c.realtime_period()) {
        target.set_realtime_period(Some(v));
    }
    if let Some(v) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
        target.set_cpus(Some(v.clone()));
    }
    if let Some(v) = c.mems().as_ref().filter(|s| !s.is_empty()) {
        target.set_mems(Some(v.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(edit: impl FnOnce(&mut ResourceFlags)) -> ResourceFlags {
        let mut f = ResourceFlags::default();
        edit(&mut f);
        f
    }

    #[test]
    fn flags_become_resources() {
        let r = flags(|f| {
            f.memory = Some("100m".into());
            f.cpu_quota = Some("-1".into());
            f.cpuset_cpus = Some("0".into());
            f.pids_limit = Some("20".into());
            f.blkio_weight = Some("500".into());
        })
        .to_resources()
        .unwrap();
        assert_eq!(r.memory().unwrap().limit(), Some(100 << 20));
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(-1));
        assert_eq!(r.cpu().as_ref().unwrap().cpus().as_deref(), Some("0"));
        assert_eq!(r.pids().unwrap().limit(), 20);
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(500));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (edit, flag) in [
            (
                Box::new(|f: &mut ResourceFlags| f.memory = Some("10x".into()))
                    as Box<dyn Fn(&mut ResourceFlags)>,
                "memory",
            ),
            (
                Box::new(|f| f.memory_swap = Some("-5".into())),
                "memory-swap",
            ),
            (Box::new(|f| f.cpu_period = Some("-5".into())), "cpu-period"),
            (Box::new(|f| f.cpu_share = Some("x".into())), "cpu-share"),
            (Box::new(|f| f.cpu_quota = Some("1.5".into())), "cpu-quota"),
            (Box::new(|f| f.pids_limit = Some("x".into())), "pids-limit"),
            (
                Box::new(|f| f.blkio_weight = Some("-1".into())),
                "blkio-weight",
            ),
        ] {
            let err = flags(edit).to_resources().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid value for {flag}:")),
                "{err}"
            );
        }
    }

    #[test]
    fn merge_keeps_what_is_not_changed() {
        let stored = resources_from_json(
            r#"{"memory": {"limit": 1000, "swappiness": 10}, "pids": {"limit": 5},
                "devices": [{"allow": false, "access": "rwm"}]}"#,
        )
        .unwrap();
        let update = resources_from_json(
            r#"{"memory": {"limit": 0, "reservation": 500}, "cpu": {"shares": 0, "cpus": "1"},
                "pids": {"limit": 0}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
        )
        .unwrap();
        let merged = merge(&stored, &update);
        let memory = merged.memory().unwrap();
        assert_eq!(memory.limit(), Some(1000));
        assert_eq!(memory.reservation(), Some(500));
        assert_eq!(memory.swappiness(), Some(10));
        assert_eq!(merged.pids().unwrap().limit(), 5);
        assert_eq!(merged.cpu().as_ref().unwrap().cpus().as_deref(), Some("1"));
        assert_eq!(merged.cpu().as_ref().unwrap().shares(), None);
        assert_eq!(merged.devices().as_ref().unwrap().len(), 1);
        assert!(merged.hugepage_limits().is_none(), "not taken by update");
    }

    #[test]
    fn bad_json_names_the_path() {
        let err = resources_from_json(r#"{"pids": {"limit": "x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pids.limit"), "{err}");
    }
}
