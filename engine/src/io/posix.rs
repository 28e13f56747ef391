//! Synchronous control-plane syscalls shared by the io_uring and fallback backends: open with
//! O_DIRECT, fallocate, ftruncate, pread/pwrite/fdatasync, directory fsync, rename, atomic
//! small-file replacement and statvfs.
//!
//! Invariants:
//! - a [`FileTable`] entry is not closed while operations on it are in flight (`close` fails
//!   with EBUSY), because a backend addresses the file by raw descriptor and a closed number
//!   can be reused by the next `open` — an in-flight write would then land in the wrong file;
//! - every error names the operation and the path, so an operator can act on it.
//!
//! Durability contract: `write_whole_atomic` makes the new contents durable before the rename
//! and the rename durable before returning (fdatasync, rename, directory fsync).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Create, FileHandle, OpenMode, UntornWrites};

/// One open file and the number of data-plane operations that still reference it.
#[derive(Debug)]
struct FileEntry {
    file: File,
    path: PathBuf,
    in_flight: usize,
    untorn: UntornWrites,
}

/// What `statx` says about untorn 4 KiB writes to an O_DIRECT file: the atomic-write unit
/// range (STATX_WRITE_ATOMIC, Linux 6.11+) and the O_DIRECT offset alignment, which is the
/// device's logical block (STATX_DIOALIGN, 6.1+). A kernel or filesystem that reports neither
/// gives `Tearable`; the probe never fails an open.
fn probe_untorn_writes(file: &File) -> UntornWrites {
    // SAFETY: statx is plain old data; all-zero is a valid value for it.
    let mut answer: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_DIOALIGN | libc::STATX_WRITE_ATOMIC;
    // SAFETY: the descriptor is owned by `file`, which outlives the call; the path is an empty
    // NUL-terminated string (AT_EMPTY_PATH: the descriptor itself) and `answer` is a valid
    // out-pointer for the whole call.
    let result = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            mask,
            &raw mut answer,
        )
    };
    if result != 0 {
        return UntornWrites::from_statx(None, None);
    }
    let atomic = (answer.stx_mask & libc::STATX_WRITE_ATOMIC != 0).then_some((
        answer.stx_atomic_write_unit_min,
        answer.stx_atomic_write_unit_max,
    ));
    let block =
        (answer.stx_mask & libc::STATX_DIOALIGN != 0).then_some(answer.stx_dio_offset_align);
    UntornWrites::from_statx(atomic, block)
}

/// Open files of one backend instance, addressed by [`FileHandle`].
#[derive(Debug, Default)]
pub(crate) struct FileTable {
    entries: BTreeMap<u32, FileEntry>,
    next_handle: u32,
}

/// Wrap an OS error with the operation and path, keeping its kind for callers that branch.
pub(crate) fn annotate(error: &io::Error, operation: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{operation} {}: {error}", path.display()),
    )
}

