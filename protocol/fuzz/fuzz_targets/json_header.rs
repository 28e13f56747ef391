#![no_main]
//! Fuzz `ringmq_protocol::fuzz::json_header`: it must never panic on any input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringmq_protocol::fuzz::json_header(data));
