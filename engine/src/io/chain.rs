//! Chain bookkeeping shared by every backend: validating a chain before it runs, deciding
//! whether a link's outcome ends its chain, and turning links into completions.
//!
//! Invariants:
//! - a chain that fails validation never reaches the device: the first invalid link completes
//!   with its errno and every other link with `Canceled`, so the caller sees exactly one
//!   completion per link, as for a chain that ran;
//! - a link "ends the chain" when it failed *or transferred fewer bytes than asked* — the same
//!   rule io_uring applies to linked SQEs, so all backends cancel the same links.

use super::{ChainLink, Completion, FileHandle, IoBuffer, IoError, Op};

/// The file a link operates on.
pub(crate) fn link_file(op: &Op) -> FileHandle {
    match op {
        Op::Write { file, .. } | Op::Read { file, .. } | Op::Fdatasync { file } => *file,
    }
}

/// Bytes a read or write asks for; `None` for fdatasync.
pub(crate) fn requested_bytes(op: &Op) -> Option<usize> {
    match op {
        Op::Write { range, .. } | Op::Read { range, .. } => Some(range.len()),
        Op::Fdatasync { .. } => None,
    }
}

/// The buffer carried by a link, handed back in its completion.
pub(crate) fn into_buffer(op: Op) -> Option<IoBuffer> {
    match op {
        Op::Write { buffer, .. } | Op::Read { buffer, .. } => Some(buffer),
        Op::Fdatasync { .. } => None,
    }
}

/// A completion for a link that did not run because an earlier one failed or was short.
pub(crate) fn canceled(link: ChainLink) -> Completion {
    failed(link, IoError::canceled())
}

/// A completion for a link that failed with `error`.
pub(crate) fn failed(link: ChainLink, error: IoError) -> Completion {
    Completion {
        token: link.token,
        result: Err(error),
        buffer: into_buffer(link.op),
    }
}

/// Whether `result` for a link that asked for `requested` bytes stops the rest of the chain.
pub(crate) fn ends_chain(requested: Option<usize>, result: &Result<usize, IoError>) -> bool {
    match (requested, result) {
        (_, Err(_)) => true,
        (Some(requested), Ok(transferred)) => *transferred < requested,
        (None, Ok(_)) => false,
    }
}

/// The first link that can never run, with the errno it completes with: an unknown file
/// (EBADF), a range outside its buffer or longer than `link_bytes_max` (EINVAL), or a chain
/// longer than `links_max` (EINVAL on its first link).
pub(crate) fn first_invalid(
    links: &[ChainLink],
    is_open: impl Fn(FileHandle) -> bool,
    links_max: usize,
    link_bytes_max: usize,
) -> Option<(usize, i32)> {
    if links.len() > links_max {
        return Some((0, libc::EINVAL));
    }
    links.iter().enumerate().find_map(|(index, link)| {
        if !is_open(link_file(&link.op)) {
            return Some((index, libc::EBADF));
        }
        match &link.op {
            Op::Write { buffer, range, .. } | Op::Read { buffer, range, .. } => {
                let inside = range.start <= range.end && range.end <= buffer.capacity();
                (!inside || range.len() > link_bytes_max).then_some((index, libc::EINVAL))
            }
            Op::Fdatasync { .. } => None,
        }
    })
}

/// Completions for a chain rejected at validation: `errno` for link `invalid`, `Canceled` for
/// the others (none of them ran).
pub(crate) fn reject(links: Vec<ChainLink>, invalid: usize, errno: i32) -> Vec<Completion> {
    links
        .into_iter()
        .enumerate()
        .map(|(index, link)| {
            if index == invalid {
                failed(link, IoError::from_errno(errno))
            } else {
                canceled(link)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::IoErrorKind;

    fn write(file: u32, range: std::ops::Range<usize>) -> ChainLink {
        ChainLink {
            op: Op::Write {
                file: FileHandle(file),
                offset: 0,
                buffer: IoBuffer::unpooled(4096),
                range,
                atomic: false,
            },
            token: 1,
        }
    }

    #[test]
    fn a_short_transfer_ends_the_chain_but_a_full_one_does_not() {
        assert!(ends_chain(Some(4096), &Ok(512)));
        assert!(!ends_chain(Some(4096), &Ok(4096)));
        assert!(!ends_chain(None, &Ok(0)));
        assert!(ends_chain(None, &Err(IoError::from_errno(libc::EIO))));
    }

    #[test]
    fn a_range_past_the_buffer_or_an_unknown_file_is_rejected_before_running() {
        let links = vec![write(1, 0..4096), write(1, 0..8192)];
        assert_eq!(
            first_invalid(&links, |_| true, 8, usize::MAX),
            Some((1, libc::EINVAL))
        );
        assert_eq!(
            first_invalid(&links, |file| file.0 != 1, 8, usize::MAX),
            Some((0, libc::EBADF))
        );
        let completions = reject(links, 1, libc::EINVAL);
        let kinds: Vec<_> = completions
            .iter()
            .map(|c| c.result.as_ref().map_err(|e| e.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![Err(IoErrorKind::Canceled), Err(IoErrorKind::Other)]
        );
        assert!(completions.iter().all(|c| c.buffer.is_some()));
    }
}
