//! (a) Raw bytes as config.json: loading and validation never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    nook_fuzz::check_config(data);
});
