//! Process-level ownership of a store directory: the `lock` file, the `abort` marker and the
//! shard-count check, done once before any shard opens.
//!
//! `abort` exists while a broker runs and is removed only by a clean shutdown after every
//! shard closed cleanly, so its presence at start means the last run ended abnormally (the
//! shards recover from their checkpoints either way; the flag is reported in the boot log).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::commitlog::segment_set::parse_segment_name;
use crate::config::EngineConfig;
use crate::error::OpenError;
use crate::io::lock::StoreLock;

/// The exclusive hold on a store.
#[derive(Debug)]
pub struct StoreGuard {
    _lock: StoreLock,
    abort: PathBuf,
    previous_exit_clean: bool,
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
    let path = path.to_path_buf();
    move |error| OpenError::Io {
        operation,
        path,
        error,
    }
}

impl StoreGuard {
    /// Lock the store, check its shard count and mark it running.
    pub fn acquire(config: &EngineConfig) -> Result<Self, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let paths = &config.paths;
        fs::create_dir_all(&paths.root).map_err(io_error("create store directory", &paths.root))?;
        let lock = StoreLock::acquire(&paths.root)
            .map_err(|error| OpenError::Locked(error.to_string()))?;
        check_shard_count(&paths.commitlog, config.shard_count)?;
        let previous_exit_clean = !paths.abort.exists();
        let mut abort = fs::File::create(&paths.abort).map_err(io_error("create", &paths.abort))?;
        writeln!(abort, "{}", std::process::id()).map_err(io_error("write", &paths.abort))?;
        abort.sync_all().map_err(io_error("fsync", &paths.abort))?;
        sync_directory(&paths.root)?;
        Ok(Self {
            _lock: lock,
            abort: paths.abort.clone(),
            previous_exit_clean,
        })
    }

    /// Whether the previous run removed `abort` (a clean shutdown).
    pub fn previous_exit_clean(&self) -> bool {
        self.previous_exit_clean
    }

    /// Remove `abort` after every shard closed cleanly; then release the lock.
    pub fn close_clean(self) -> Result<(), OpenError> {
        fs::remove_file(&self.abort).map_err(io_error("remove", &self.abort))?;
        if let Some(parent) = self.abort.parent() {
            sync_directory(parent)?;
        }
        Ok(())
    }
}

fn sync_directory(path: &Path) -> Result<(), OpenError> {
    fs::File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error("fsync directory", path))
}

/// Segments of shards beyond the configured count would be silently orphaned.
fn check_shard_count(commitlog: &Path, configured: u16) -> Result<(), OpenError> {
    let Ok(entries) = fs::read_dir(commitlog) else {
        return Ok(());
    };
    let mut highest: Option<u16> = None;
    for entry in entries.flatten() {
        if let Some(offset) = parse_segment_name(&entry.file_name().to_string_lossy()) {
            highest = highest.max(Some(offset.shard().0));
        }
    }
    match highest {
        Some(shard) if shard >= configured => Err(OpenError::ShardCountChanged {
            stored: shard + 1,
            configured,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_guard_on_the_same_store_fails_with_the_rocketmq_message() {
        let directory = tempfile::tempdir().expect("tempdir");
        let config = EngineConfig::new(directory.path());
        let first = StoreGuard::acquire(&config).expect("first");
        assert!(first.previous_exit_clean());
        let error = StoreGuard::acquire(&config).expect_err("second must fail");
        let message = error.to_string();
        assert!(
            message.starts_with("Lock failed, MQ already started"),
            "{message}"
        );
        assert!(
            message.contains(&directory.path().join("lock").display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        first.close_clean().expect("close");
        let again = StoreGuard::acquire(&config).expect("after release");
        assert!(
            again.previous_exit_clean(),
            "abort was removed by the clean close"
        );
        drop(again);
        let after_crash = StoreGuard::acquire(&config).expect("after an unclean exit");
        assert!(!after_crash.previous_exit_clean(), "abort was left behind");
    }

    #[test]
    fn fewer_shards_than_the_store_has_is_refused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut config = EngineConfig::new(directory.path());
        fs::create_dir_all(&config.paths.commitlog).expect("dir");
        fs::write(config.paths.commitlog.join("00000281474976710656"), b"")
            .expect("segment of shard 1");
        config.shard_count = 1;
        let error = StoreGuard::acquire(&config).expect_err("refused");
        assert!(
            matches!(
                error,
                OpenError::ShardCountChanged {
                    stored: 2,
                    configured: 1
                }
            ),
            "{error}"
        );
    }
}
