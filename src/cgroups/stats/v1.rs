//! Statistics from the cgroup v1 controllers (cpuacct, cpu, cpuset, memory,
//! pids, blkio, hugetlb). A controller the host does not mount, or that the
//! container is not in, leaves its part of the stats at zero.

use super::parse::{
    blkio_v1, flat_keyed, hugetlb_sizes, node_list, numbers, read_flat_keyed, read_number,
    read_optional,
};
use super::{Blkio, BlkioEntry, Cpu, CpuSet, Hugetlb, Memory, MemoryEntry, Pids, Stats};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Read every statistic; `dir_of(controller)` is the container's directory
/// in the hierarchy of `controller`, if the container has one.
pub fn read(dir_of: &dyn Fn(&str) -> Option<PathBuf>) -> Result<Stats> {
    let mut stats = Stats::default();
    if let Some(dir) = dir_of("cpuacct") {
        read_cpuacct(&dir, &mut stats.cpu).context("reading cpuacct statistics")?;
    }
    if let Some(dir) = dir_of("cpu") {
        read_throttling(&dir, &mut stats.cpu)?;
    }
    if let Some(dir) = dir_of("cpuset") {
        stats.cpuset = read_cpuset(&dir).context("reading cpuset statistics")?;
    }
    if let Some(dir) = dir_of("memory") {
        stats.memory = read_memory(&dir).context("reading memory statistics")?;
    }
    if let Some(dir) = dir_of("pids") {
        stats.pids = Pids {
            current: read_number(&dir, "pids.current", 0)?,
            // "max" (no limit) is reported as 0, as runc does.
            limit: read_number(&dir, "pids.max", 0)?,
        };
    }
    if let Some(dir) = dir_of("blkio") {
        stats.blkio = read_blkio(&dir)?;
    }
    if let Some(dir) = dir_of("hugetlb") {
        stats.hugetlb = read_hugetlb(&dir)?;
    }
    Ok(stats)
}

/// Clock ticks per second: the unit of cpuacct.stat.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// cpuacct.usage (total ns), cpuacct.usage_percpu, cpuacct.usage_all
/// (per-cpu user/system ns) and cpuacct.stat (user/system in clock ticks).
fn read_cpuacct(dir: &Path, cpu: &mut Cpu) -> Result<()> {
    let usage = &mut cpu.usage;
    usage.total = read_number(dir, "cpuacct.usage", 0)?;
    if let Some(text) = read_optional(dir, "cpuacct.usage_percpu")? {
        usage.percpu = numbers(&text)?;
    }
    if let Some(text) = read_optional(dir, "cpuacct.usage_all")? {
        // "cpu user system" then one "N USER SYSTEM" line per cpu.
        for line in text.lines().skip(1) {
            if let [_, user, system] = numbers(line)?.as_slice() {
                usage.percpu_user.push(*user);
                usage.percpu_kernel.push(*system);
            }
        }
    }
    let ticks = read_flat_keyed(dir, "cpuacct.stat")?;
    let to_ns = |t: u64| t.saturating_mul(1_000_000_000) / clock_ticks();
    usage.user = to_ns(ticks.get("user").copied().unwrap_or(0));
    usage.kernel = to_ns(ticks.get("system").copied().unwrap_or(0));
    Ok(())
}

/// cpu.stat: CFS throttling (throttled_time is in ns on v1).
fn read_throttling(dir: &Path, cpu: &mut Cpu) -> Result<()> {
    let stat = read_flat_keyed(dir, "cpu.stat")?;
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    cpu.throttling.periods = get("nr_periods");
    cpu.throttling.throttled_periods = get("nr_throttled");
    cpu.throttling.throttled_time = get("throttled_time");
    Ok(())
}

fn read_cpuset(dir: &Path) -> Result<CpuSet> {
    let number = |file: &str| read_number(dir, file, 0);
    let list = |file: &str| -> Result<Vec<u16>> {
        Ok(match read_optional(dir, file)? {
            Some(text) => node_list(&text)?,
            None => Vec::new(),
        })
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: number("cpuset.cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: number("cpuset.mem_hardwall")?,
        mem_exclusive: number("cpuset.mem_exclusive")?,
        memory_migrate: number("cpuset.memory_migrate")?,
        memory_spread_page: number("cpuset.memory_spread_page")?,
        memory_spread_slab: number("cpuset.memory_spread_slab")?,
        memory_pressure: number("cpuset.memory_pressure")?,
        sched_load_balance: number("cpuset.sched_load_balance")?,
        sched_relax_domain_level: match read_optional(dir, "cpuset.sched_relax_domain_level")? {
            Some(text) => text.parse().unwrap_or(0),
            None => 0,
        },
    })
}

/// memory.stat plus the usage/max/limit/failcnt quadruple of memory,
/// memory+swap (memsw), kernel (kmem) and kernel TCP (kmem.tcp).
fn read_memory(dir: &Path) -> Result<Memory> {
    let raw = read_flat_keyed(dir, "memory.stat")?;
    let oom_control = read_optional(dir, "memory.oom_control")?.unwrap_or_default();
    Ok(Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: memory_entry(dir, "memory")?,
        swap: memory_entry(dir, "memory.memsw")?,
        kernel: memory_entry(dir, "memory.kmem")?,
        kernel_tcp: memory_entry(dir, "memory.kmem.tcp")?,
        raw,
        oom_kills: flat_keyed(&oom_control)
            .get("oom_kill")
            .copied()
            .unwrap_or(0),
    })
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    Ok(MemoryEntry {
        limit: read_number(dir, &format!("{prefix}.limit_in_bytes"), 0)?,
        usage: read_number(dir, &format!("{prefix}.usage_in_bytes"), 0)?,
        max: read_number(dir, &format!("{prefix}.max_usage_in_bytes"), 0)?,
        failcnt: read_number(dir, &format!("{prefix}.failcnt"), 0)?,
    })
}