impl FileTable {
    pub(crate) fn open(
        &mut self,
        path: &Path,
        create: Create,
        mode: OpenMode,
    ) -> io::Result<FileHandle> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .create(create == Create::Yes)
            .mode(0o644);
        // std always adds O_CLOEXEC.
        if mode == OpenMode::Direct {
            options.custom_flags(libc::O_DIRECT);
        }
        let file = options.open(path).map_err(|error| {
            if mode == OpenMode::Direct && error.raw_os_error() == Some(libc::EINVAL) {
                let message = format!(
                    "open {} with O_DIRECT: {error}; the filesystem does not support direct I/O \
                     (tmpfs does not): put the store on ext4 or xfs",
                    path.display()
                );
                io::Error::new(error.kind(), message)
            } else {
                annotate(&error, "open", path)
            }
        })?;
        let handle = self.next_handle;
        self.next_handle = self
            .next_handle
            .checked_add(1)
            .ok_or_else(|| io::Error::other("file handles exhausted"))?;
        let untorn = match mode {
            OpenMode::Direct => probe_untorn_writes(&file),
            OpenMode::Buffered => UntornWrites::from_statx(None, None),
        };
        self.entries.insert(
            handle,
            FileEntry {
                file,
                path: path.to_path_buf(),
                in_flight: 0,
                untorn,
            },
        );
        Ok(FileHandle(handle))
    }

    pub(crate) fn close(&mut self, handle: FileHandle) -> io::Result<()> {
        let entry = self.entry(handle)?;
        if entry.in_flight > 0 {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "close {}: {} operations still in flight; poll them first",
                    entry.path.display(),
                    entry.in_flight
                ),
            ));
        }
        self.entries.remove(&handle.0);
        Ok(())
    }

    /// What the probe at open found (`Tearable` for an unknown handle).
    pub(crate) fn untorn_writes(&self, handle: FileHandle) -> UntornWrites {
        self.entries
            .get(&handle.0)
            .map_or(UntornWrites::from_statx(None, None), |entry| entry.untorn)
    }

    pub(crate) fn is_open(&self, handle: FileHandle) -> bool {
        self.entries.contains_key(&handle.0)
    }

    /// Descriptor for a data-plane op; counts the op as in flight until `end_operation`.
    pub(crate) fn begin_operation(&mut self, handle: FileHandle) -> Option<RawFd> {
        let entry = self.entries.get_mut(&handle.0)?;
        entry.in_flight += 1;
        Some(entry.file.as_raw_fd())
    }

    pub(crate) fn end_operation(&mut self, handle: FileHandle) {
        if let Some(entry) = self.entries.get_mut(&handle.0) {
            assert!(entry.in_flight > 0, "operation ended twice");
            entry.in_flight -= 1;
        }
    }

    fn entry(&self, handle: FileHandle) -> io::Result<&FileEntry> {
        self.entries.get(&handle.0).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown file handle {}", handle.0),
            )
        })
    }

    pub(crate) fn allocate(&mut self, handle: FileHandle, length: u64) -> io::Result<()> {
        let entry = self.entry(handle)?;
        let length = libc::off_t::try_from(length)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length exceeds off_t"))?;
        // Mode 0 (no KEEP_SIZE): i_size becomes `length` now, so appends never change it and
        // fdatasync after each append has no size metadata to write.
        // SAFETY: the descriptor is owned by `entry.file`, which outlives the call.
        let result = unsafe { libc::fallocate(entry.file.as_raw_fd(), 0, 0, length) };
        if result == 0 {
            Ok(())
        } else {
            Err(annotate(
                &io::Error::last_os_error(),
                "fallocate",
                &entry.path,
            ))
        }
    }

    pub(crate) fn file_size(&mut self, handle: FileHandle) -> io::Result<u64> {
        let entry = self.entry(handle)?;
        let metadata = entry
            .file
            .metadata()
            .map_err(|error| annotate(&error, "fstat", &entry.path))?;
        Ok(metadata.len())
    }

    pub(crate) fn truncate(&mut self, handle: FileHandle, length: u64) -> io::Result<()> {
        let entry = self.entry(handle)?;
        entry
            .file
            .set_len(length)
            .map_err(|error| annotate(&error, "ftruncate", &entry.path))
    }

    /// pread until `target` is full or end of file; returns the bytes read.
    pub(crate) fn read_blocking(
        &mut self,
        handle: FileHandle,
        offset: u64,
        target: &mut [u8],
    ) -> io::Result<usize> {
        let entry = self.entry(handle)?;
        let mut done = 0;
        while done < target.len() {
            let position = offset + u64::try_from(done).unwrap_or(u64::MAX);
            match entry.file.read_at(&mut target[done..], position) {
                Ok(0) => break,
                Ok(count) => done += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(annotate(&error, "pread", &entry.path)),
            }
        }
        Ok(done)
    }

    pub(crate) fn write_blocking(
        &mut self,
        handle: FileHandle,
        offset: u64,
        source: &[u8],
    ) -> io::Result<()> {
        let entry = self.entry(handle)?;
        entry
            .file
            .write_all_at(source, offset)
            .map_err(|error| annotate(&error, "pwrite", &entry.path))
    }

    pub(crate) fn sync_blocking(&mut self, handle: FileHandle) -> io::Result<()> {
        let entry = self.entry(handle)?;
        entry
            .file
            .sync_data()
            .map_err(|error| annotate(&error, "fdatasync", &entry.path))
    }
}

pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    fs::remove_file(path).map_err(|error| annotate(&error, "unlink", path))
}

pub(crate) fn rename(source: &Path, target: &Path) -> io::Result<()> {
    fs::rename(source, target).map_err(|error| {
        let message = format!(
            "rename {} to {}: {error}",
            source.display(),
            target.display()
        );
        io::Error::new(error.kind(), message)
    })
}

pub(crate) fn create_directory_all(path: &Path) -> io::Result<()> {
    fs::create_dir_all(path).map_err(|error| annotate(&error, "mkdir -p", path))
}

pub(crate) fn sync_directory(path: &Path) -> io::Result<()> {
    let directory = File::open(path).map_err(|error| annotate(&error, "open directory", path))?;
    directory
        .sync_all()
        .map_err(|error| annotate(&error, "fsync directory", path))
}

/// Entry names, sorted so callers iterate deterministically; empty if `path` does not exist.
pub(crate) fn list_directory(path: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(annotate(&error, "readdir", path)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| annotate(&error, "readdir", path))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}

pub(crate) fn read_whole(path: &Path) -> io::Result<Vec<u8>> {
    fs::read(path).map_err(|error| annotate(&error, "read", path))
}

/// The temporary sibling `write_whole_atomic` writes before renaming.
pub(crate) fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// The directory holding `path` ("." for a bare name).
pub(crate) fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

pub(crate) fn write_whole_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = temporary_sibling(path);
    {
        let file = File::create(&temporary).map_err(|error| annotate(&error, "create", path))?;
        file.write_all_at(contents, 0)
            .map_err(|error| annotate(&error, "write", &temporary))?;
        file.sync_data()
            .map_err(|error| annotate(&error, "fdatasync", &temporary))?;
    }
    rename(&temporary, path)?;
    sync_directory(parent_directory(path))
}

/// (used bytes, total bytes) of the filesystem holding `path`.
pub(crate) fn disk_usage(path: &Path) -> io::Result<(u64, u64)> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value for it.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `stats` a valid out-pointer.
    let result = unsafe { libc::statvfs(c_path.as_ptr(), &raw mut stats) };
    if result != 0 {
        return Err(annotate(&io::Error::last_os_error(), "statvfs", path));
    }
    let fragment = stats.f_frsize;
    let total = stats.f_blocks.saturating_mul(fragment);
    let used = stats
        .f_blocks
        .saturating_sub(stats.f_bfree)
        .saturating_mul(fragment);
    Ok((used, total))
}

/// The soft RLIMIT_MEMLOCK in bytes; `None` when unlimited.
pub(crate) fn memlock_limit_bytes() -> io::Result<Option<u64>> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer for the duration of the call.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &raw mut limit) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur))
}

