//! The store lock: one broker process per store directory.
//!
//! Two brokers writing the same commitlog would interleave appends and destroy it, so the
//! first thing a broker does is take an exclusive, non-blocking open-file-description lock
//! (`F_OFD_SETLK`) on `<store>/lock` and write its pid there for the operator. OFD locks
//! belong to the open file description, not the process, so a second open in the same
//! process conflicts too (unlike classic POSIX record locks), and the lock disappears when
//! the descriptor is closed — including when the process dies, so there is nothing stale to
//! clean up after a crash.
//!
//! Invariant: while a [`StoreLock`] exists, no other [`StoreLock`] for the same store exists
//! in any process on this machine. Dropping it releases the lock (the file stays).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Name of the lock file inside the store directory.
pub const LOCK_FILE_NAME: &str = "lock";

/// An exclusive lock on a store directory, held until dropped.
#[derive(Debug)]
pub struct StoreLock {
    // Holding the descriptor holds the lock; closing it (on drop) releases it.
    _file: File,
    path: PathBuf,
}

/// Why the store could not be locked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Another process (or another open of the file) holds the lock.
    Held { path: PathBuf, holder: Option<u32> },
    /// Opening, locking or writing the lock file failed.
    Io {
        operation: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held { path, holder } => {
                write!(
                    f,
                    "Lock failed, MQ already started: {} is locked by ",
                    path.display()
                )?;
                match holder {
                    Some(pid) => write!(f, "pid {pid}"),
                    None => f.write_str("another process"),
                }
            }
            Self::Io {
                operation,
                path,
                error,
            } => write!(f, "{operation} {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LockError {}

/// Try to take an exclusive OFD write lock on the whole file without blocking.
fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock is plain old data; all-zero is a valid value (l_pid must be 0 for OFD).
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::c_short::try_from(libc::F_WRLCK).expect("F_WRLCK fits in c_short");
    request.l_whence = libc::c_short::try_from(libc::SEEK_SET).expect("SEEK_SET fits in c_short");
    // SAFETY: `request` is a valid flock for the duration of the call; the fd is open.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &raw const request) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// The pid recorded in the lock file, if it holds one.
fn recorded_pid(file: &mut File) -> Option<u32> {
    let mut contents = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut contents).ok()?;
    contents.trim().parse().ok()
}

impl StoreLock {
    /// Lock `<store_directory>/lock`, creating it if needed, and record our pid in it.
    pub fn acquire(store_directory: &Path) -> Result<Self, LockError> {
        let path = store_directory.join(LOCK_FILE_NAME);
        let io_error = |operation, error| LockError::Io {
            operation,
            path: path.clone(),
            error,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| io_error("open lock file", error))?;
        if !try_lock(&file).map_err(|error| io_error("fcntl(F_OFD_SETLK)", error))? {
            return Err(LockError::Held {
                holder: recorded_pid(&mut file),
                path,
            });
        }
        file.set_len(0)
            .map_err(|error| io_error("truncate lock file", error))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|error| io_error("write pid to lock file", error))?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_store_fails_naming_the_holder_pid() {
        let directory = tempfile::tempdir().expect("tempdir");
        let held = StoreLock::acquire(directory.path()).expect("first lock");
        let error = StoreLock::acquire(directory.path()).expect_err("second lock must fail");
        let expected = format!(
            "Lock failed, MQ already started: {} is locked by pid {}",
            held.path().display(),
            std::process::id()
        );
        assert_eq!(error.to_string(), expected);
        drop(held);
        StoreLock::acquire(directory.path()).expect("lock is free again after drop");
    }
}
