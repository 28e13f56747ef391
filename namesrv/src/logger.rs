//! The name server's log: each line goes to stdout and to `<logDir>/namesrv.log`.
//!
//! The file rolls by size: when a line would take it past `logFileBytesMax` (128 MiB by
//! default), `namesrv.log.N-1` … `namesrv.log` are renamed one step up (`namesrv.log` becomes
//! `namesrv.log.1`) and the oldest beyond [`LOG_FILES_KEPT_MAX`] is deleted. Logging never stops
//! the server: if the file cannot be written, the error goes to stderr once and logging continues
//! on stdout only.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::clock::WallMs;
use crate::constants::LOG_FILES_KEPT_MAX;

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
    dir: PathBuf,
    file: Option<File>,
    file_bytes: u64,
    file_bytes_max: u64,
    to_stdout: bool,
}

impl Logger {
    /// Open (append to) `<dir>/namesrv.log`, creating the directory.
    pub(crate) fn open(dir: &Path, file_bytes_max: u64, to_stdout: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = open_append(&dir.join(LOG_FILE_NAME))?;
        let file_bytes = file.metadata()?.len();
        Ok(Self {
            dir: dir.to_owned(),
            file: Some(file),
            file_bytes,
            file_bytes_max,
            to_stdout,
        })
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(LOG_FILE_NAME)
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
        let text = format!("{} {level} {message}\n", format_wall(now));
        if self.to_stdout {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout must not stop the server.
            let _ = stdout.write_all(text.as_bytes());
        }
        self.append(&text);
    }

    /// Write a line to the file only (for lines already printed to stdout in another form).
    pub(crate) fn file_only(&mut self, now: WallMs, level: Level, message: &str) {
        self.append(&format!("{} {level} {message}\n", format_wall(now)));
    }

    fn append(&mut self, text: &str) {
        let length = u64::try_from(text.len()).unwrap_or(u64::MAX);
        if self.file_bytes > 0 && self.file_bytes.saturating_add(length) > self.file_bytes_max {
            self.roll();
        }
        if let Some(file) = &mut self.file {
            if let Err(error) = file.write_all(text.as_bytes()) {
                eprintln!(
                    "namesrv: cannot write {}: {error}; logging to stdout only",
                    self.dir.join(LOG_FILE_NAME).display()
                );
                self.file = None;
            } else {
                self.file_bytes = self.file_bytes.saturating_add(length);
            }
        }
    }

    fn roll(&mut self) {
        self.file = None;
        let numbered = |n: u32| self.dir.join(format!("{LOG_FILE_NAME}.{n}"));
        // Missing files in the chain are expected; only the reopen below must succeed.
        let _ = std::fs::remove_file(numbered(LOG_FILES_KEPT_MAX));
        for n in (1..LOG_FILES_KEPT_MAX).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        let _ = std::fs::rename(self.path(), numbered(1));
        match open_append(&self.path()) {
            Ok(file) => {
                self.file = Some(file);
                self.file_bytes = 0;
            }
            Err(error) => eprintln!(
                "namesrv: cannot reopen {} after rolling: {error}; logging to stdout only",
                self.path().display()
            ),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC, the layout of RocketMQ's logback pattern.
pub(crate) fn format_wall(now: WallMs) -> String {
    let millis = now.0 % 1000;
    let seconds = now.0 / 1000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{millis:03}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date; Howard Hinnant's algorithm for the
/// proleptic Gregorian calendar, restricted to dates after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_formats_known_instants_including_leap_day() {
        assert_eq!(format_wall(WallMs(0)), "1970-01-01 00:00:00,000");
        assert_eq!(
            format_wall(WallMs(1_700_000_000_123)),
            "2023-11-14 22:13:20,123"
        );
        assert_eq!(
            format_wall(WallMs(951_782_400_000)),
            "2000-02-29 00:00:00,000"
        );
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
