//! ringmq namesrv.
#![forbid(unsafe_code)]
