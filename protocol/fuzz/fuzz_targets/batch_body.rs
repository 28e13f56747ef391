#![no_main]
//! Fuzz `ringmq_protocol::fuzz::batch_body`: it must never panic on any input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringmq_protocol::fuzz::batch_body(data));
