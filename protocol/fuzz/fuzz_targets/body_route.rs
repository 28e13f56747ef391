#![no_main]
//! Fuzz `ringmq_protocol::fuzz::body_route`: it must never panic on any input.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringmq_protocol::fuzz::body_route(data));
