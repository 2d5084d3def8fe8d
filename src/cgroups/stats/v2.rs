//! Statistics from a cgroup v2 directory (cpu.stat, memory.*, pids.*,
//! io.stat, hugetlb.*). Files of controllers not enabled in the cgroup are
//! missing and leave their part at zero.

use super::parse::{hugetlb_sizes, io_stat, read_flat_keyed, read_number};
use super::{Blkio, BlkioEntry, Cpu, Hugetlb, Memory, MemoryEntry, Pids, Stats};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// What "max" (no limit) is reported as, as runc does on v2.
const UNLIMITED: u64 = u64::MAX;

pub fn read(dir: &Path) -> Result<Stats> {
    Ok(Stats {
        cpu: read_cpu(dir)?,
        memory: read_memory(dir).context("reading memory statistics")?,
        pids: Pids {
            current: read_number(dir, "pids.current", 0)?,
            limit: read_number(dir, "pids.max", 0)?,
        },
        blkio: read_io(dir)?,
        hugetlb: read_hugetlb(dir)?,
        ..Stats::default()
    })
}

/// cpu.stat: times in microseconds, reported in nanoseconds as on v1.
fn read_cpu(dir: &Path) -> Result<Cpu> {
    let stat = read_flat_keyed(dir, "cpu.stat")?;
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    let mut cpu = Cpu::default();
    cpu.usage.total = get("usage_usec") * 1000;
    cpu.usage.user = get("user_usec") * 1000;
    cpu.usage.kernel = get("system_usec") * 1000;
    cpu.throttling.periods = get("nr_periods");
    cpu.throttling.throttled_periods = get("nr_throttled");
    cpu.throttling.throttled_time = get("throttled_usec") * 1000;
    Ok(cpu)
}

/// memory.stat, memory.current/max/peak and memory.swap.current/max. Swap is
/// reported as memory plus swap, the v1 meaning (as runc does); failcnt is
/// the `max` count of memory.events (times the limit was hit).
fn read_memory(dir: &Path) -> Result<Memory> {
    let raw = read_flat_keyed(dir, "memory.stat")?;
    let events = read_flat_keyed(dir, "memory.events")?;
    let usage = MemoryEntry {
        limit: read_number(dir, "memory.max", UNLIMITED)?,
        usage: read_number(dir, "memory.current", 0)?,
        max: read_number(dir, "memory.peak", 0)?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    let swap_limit = read_number(dir, "memory.swap.max", UNLIMITED)?;
    let swap = MemoryEntry {
        limit: if swap_limit == UNLIMITED {
            UNLIMITED
        } else {
            swap_limit.saturating_add(usage.limit)
        },
        usage: read_number(dir, "memory.swap.current", 0)? + usage.usage,
        max: 0,
        failcnt: 0,
    };
    Ok(Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        oom_kills: events.get("oom_kill").copied().unwrap_or(0),
        ..Memory::default()
    })
}

/// io.stat: bytes and operations read and written per device.
fn read_io(dir: &Path) -> Result<Blkio> {
    let mut blkio = Blkio::default();
    let text = super::parse::read_optional(dir, "io.stat")?.unwrap_or_default();
    for (major, minor, fields) in io_stat(&text) {
        let entry = |op: &str, key: &str| BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value: fields.get(key).copied().unwrap_or(0),
        };
        blkio
            .io_service_bytes_recursive
            .extend([entry("Read", "rbytes"), entry("Write", "wbytes")]);
        blkio
            .io_serviced_recursive
            .extend([entry("Read", "rios"), entry("Write", "wios")]);
    }
    Ok(blkio)
}

fn read_hugetlb(dir: &Path) -> Result<BTreeMap<String, Hugetlb>> {
    let mut sizes = BTreeMap::new();
    for size in hugetlb_sizes(dir, ".current") {
        let events = read_flat_keyed(dir, &format!("hugetlb.{size}.events"))?;
        let entry = Hugetlb {
            usage: read_number(dir, &format!("hugetlb.{size}.current"), 0)?,
            max: 0,
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        sizes.insert(size, entry);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_v2_cgroup() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, content) in [
            (
                "cpu.stat",
                "usage_usec 30\nuser_usec 10\nsystem_usec 20\nnr_periods 4\nnr_throttled 1\nthrottled_usec 5\n",
            ),
            ("memory.stat", "anon 100\nfile 4096\n"),
            ("memory.current", "8192\n"),
            ("memory.max", "100000\n"),
            ("memory.swap.current", "10\n"),
            ("memory.swap.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
            ("pids.current", "3\n"),
            ("pids.max", "50\n"),
            ("io.stat", "8:16 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.events", "max 0\n"),
        ] {
            std::fs::write(tmp.path().join(name), content).unwrap();
        }
        let s = read(tmp.path()).unwrap();
        assert_eq!(s.cpu.usage.total, 30_000);
        assert_eq!(s.cpu.usage.kernel, 20_000);
        assert_eq!(s.cpu.throttling.throttled_time, 5_000);
        assert_eq!(s.memory.cache, 4096);
        assert_eq!(
            s.memory.usage,
            MemoryEntry {
                limit: 100000,
                usage: 8192,
                max: 0,
                failcnt: 2
            }
        );
        assert_eq!(s.memory.swap.usage, 8202);
        assert_eq!(s.memory.swap.limit, UNLIMITED);
        assert_eq!(s.memory.oom_kills, 1);
        assert_eq!((s.pids.current, s.pids.limit), (3, 50));
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 200);
        assert_eq!(s.blkio.io_serviced_recursive[0].minor, 16);
        assert!(s.hugetlb.contains_key("2MB"));
    }

    #[test]
    fn limited_swap_adds_the_memory_limit() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("memory.max"), "1000").unwrap();
        std::fs::write(tmp.path().join("memory.swap.max"), "500").unwrap();
        let s = read(tmp.path()).unwrap();
        assert_eq!(s.memory.swap.limit, 1500);
    }
}
