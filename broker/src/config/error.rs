//! Why a broker config was refused: every problem found, each with its line.

use std::fmt;
use std::path::PathBuf;

/// What kind of mistake a [`Problem`] is, for callers that branch (tests, `mqadmin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The line is not valid `.properties` text (a malformed `\uXXXX` escape).
    Syntax,
    /// A known key whose value does not parse or is out of range.
    BadValue,
    /// Values that are each fine but contradict one another (a SLAVE with `brokerId=0`).
    Inconsistent,
    /// Two spellings of one setting with different values (`mapedFileSizeCommitLog` and
    /// `mappedFileSizeCommitLog`).
    Conflict,
}

/// One thing wrong with a config, located where possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The key the problem is about, when there is one.
    pub key: Option<String>,
    /// 1-based line in the file, when the problem comes from a line (not from a default).
    pub line: Option<usize>,
    /// Complete sentence such as `brokerRole=SYSC_MASTER: expected one of …`.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(kind: ProblemKind, key: &str, line: Option<usize>, message: String) -> Self {
        Self {
            kind,
            key: Some(key.to_owned()),
            line,
            message,
        }
    }

    /// `origin:line: message`, the form every problem and warning is reported in.
    pub fn located(&self, origin: &str) -> String {
        located(origin, self.line, &self.message)
    }
}

pub(crate) fn located(origin: &str, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("{origin}:{line}: {message}"),
        None => format!("{origin}: {message}"),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A broker config that cannot be used. The broker must not start with it.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The text was read but has problems; all of them are listed, not just the first.
    Invalid {
        /// File name (or `-n` for a command-line override) used as the location prefix.
        origin: String,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found; empty for a read failure.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Read { .. } => &[],
            Self::Invalid { problems, .. } => problems,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(
                f,
                "cannot read broker config {}: {source}; check the path given with -c",
                path.display()
            ),
            Self::Invalid { origin, problems } => {
                for (index, problem) in problems.iter().enumerate() {
                    if index > 0 {
                        f.write_str("\n")?;
                    }
                    f.write_str(&problem.located(origin))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Invalid { .. } => None,
        }
    }
}
