//! ringmq bench.
#![forbid(unsafe_code)]
