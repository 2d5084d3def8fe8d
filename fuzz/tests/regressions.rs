//! Every input a fuzz target once crashed on, kept in fuzz/regressions/<target>/,
//! replayed through the same check the target runs (without libFuzzer):
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("read regression input");
        check(&data);
        count += 1;
    }
    count
}

#[test]
fn crash_inputs_no_longer_crash() {
    let total = replay("config_bytes", nook_fuzz::check_config)
        + replay("config_mutate", |data| {
            nook_fuzz::check_config(&nook_fuzz::mutate::mutated_config(data))
        })
        + replay("parsers", nook_fuzz::check_parsers);
    assert!(total >= 1, "no regression inputs found");
}
