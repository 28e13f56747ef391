//! A log file that rolls by size, shared by the name server and the broker: each line goes to
//! stdout (optionally) and to `<dir>/<name>`. When a line would take the file past its byte
//! limit, `<name>.N-1` … `<name>` are renamed one step up and the oldest beyond
//! [`LOG_FILES_KEPT_MAX`] is deleted. Writing never stops the server: if the file cannot be
//! written, the error goes to stderr once and logging continues on stdout only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::constants::LOG_FILES_KEPT_MAX;

/// See the module documentation.
#[derive(Debug)]
pub struct RollingLog {
    dir: PathBuf,
    name: String,
    file: Option<File>,
    file_bytes: u64,
    file_bytes_max: u64,
    to_stdout: bool,
}

impl RollingLog {
    /// Open (append to) `<dir>/<name>`, creating the directory.
    pub fn open(
        dir: &Path,
        name: &str,
        file_bytes_max: u64,
        to_stdout: bool,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = open_append(&dir.join(name))?;
        let file_bytes = file.metadata()?.len();
        Ok(Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
            file: Some(file),
            file_bytes,
            file_bytes_max,
            to_stdout,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Write one line (without its newline) to stdout, if enabled, and to the file.
    pub fn write_line(&mut self, line: &str) {
        let text = format!("{line}\n");
        if self.to_stdout {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout must not stop the server.
            let _ = stdout.write_all(text.as_bytes());
        }
        self.append(&text);
    }

    /// Write one line to the file only.
    pub fn write_file_only(&mut self, line: &str) {
        self.append(&format!("{line}\n"));
    }

    fn append(&mut self, text: &str) {
        let length = u64::try_from(text.len()).unwrap_or(u64::MAX);
        if self.file_bytes > 0 && self.file_bytes.saturating_add(length) > self.file_bytes_max {
            self.roll();
        }
        if let Some(file) = &mut self.file {
            if let Err(error) = file.write_all(text.as_bytes()) {
                eprintln!(
                    "ringmq: cannot write {}: {error}; logging to stdout only",
                    self.path().display()
                );
                self.file = None;
            } else {
                self.file_bytes = self.file_bytes.saturating_add(length);
            }
        }
    }

    fn roll(&mut self) {
        self.file = None;
        let numbered = |n: u32| self.dir.join(format!("{}.{n}", self.name));
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
                "ringmq: cannot reopen {} after rolling: {error}; logging to stdout only",
                self.path().display()
            ),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC, the layout of RocketMQ's logback pattern.
pub fn format_wall(now_ms: u64) -> String {
    let millis = now_ms % 1000;
    let seconds = now_ms / 1000;
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
