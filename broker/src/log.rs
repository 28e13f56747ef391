//! The broker's log: lines from every shard go over a channel to one thread that writes them
//! to stdout and to the rolling `broker.log` (the name server's rolling file writer).

use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Lines waiting for the log thread; beyond this, lines are dropped (and counted) rather
/// than blocking a shard.
const LOG_LINES_QUEUED_MAX: usize = 65_536;

/// A cheap, cloneable handle for writing log lines from any thread.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    sender: mpsc::SyncSender<String>,
    path: PathBuf,
}

impl Log {
    /// Start the log thread writing `<directory>/broker.log` (and stdout if `to_stdout`).
    pub(crate) fn start(
        directory: &Path,
        to_stdout: bool,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let mut writer = ringmq_namesrv::logfile::RollingLog::open(
            directory,
            "broker.log",
            128 << 20,
            to_stdout,
        )?;
        let path = writer.path().clone();
        let (sender, receiver) = mpsc::sync_channel::<String>(LOG_LINES_QUEUED_MAX);
        let thread = std::thread::Builder::new()
            .name("broker-log".to_owned())
            .spawn(move || {
                for line in receiver {
                    writer.write_line(&line);
                }
            })?;
        Ok((Self { sender, path }, thread))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, level: &str, message: &str) {
        let wall = ringmq_engine::clock::Clock::wall(&ringmq_engine::clock::SystemClock::new());
        let line = format!(
            "{} {level} {message}",
            ringmq_namesrv::logfile::format_wall(wall.0)
        );
        let _ = self.sender.try_send(line);
    }

    pub(crate) fn info(&self, message: &str) {
        self.write("INFO", message);
    }

    pub(crate) fn warn(&self, message: &str) {
        self.write("WARN", message);
    }

    pub(crate) fn error(&self, message: &str) {
        self.write("ERROR", message);
    }
}
