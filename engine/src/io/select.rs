//! Choosing the backend at startup (`--io-backend=auto|uring|fallback`).
//!
//! Policy: `auto` uses io_uring and falls back to the pwrite helper thread only when io_uring
//! is *unavailable* — setup fails with ENOSYS (no kernel support), EPERM (the
//! `kernel.io_uring_disabled` sysctl, its group, or a seccomp profile such as Docker's
//! default) or EINVAL (flags or ABI the kernel does not know), or a required opcode is
//! missing. Resource failures such as ENOMEM are errors, never a silent switch, because the
//! fallback would hide a misconfigured host. `uring` never falls back.
//!
//! The returned log line says which backend runs and why, so an operator reading the startup
//! log can tell a container's seccomp profile from a disabled sysctl.

use std::fmt;
use std::io;
use std::str::FromStr;

use super::fallback::{FallbackConfig, FallbackStorage};
use super::memlock::PoolRequest;
use super::uring::{RingFlavor, UringConfig, UringSetupError, UringStorage};
use super::Storage;

/// The `--io-backend` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring when available, else the fallback (see the module docs for "available").
    #[default]
    Auto,
    Uring,
    Fallback,
}

/// An `--io-backend` value we do not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseBackendChoiceError {
    pub value: String,
}

impl fmt::Display for ParseBackendChoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown io backend {:?}: expected one of auto, uring, fallback",
            self.value
        )
    }
}

impl std::error::Error for ParseBackendChoiceError {}

impl FromStr for BackendChoice {
    type Err = ParseBackendChoiceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "auto" => Ok(Self::Auto),
            "uring" => Ok(Self::Uring),
            "fallback" => Ok(Self::Fallback),
            _ => Err(ParseBackendChoiceError {
                value: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Uring => "uring",
            Self::Fallback => "fallback",
        })
    }
}

/// Why no backend could be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum SelectError {
    /// `uring` was requested and io_uring is unavailable here.
    UringUnavailable { reason: String },
    /// io_uring exists but could not be set up (for example ENOMEM); not a reason to fall back.
    UringSetup { error: UringSetupError },
    /// The fallback backend could not start (eventfd, helper thread or pool allocation).
    FallbackSetup { error: io::Error },
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UringUnavailable { reason } => write!(
                f,
                "--io-backend=uring was requested but io_uring is unavailable: {reason}; \
                 use --io-backend=auto or fallback, or allow io_uring \
                 (sysctl kernel.io_uring_disabled=0, a seccomp profile permitting io_uring_*)"
            ),
            Self::UringSetup { error } => write!(
                f,
                "io_uring setup failed: {error}; not falling back because this is a resource \
                 problem, not a missing feature (check memory limits and LimitMEMLOCK)"
            ),
            Self::FallbackSetup { error } => {
                write!(f, "starting the fallback io backend failed: {error}")
            }
        }
    }
}

impl std::error::Error for SelectError {}

/// Host settings that explain an unavailable io_uring, e.g. "kernel.io_uring_disabled=2".
fn environment_hints() -> Vec<String> {
    let mut hints = Vec::new();
    if let Ok(value) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        let value = value.trim();
        if value != "0" {
            hints.push(format!("kernel.io_uring_disabled={value}"));
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let filtered = status
            .lines()
            .any(|line| line.starts_with("Seccomp:") && line.trim_end().ends_with('2'));
        if filtered {
            hints.push(
                "a seccomp filter is active (Docker's default profile blocks io_uring)".to_owned(),
            );
        }
    }
    hints
}

