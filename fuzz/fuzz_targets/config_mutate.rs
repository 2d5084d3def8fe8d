//! (b) JSON-aware mutations of valid config.json samples: loading and
//! validation never panic. The fuzz input is a script of mutations (see
//! `nook_fuzz::mutate`), so libFuzzer's coverage guidance works on it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = nook_fuzz::mutate::mutated_config(data);
    nook_fuzz::check_config(&text);
});
