//! cargo-fuzz target: see `gatehouse_fuzz::appmixer_import` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse_fuzz::appmixer_import(data));