/// Bytes and operations per device. The CFQ files, then BFQ's, then the
/// throttling layer's: the first that has any entry (the schedulers keep their
/// own counts; the throttling layer counts every request).
fn read_blkio(dir: &Path) -> Result<Blkio> {
    let first_non_empty = |stat: &str| -> Result<Vec<BlkioEntry>> {
        for prefix in ["blkio", "blkio.bfq", "blkio.throttle"] {
            if let Some(text) = read_optional(dir, &format!("{prefix}.{stat}"))? {
                let entries = blkio_v1(&text);
                if !entries.is_empty() {
                    return Ok(entries);
                }
            }
        }
        Ok(Vec::new())
    };
    Ok(Blkio {
        io_service_bytes_recursive: first_non_empty("io_service_bytes_recursive")?,
        io_serviced_recursive: first_non_empty("io_serviced_recursive")?,
    })
}

fn read_hugetlb(dir: &Path) -> Result<BTreeMap<String, Hugetlb>> {
    let mut sizes = BTreeMap::new();
    for size in hugetlb_sizes(dir, ".limit_in_bytes") {
        let file = |what: &str| format!("hugetlb.{size}.{what}");
        let entry = Hugetlb {
            usage: read_number(dir, &file("usage_in_bytes"), 0)?,
            max: read_number(dir, &file("max_usage_in_bytes"), 0)?,
            failcnt: read_number(dir, &file("failcnt"), 0)?,
        };
        sizes.insert(size, entry);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
    }

    #[test]
    fn reads_a_fake_v1_container() {
        let tmp = tempfile::tempdir().unwrap();
        for c in ["cpuacct", "cpu", "memory", "pids", "blkio", "hugetlb"] {
            std::fs::create_dir(tmp.path().join(c)).unwrap();
        }
        let d = |c: &str| tmp.path().join(c);
        write(
            &d("cpuacct"),
            &[
                ("cpuacct.usage", "3000\n"),
                ("cpuacct.usage_percpu", "1000 2000 \n"),
                ("cpuacct.usage_all", "cpu user system\n0 10 20\n1 30 40\n"),
                ("cpuacct.stat", "user 2\nsystem 1\n"),
            ],
        );
        write(
            &d("cpu"),
            &[(
                "cpu.stat",
                "nr_periods 5\nnr_throttled 2\nthrottled_time 99\n",
            )],
        );
        write(
            &d("memory"),
            &[
                ("memory.stat", "cache 4096\nrss 8192\n"),
                ("memory.usage_in_bytes", "12288\n"),
                ("memory.max_usage_in_bytes", "20000\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.failcnt", "1\n"),
                ("memory.memsw.usage_in_bytes", "12288\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                ),
            ],
        );
        write(
            &d("pids"),
            &[("pids.current", "4\n"), ("pids.max", "max\n")],
        );
        write(
            &d("blkio"),
            &[
                ("blkio.bfq.io_service_bytes_recursive", "Total 0\n"),
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 512\nTotal 512\n",
                ),
            ],
        );
        write(
            &d("hugetlb"),
            &[
                ("hugetlb.2MB.limit_in_bytes", "1\n"),
                ("hugetlb.2MB.usage_in_bytes", "0\n"),
                ("hugetlb.2MB.failcnt", "7\n"),
            ],
        );
        let dir_of = |c: &str| Some(tmp.path().join(c)).filter(|p| p.is_dir());
        let s = read(&dir_of).unwrap();
        let ticks_ns = 1_000_000_000 / clock_ticks();
        assert_eq!(s.cpu.usage.total, 3000);
        assert_eq!(s.cpu.usage.percpu, vec![1000, 2000]);
        assert_eq!(s.cpu.usage.percpu_user, vec![10, 30]);
        assert_eq!(s.cpu.usage.percpu_kernel, vec![20, 40]);
        assert_eq!(s.cpu.usage.user, 2 * ticks_ns);
        assert_eq!(s.cpu.usage.kernel, ticks_ns);
        assert_eq!(s.cpu.throttling.throttled_time, 99);
        assert_eq!(s.memory.cache, 4096);
        assert_eq!(s.memory.usage.usage, 12288);
        assert_eq!(s.memory.usage.max, 20000);
        assert_eq!(s.memory.usage.failcnt, 1);
        assert_eq!(s.memory.swap.usage, 12288);
        assert_eq!(s.memory.kernel.usage, 0, "missing kmem files read as 0");
        assert_eq!(s.memory.raw["rss"], 8192);
        assert_eq!(s.memory.oom_kills, 3);
        assert_eq!((s.pids.current, s.pids.limit), (4, 0));
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 1);
        assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 512);
        assert_eq!(s.hugetlb["2MB"].failcnt, 7);
        assert_eq!(s.cpuset, CpuSet::default(), "no cpuset hierarchy");
    }
}
