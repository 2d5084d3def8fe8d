//! Micro-benchmarks of the library paths every `nook create` runs:
//!
//!   cargo bench --bench hot_paths
//!
//! - config: parsing and validating the config.json podman 4.3 writes for a
//!   plain `podman create` (benches/data/podman-config.json, with its
//!   default seccomp profile), from bytes to a checked `Spec`;
//! - seccomp: turning that profile into a BPF program, compiled by
//!   libseccomp (no cache: `seccomp::prepare` with a --root where the cache
//!   directory cannot be made) against a hit in the compiled-filter cache
//!   (`<--root>/@seccomp-cache`, filled by the first call).
//!
//! Only public library API is used. Under `cargo test --all-targets` each
//! benchmark runs once, as a check that it still works.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const PODMAN_CONFIG: &[u8] = include_bytes!("data/podman-config.json");

fn config(c: &mut Criterion) {
    let mut group = c.benchmark_group("config");
    group.bench_function("parse podman config.json", |b| {
        b.iter(|| nook::spec::parse_config(black_box(PODMAN_CONFIG)))
    });
    group.bench_function("parse + validate podman config.json", |b| {
        b.iter(|| {
            let spec = nook::spec::parse_config(black_box(PODMAN_CONFIG))?;
            nook::spec::validate(&spec)?;
            anyhow::Ok(spec)
        })
    });
    group.finish();
}

fn seccomp(c: &mut Criterion) {
    let spec = match nook::spec::parse_config(PODMAN_CONFIG) {
        Ok(spec) => spec,
        Err(e) => panic!("benches/data/podman-config.json: {e:#}"),
    };
    let mut group = c.benchmark_group("seccomp podman default profile");
    // A compile takes tens of milliseconds: fewer, longer samples.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));

    // The cache directory would be made under a file, which fails: every
    // call compiles, as runc and crun do on every create.
    let no_cache = tempfile::NamedTempFile::new().expect("temp file");
    let no_cache_root = no_cache.path().join("root");
    group.bench_function("compile (no cache)", |b| {
        b.iter(|| prepare(&spec, &no_cache_root))
    });

    let root = tempfile::tempdir().expect("temp dir");
    prepare(&spec, root.path());
    let cached = root.path().join(nook::seccomp::CACHE_DIR_NAME);
    assert!(
        std::fs::read_dir(&cached).map(|d| d.count()).unwrap_or(0) > 0,
        "the first prepare left no program in {}",
        cached.display()
    );
    group.bench_function("cache hit", |b| b.iter(|| prepare(&spec, root.path())));
    group.finish();
}

fn prepare(spec: &oci_spec::runtime::Spec, root: &Path) -> nook::seccomp::Filter {
    match nook::seccomp::prepare(black_box(spec), root) {
        Ok(Some(filter)) => filter,
        Ok(None) => panic!("the podman config has no linux.seccomp"),
        Err(e) => panic!("seccomp::prepare: {e:#}"),
    }
}

criterion_group!(benches, config, seccomp);
criterion_main!(benches);