/// Ask the kernel not to back `[base, base + length)` with transparent huge pages
/// (MADV_NOHUGEPAGE). `base` must be page-aligned.
pub(crate) fn keep_off_huge_pages(base: *mut u8, length: usize) -> io::Result<()> {
    // SAFETY: madvise with MADV_NOHUGEPAGE changes only how the kernel may back the range,
    // never its contents; the caller passes a range of memory it owns.
    let result = unsafe { libc::madvise(base.cast(), length, libc::MADV_NOHUGEPAGE) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: eventfd has no pointer arguments.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Reset an eventfd so it becomes readable again only on the next signal.
pub(crate) fn eventfd_drain(fd: RawFd) {
    let mut counter = 0u64;
    // SAFETY: reads 8 bytes into a u64 we own; EAGAIN (nothing pending) is fine to ignore.
    let _ = unsafe { libc::read(fd, (&raw mut counter).cast(), 8) };
}

/// Make an eventfd readable.
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one = 1u64;
    // SAFETY: writes 8 bytes from a u64 we own; failure only means the counter is saturated,
    // which still leaves the descriptor readable.
    let _ = unsafe { libc::write(fd, (&raw const one).cast(), 8) };
}

/// The control-plane half of `Storage` that the io_uring and fallback backends share: file
/// operations on the backend's `files` table, path operations straight to this module, and
/// chunks from its `pool`. Expanded inside each backend's `impl Storage`.
macro_rules! posix_control_plane {
    () => {
        fn open(
            &mut self,
            path: &std::path::Path,
            create: $crate::io::Create,
            mode: $crate::io::OpenMode,
        ) -> std::io::Result<$crate::io::FileHandle> {
            self.files.open(path, create, mode)
        }

        fn close(&mut self, file: $crate::io::FileHandle) -> std::io::Result<()> {
            self.files.close(file)
        }

        fn untorn_writes(&self, file: $crate::io::FileHandle) -> $crate::io::UntornWrites {
            self.files.untorn_writes(file)
        }

        fn allocate(&mut self, file: $crate::io::FileHandle, length: u64) -> std::io::Result<()> {
            self.files.allocate(file, length)
        }

        fn file_size(&mut self, file: $crate::io::FileHandle) -> std::io::Result<u64> {
            self.files.file_size(file)
        }

        fn truncate(&mut self, file: $crate::io::FileHandle, length: u64) -> std::io::Result<()> {
            self.files.truncate(file, length)
        }

        fn read_blocking(
            &mut self,
            file: $crate::io::FileHandle,
            offset: u64,
            target: &mut [u8],
        ) -> std::io::Result<usize> {
            self.files.read_blocking(file, offset, target)
        }

        fn write_blocking(
            &mut self,
            file: $crate::io::FileHandle,
            offset: u64,
            source: &[u8],
        ) -> std::io::Result<()> {
            self.files.write_blocking(file, offset, source)
        }

        fn sync_blocking(&mut self, file: $crate::io::FileHandle) -> std::io::Result<()> {
            self.files.sync_blocking(file)
        }

        fn remove_file(&mut self, path: &std::path::Path) -> std::io::Result<()> {
            $crate::io::posix::remove_file(path)
        }

        fn rename(
            &mut self,
            source: &std::path::Path,
            target: &std::path::Path,
        ) -> std::io::Result<()> {
            $crate::io::posix::rename(source, target)
        }

        fn create_directory_all(&mut self, path: &std::path::Path) -> std::io::Result<()> {
            $crate::io::posix::create_directory_all(path)
        }

        fn sync_directory(&mut self, path: &std::path::Path) -> std::io::Result<()> {
            $crate::io::posix::sync_directory(path)
        }

        fn list_directory(&mut self, path: &std::path::Path) -> std::io::Result<Vec<String>> {
            $crate::io::posix::list_directory(path)
        }

        fn exists(&mut self, path: &std::path::Path) -> bool {
            $crate::io::posix::exists(path)
        }

        fn read_whole(&mut self, path: &std::path::Path) -> std::io::Result<Vec<u8>> {
            $crate::io::posix::read_whole(path)
        }

        fn write_whole_atomic(
            &mut self,
            path: &std::path::Path,
            contents: &[u8],
        ) -> std::io::Result<()> {
            $crate::io::posix::write_whole_atomic(path, contents)
        }

        fn disk_usage(&mut self, path: &std::path::Path) -> std::io::Result<(u64, u64)> {
            $crate::io::posix::disk_usage(path)
        }

        fn buffer(&mut self) -> Option<$crate::io::IoBuffer> {
            self.pool.take()
        }

        fn recycle(&mut self, buffer: $crate::io::IoBuffer) {
            // Dropping sends the chunk home to whichever pool it came from.
            drop(buffer);
        }
    };
}

pub(crate) use posix_control_plane;
