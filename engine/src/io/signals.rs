//! Process-wide signal dispositions that command-line roles need.

/// Restore the default action of SIGPIPE, so that a command whose reader went away
/// (`ringmq admin topicList | head -3`) ends quietly, as RocketMQ's shell tools and any C
/// program do. Rust ignores SIGPIPE at start-up, which turns such a print into a panic.
///
/// Only for roles that write to sockets through `send` (which passes MSG_NOSIGNAL) or not at
/// all: a server writing to sockets with `writev` must keep SIGPIPE ignored.
pub fn restore_default_sigpipe() {
    // SAFETY: signal() with SIG_DFL installs no handler code; it only changes the disposition
    // of SIGPIPE for this process, before any thread that relies on it is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