/// "io_uring_setup failed with EPERM; kernel.io_uring_disabled=2".
fn unavailable_reason(error: &UringSetupError, hints: &[String]) -> String {
    std::iter::once(error.to_string())
        .chain(hints.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn open_fallback(pool_bytes: usize, chunk_bytes: usize) -> Result<Box<dyn Storage>, SelectError> {
    FallbackStorage::new(&FallbackConfig::new(pool_bytes, chunk_bytes))
        .map(|storage| Box::new(storage) as Box<dyn Storage>)
        .map_err(|error| SelectError::FallbackSetup { error })
}

/// "io backend: io_uring (ring with no task-run flags; buffer pool 96 MiB, registered (…))".
fn uring_log_line(storage: &UringStorage) -> String {
    let flags = match storage.flavor() {
        RingFlavor::DeferTaskrun => "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN",
        RingFlavor::Plain => "no task-run flags",
    };
    format!(
        "io backend: io_uring (ring with {flags}; {})",
        storage.pool_note()
    )
}

/// Open the backend `choice` asks for, on the calling shard thread, with a buffer pool of
/// exactly `pool_bytes` in `chunk_bytes` chunks, registered with io_uring if RLIMIT_MEMLOCK
/// allows it for one ring. Returns the storage and a log line saying which backend runs and
/// why.
pub fn open_backend(
    choice: BackendChoice,
    pool_bytes: usize,
    chunk_bytes: usize,
) -> Result<(Box<dyn Storage>, String), SelectError> {
    open_backend_for(choice, &PoolRequest::explicit(pool_bytes), chunk_bytes)
}

/// [`open_backend`] with the pool `pool` asks for: io_uring sizes and registers it as
/// [`super::memlock`] decides; the fallback, which registers nothing, gets `pool.bytes`.
pub fn open_backend_for(
    choice: BackendChoice,
    pool: &PoolRequest,
    chunk_bytes: usize,
) -> Result<(Box<dyn Storage>, String), SelectError> {
    open_backend_with(choice, pool.bytes, chunk_bytes, || {
        UringStorage::new(&UringConfig::for_pool(pool, chunk_bytes))
    })
}

/// `open_backend` with the io_uring setup injected, so the policy is testable on a host
/// where io_uring works. `pool_bytes` is the fallback's pool.
fn open_backend_with(
    choice: BackendChoice,
    pool_bytes: usize,
    chunk_bytes: usize,
    set_up_uring: impl FnOnce() -> Result<UringStorage, UringSetupError>,
) -> Result<(Box<dyn Storage>, String), SelectError> {
    if choice == BackendChoice::Fallback {
        let storage = open_fallback(pool_bytes, chunk_bytes)?;
        return Ok((
            storage,
            "io backend: fallback (chosen by --io-backend=fallback)".to_owned(),
        ));
    }
    match set_up_uring() {
        Ok(storage) => {
            let line = uring_log_line(&storage);
            Ok((Box::new(storage), line))
        }
        Err(error) if error.means_unavailable() => {
            let reason = unavailable_reason(&error, &environment_hints());
            if choice == BackendChoice::Uring {
                return Err(SelectError::UringUnavailable { reason });
            }
            let storage = open_fallback(pool_bytes, chunk_bytes)?;
            Ok((
                storage,
                format!("io backend: fallback (io_uring unavailable: {reason})"),
            ))
        }
        Err(error) => Err(SelectError::UringSetup { error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_backend_name_is_rejected_naming_the_accepted_ones() {
        assert_eq!("auto".parse(), Ok(BackendChoice::Auto));
        assert_eq!("uring".parse(), Ok(BackendChoice::Uring));
        assert_eq!("fallback".parse(), Ok(BackendChoice::Fallback));
        let error = "legacy".parse::<BackendChoice>().expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "unknown io backend \"legacy\": expected one of auto, uring, fallback"
        );
    }

    #[test]
    fn the_fallback_reason_names_the_errno_and_the_sysctl() {
        let error = UringSetupError::Syscall {
            operation: "io_uring_setup",
            error: io::Error::from_raw_os_error(libc::EPERM),
        };
        let reason = unavailable_reason(&error, &["kernel.io_uring_disabled=2".to_owned()]);
        assert!(
            reason.starts_with("io_uring_setup failed with EPERM"),
            "{reason}"
        );
        assert!(reason.ends_with("; kernel.io_uring_disabled=2"), "{reason}");
    }

    #[test]
    fn auto_picks_io_uring_where_it_is_enabled_and_explains_a_fallback_otherwise() {
        let (storage, line) =
            open_backend(BackendChoice::Auto, 1 << 20, 64 << 10).expect("some backend opens");
        println!("{line}");
        match storage.kind() {
            super::super::BackendKind::Uring => {
                assert!(line.starts_with("io backend: io_uring"), "{line}");
            }
            _ => assert!(
                line.starts_with("io backend: fallback (io_uring unavailable: "),
                "{line}"
            ),
        }
    }

    #[test]
    fn forcing_the_fallback_says_so_in_the_log_line() {
        let (storage, line) =
            open_backend(BackendChoice::Fallback, 1 << 20, 64 << 10).expect("fallback opens");
        assert_eq!(storage.kind(), super::super::BackendKind::Fallback);
        assert_eq!(
            line,
            "io backend: fallback (chosen by --io-backend=fallback)"
        );
    }

    fn failing_setup(errno: i32) -> impl FnOnce() -> Result<UringStorage, UringSetupError> {
        move || {
            Err(UringSetupError::Syscall {
                operation: "io_uring_setup",
                error: io::Error::from_raw_os_error(errno),
            })
        }
    }

    #[test]
    fn auto_falls_back_when_io_uring_setup_is_denied_and_names_the_errno() {
        let (storage, line) = open_backend_with(
            BackendChoice::Auto,
            1 << 20,
            64 << 10,
            failing_setup(libc::EPERM),
        )
        .expect("fallback");
        assert_eq!(storage.kind(), super::super::BackendKind::Fallback);
        assert!(
            line.starts_with(
                "io backend: fallback (io_uring unavailable: io_uring_setup failed with EPERM"
            ),
            "{line}"
        );
    }

    #[test]
    fn auto_does_not_hide_enomem_behind_the_fallback() {
        let result = open_backend_with(
            BackendChoice::Auto,
            1 << 20,
            64 << 10,
            failing_setup(libc::ENOMEM),
        );
        let Err(error) = result else {
            panic!("ENOMEM must be an error, not a silent fallback");
        };
        assert!(matches!(error, SelectError::UringSetup { .. }), "{error}");
        assert!(error.to_string().contains("ENOMEM"), "{error}");
    }

    #[test]
    fn forcing_uring_where_it_is_unavailable_is_a_clear_error() {
        let result = open_backend_with(
            BackendChoice::Uring,
            1 << 20,
            64 << 10,
            failing_setup(libc::ENOSYS),
        );
        let Err(error) = result else {
            panic!("uring was forced");
        };
        let message = error.to_string();
        assert!(
            message.starts_with("--io-backend=uring was requested"),
            "{message}"
        );
        assert!(message.contains("ENOSYS"), "{message}");
    }
}
