//! ringmq broker.
#![forbid(unsafe_code)]
