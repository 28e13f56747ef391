//! The classic master/slave HA stream (RocketMQ `HAService`/`HAConnection`, reference §5.1).
//!
//! Plain TCP on the master's HA port, no framing or handshake:
//! - slave → master: 8-byte big-endian reports of the slave's commitlog offset. The first one
//!   says where to start; every one acknowledges that much. A reader uses only the last
//!   complete report in what it has buffered.
//! - master → slave: transfers `[i64 master offset][i32 body size][body]`, the body being raw
//!   commitlog bytes starting at that offset; a transfer with an empty body is a heartbeat.
//!
//! ```text
//! report:    | offset: i64 BE |
//! transfer:  | offset: i64 BE | size: i32 BE | size bytes of commitlog |
//! ```

/// Bytes of one slave report.
pub const REPORT_BYTES: usize = 8;
/// Bytes of a transfer header.
pub const TRANSFER_HEADER_BYTES: usize = 12;

/// Encode a slave report.
#[must_use]
pub fn encode_report(offset: u64) -> [u8; REPORT_BYTES] {
    offset.to_be_bytes()
}

/// The newest complete report in `buffered` and how many bytes it accounts for (a multiple
/// of 8; a trailing partial report stays for the next read).
#[must_use]
pub fn last_report(buffered: &[u8]) -> Option<(u64, usize)> {
    let complete = buffered.len() - buffered.len() % REPORT_BYTES;
    let last = buffered.get(complete.checked_sub(REPORT_BYTES)?..complete)?;
    let offset = u64::from_be_bytes(last.try_into().ok()?);
    Some((offset, complete))
}

/// Encode a transfer header for `size` body bytes at `offset`.
#[must_use]
pub fn encode_transfer_header(offset: u64, size: u32) -> [u8; TRANSFER_HEADER_BYTES] {
    let mut header = [0u8; TRANSFER_HEADER_BYTES];
    header[..8].copy_from_slice(&offset.to_be_bytes());
    header[8..].copy_from_slice(&size.to_be_bytes());
    header
}

/// A decoded transfer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferHeader {
    pub offset: u64,
    pub size: u32,
}

/// Why a transfer header is unacceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferError {
    NegativeSize(i32),
    NegativeOffset(i64),
    TooLarge { size: u32, max: u32 },
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NegativeSize(size) => {
                write!(f, "HA transfer header claims a negative body size {size}")
            }
            Self::NegativeOffset(offset) => {
                write!(f, "HA transfer header claims a negative offset {offset}")
            }
            Self::TooLarge { size, max } => write!(
                f,
                "HA transfer body of {size} bytes exceeds the limit of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for TransferError {}

/// Decode the header at the start of `buffered`; `None` until 12 bytes are there.
///
/// # Errors
/// A negative offset or size, or a body over `max_body` bytes.
pub fn decode_transfer_header(
    buffered: &[u8],
    max_body: u32,
) -> Result<Option<TransferHeader>, TransferError> {
    let Some(header) = buffered.get(..TRANSFER_HEADER_BYTES) else {
        return Ok(None);
    };
    let offset = i64::from_be_bytes(header[..8].try_into().unwrap_or_default());
    let size = i32::from_be_bytes(header[8..].try_into().unwrap_or_default());
    let offset = u64::try_from(offset).map_err(|_| TransferError::NegativeOffset(offset))?;
    let size = u32::try_from(size).map_err(|_| TransferError::NegativeSize(size))?;
    if size > max_body {
        return Err(TransferError::TooLarge {
            size,
            max: max_body,
        });
    }
    Ok(Some(TransferHeader { offset, size }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: a master that reads a report split across reads, or several at once, must act
    // on the newest complete one only (RocketMQ's `pos - pos % 8` rule).
    #[test]
    fn last_report_uses_newest_complete_value() {
        assert_eq!(last_report(&[0, 0, 0]), None);
        let mut buffered = Vec::new();
        buffered.extend_from_slice(&encode_report(7));
        buffered.extend_from_slice(&encode_report(4096));
        buffered.extend_from_slice(&[1, 2, 3]);
        assert_eq!(last_report(&buffered), Some((4096, 16)));
    }

    // Hazard: the 12-byte header layout is what a RocketMQ slave parses; sizes out of range
    // must be refused rather than allocating what a corrupt header says.
    #[test]
    fn transfer_header_round_trips_and_rejects_bad_sizes() {
        let header = encode_transfer_header((1 << 48) + 12, 300);
        assert_eq!(
            decode_transfer_header(&header, 1024),
            Ok(Some(TransferHeader {
                offset: (1 << 48) + 12,
                size: 300
            }))
        );
        assert_eq!(decode_transfer_header(&header[..11], 1024), Ok(None));
        assert_eq!(
            decode_transfer_header(&header, 100),
            Err(TransferError::TooLarge {
                size: 300,
                max: 100
            })
        );
        let negative = encode_transfer_header(5, u32::MAX);
        assert_eq!(
            decode_transfer_header(&negative, 1024),
            Err(TransferError::NegativeSize(-1))
        );
    }
}
