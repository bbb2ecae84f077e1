//! cargo-fuzz target: see `gatehouse_fuzz::host_resolution` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse_fuzz::host_resolution(data));
