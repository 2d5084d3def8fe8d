//! (c) The small parsers users feed: signal names (`nook kill`), mount
//! options, linux.cgroupsPath (cgroupfs and systemd forms), capability and
//! rlimit names. The first byte picks the parser, the rest is its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    nook_fuzz::check_parsers(data);
});
