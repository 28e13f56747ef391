#![no_main]
//! Fuzz `ringmq_protocol::fuzz::binary_header`: it must never panic on any input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringmq_protocol::fuzz::binary_header(data));
