//! `nook update [--resources FILE|-] [resource flags] ID`.
use crate::cli::{GlobalOpts, UpdateArgs};
use crate::update::{ResourceFlags, UpdateRequest};
use anyhow::{Context, Result};
use std::io::Read;

pub fn run(g: &GlobalOpts, a: &UpdateArgs) -> Result<()> {
    crate::update::check_intel_rdt(a.l3_cache_schema.as_deref(), a.mem_bw_schema.as_deref())?;
    let request = match a.resources.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("--resources -: reading standard input")?;
            UpdateRequest::Json(text)
        }
        Some(path) => UpdateRequest::Json(
            std::fs::read_to_string(path).with_context(|| format!("--resources {path}"))?,
        ),
        None => UpdateRequest::Flags(Box::new(flags_of(a))),
    };
    let mut c = super::open_root(g)?.load_locked(&a.id)?;
    crate::update::update(&mut c, request)
}

fn flags_of(a: &UpdateArgs) -> ResourceFlags {
    ResourceFlags {
        blkio_weight: a.blkio_weight.clone(),
        cpu_period: a.cpu_period.clone(),
        cpu_quota: a.cpu_quota.clone(),
        cpu_share: a.cpu_share.clone(),
        cpu_rt_period: a.cpu_rt_period.clone(),
        cpu_rt_runtime: a.cpu_rt_runtime.clone(),
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        kernel_memory: a.kernel_memory.clone(),
        kernel_memory_tcp: a.kernel_memory_tcp.clone(),
        memory: a.memory.clone(),
        memory_reservation: a.memory_reservation.clone(),
        memory_swap: a.memory_swap.clone(),
        pids_limit: a.pids_limit.clone(),
    }
}
