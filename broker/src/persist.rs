//! Small JSON tables under `store/config/`, written the way a crash cannot tear them:
//! a temporary file, fsync, rename over the old one, fsync of the directory.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// Replace `path` with `contents` atomically and durably.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(directory)?;
    let temporary = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    fs::File::open(directory)?.sync_all()
}

/// The JSON table stored at `path`, or its default when the file does not exist yet. A file
/// that does not decode is an error naming the path, never silently replaced.
pub(crate) fn load_json<T: ringmq_protocol::body::JsonBody + Default>(
    path: &Path,
) -> io::Result<T> {
    match fs::read(path) {
        Ok(bytes) => T::decode(&bytes).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {error}", path.display()),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(error) => Err(error),
    }
}
