//! cargo-fuzz target: see `gatehouse_fuzz::tiledesk_import` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse_fuzz::tiledesk_import(data));
