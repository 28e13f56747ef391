//! The name server's log: each line goes to stdout and to `<logDir>/namesrv.log`, rolling by
//! size (see [`crate::logfile`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::clock::WallMs;
use crate::logfile::{format_wall, RollingLog};

/// Name of the active log file.
pub const LOG_FILE_NAME: &str = "namesrv.log";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// See the module documentation. Owned by the server thread.
#[derive(Debug)]
pub(crate) struct Logger {
    file: RollingLog,
}

impl Logger {
    /// Open (append to) `<dir>/namesrv.log`, creating the directory.
    pub(crate) fn open(dir: &Path, file_bytes_max: u64, to_stdout: bool) -> std::io::Result<Self> {
        Ok(Self {
            file: RollingLog::open(dir, LOG_FILE_NAME, file_bytes_max, to_stdout)?,
        })
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.file.path()
    }

    pub(crate) fn info(&mut self, now: WallMs, message: &str) {
        self.line(now, Level::Info, message);
    }

    pub(crate) fn warn(&mut self, now: WallMs, message: &str) {
        self.line(now, Level::Warn, message);
    }

    pub(crate) fn error(&mut self, now: WallMs, message: &str) {
        self.line(now, Level::Error, message);
    }

    pub(crate) fn line(&mut self, now: WallMs, level: Level, message: &str) {
        self.file
            .write_line(&format!("{} {level} {message}", format_wall(now.0)));
    }

    /// Write a line to the file only (for lines already printed to stdout in another form).
    pub(crate) fn file_only(&mut self, now: WallMs, level: Level, message: &str) {
        self.file
            .write_file_only(&format!("{} {level} {message}", format_wall(now.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::LOG_FILES_KEPT_MAX;

    #[test]
    fn wall_time_formats_known_instants_including_leap_day() {
        assert_eq!(format_wall(0), "1970-01-01 00:00:00,000");
        assert_eq!(format_wall(1_700_000_000_123), "2023-11-14 22:13:20,123");
        assert_eq!(format_wall(951_782_400_000), "2000-02-29 00:00:00,000");
    }

    #[test]
    fn oversized_log_rolls_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut logger = Logger::open(dir.path(), 100, false).unwrap();
        for i in 0..40 {
            logger.info(WallMs(0), &format!("line {i} with some padding text"));
        }
        let active = std::fs::metadata(dir.path().join(LOG_FILE_NAME))
            .unwrap()
            .len();
        assert!(active <= 100, "active file {active} bytes");
        let rolled = dir.path().join(format!("{LOG_FILE_NAME}.1"));
        assert!(rolled.exists());
        let kept_max = dir
            .path()
            .join(format!("{LOG_FILE_NAME}.{LOG_FILES_KEPT_MAX}"));
        assert!(kept_max.exists());
        let beyond = dir
            .path()
            .join(format!("{LOG_FILE_NAME}.{}", LOG_FILES_KEPT_MAX + 1));
        assert!(!beyond.exists());
        let last = std::fs::read_to_string(dir.path().join(LOG_FILE_NAME)).unwrap();
        assert!(last.contains("line 39"));
    }

    #[test]
    fn reopening_appends_instead_of_truncating() {
        let dir = tempfile::tempdir().unwrap();
        Logger::open(dir.path(), 1 << 20, false)
            .unwrap()
            .warn(WallMs(0), "first");
        Logger::open(dir.path(), 1 << 20, false)
            .unwrap()
            .error(WallMs(0), "second");
        let text = std::fs::read_to_string(dir.path().join(LOG_FILE_NAME)).unwrap();
        assert!(
            text.contains("WARN first") && text.contains("ERROR second"),
            "{text}"
        );
    }
}
