//! The SEND_BATCH_MESSAGE (320) body: client-encoded messages, concatenated
//! (Java `MessageDecoder.encodeMessages`).
//!
//! ```text
//!  @0  TOTALSIZE i32   whole entry, this field included
//!  @4  MAGICCODE i32   0 from clients; ignored
//!  @8  BODYCRC   i32   0 from clients; ignored (the broker computes its own)
//!  @12 FLAG      i32   user flag
//!  @16 BODYLEN   i32 + BODY
//!      PROPLEN   i16 + PROPERTIES (UTF-8 `key\x01value\x02`...)
//! ```
//! Fixed overhead 22 bytes per entry; TOTALSIZE must equal 22 + BODYLEN + PROPLEN, so a torn
//! or garbled body is rejected rather than split at the wrong place.

use std::fmt;

/// Bytes of an entry without body and properties.
pub const ENTRY_FIXED_BYTES: usize = 22;

/// One message of a batch, borrowing from the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    pub flag: i32,
    pub body: &'a [u8],
    pub properties: &'a str,
}

/// Why a batch body is malformed; `offset` is where the bad entry starts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchError {
    /// Fewer bytes remain than the entry needs.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A length field is negative.
    NegativeLength {
        offset: usize,
        field: &'static str,
        length: i32,
    },
    /// TOTALSIZE disagrees with the body and properties lengths.
    SizeMismatch {
        offset: usize,
        total_size: usize,
        computed: usize,
    },
    /// The properties are not UTF-8.
    PropertiesNotUtf8 { offset: usize },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "batch entry at byte {offset} is truncated: needs {needed} bytes, {available} left"
            ),
            Self::NegativeLength {
                offset,
                field,
                length,
            } => write!(
                f,
                "batch entry at byte {offset} has negative {field} {length}; expected >= 0"
            ),
            Self::SizeMismatch {
                offset,
                total_size,
                computed,
            } => write!(
                f,
                "batch entry at byte {offset} says TOTALSIZE {total_size} but its fields \
                 add up to {computed}"
            ),
            Self::PropertiesNotUtf8 { offset } => {
                write!(
                    f,
                    "batch entry at byte {offset} has properties that are not UTF-8"
                )
            }
        }
    }
}

impl std::error::Error for BatchError {}

/// Iterate the entries of a batch body. Yields `Err` once and then stops at the first
/// malformed entry.
pub fn entries(body: &[u8]) -> Entries<'_> {
    Entries {
        body,
        offset: 0,
        failed: false,
    }
}

/// Decode every entry, or the first error.
pub fn decode(body: &[u8]) -> Result<Vec<BatchEntry<'_>>, BatchError> {
    entries(body).collect()
}

/// Append one entry, as a client would. Properties longer than an i16 allows are a caller bug.
///
/// # Panics
/// If `properties` exceeds 32767 bytes or `body` 2 GiB.
pub fn encode_entry(flag: i32, body: &[u8], properties: &str, out: &mut Vec<u8>) {
    let total = ENTRY_FIXED_BYTES + body.len() + properties.len();
    let total = i32::try_from(total).expect("batch entry shorter than 2 GiB");
    let body_length = i32::try_from(body.len()).expect("body shorter than 2 GiB");
    let properties_length =
        i16::try_from(properties.len()).expect("properties at most 32767 bytes");
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&flag.to_be_bytes());
    out.extend_from_slice(&body_length.to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&properties_length.to_be_bytes());
    out.extend_from_slice(properties.as_bytes());
}

/// Iterator over batch entries; see [`entries`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    body: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<BatchEntry<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.body.len() {
            return None;
        }
        let result = entry_at(self.body, self.offset);
        match &result {
            Ok((_, size)) => self.offset += size,
            Err(_) => self.failed = true,
        }
        Some(result.map(|(entry, _)| entry))
    }
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn non_negative(offset: usize, field: &'static str, length: i32) -> Result<usize, BatchError> {
    usize::try_from(length).map_err(|_| BatchError::NegativeLength {
        offset,
        field,
        length,
    })
}

fn entry_at(body: &[u8], offset: usize) -> Result<(BatchEntry<'_>, usize), BatchError> {
    let entry = &body[offset..];
    let truncated = |needed: usize| BatchError::Truncated {
        offset,
        needed,
        available: entry.len(),
    };
    if entry.len() < ENTRY_FIXED_BYTES - 2 {
        return Err(truncated(ENTRY_FIXED_BYTES));
    }
    let total_size = non_negative(offset, "TOTALSIZE", read_i32(entry, 0))?;
    let flag = read_i32(entry, 12);
    let body_length = non_negative(offset, "BODYLEN", read_i32(entry, 16))?;
    let properties_at = 20 + body_length;
    let Some(length_bytes) = entry.get(properties_at..properties_at + 2) else {
        return Err(truncated(properties_at + 2));
    };
    let properties_length = i16::from_be_bytes([length_bytes[0], length_bytes[1]]);
    let properties_length = non_negative(offset, "PROPLEN", i32::from(properties_length))?;
    let computed = properties_at + 2 + properties_length;
    if computed != total_size {
        return Err(BatchError::SizeMismatch {
            offset,
            total_size,
            computed,
        });
    }
    let Some(properties) = entry.get(properties_at + 2..computed) else {
        return Err(truncated(computed));
    };
    let properties =
        std::str::from_utf8(properties).map_err(|_| BatchError::PropertiesNotUtf8 { offset })?;
    let batch_entry = BatchEntry {
        flag,
        body: &entry[20..properties_at],
        properties,
    };
    Ok((batch_entry, computed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entries_round_trip_with_their_own_properties() {
        let mut body = Vec::new();
        encode_entry(1, b"hello", "UNIQ_KEY\u{1}A\u{2}", &mut body);
        encode_entry(0, b"", "", &mut body);
        let entries = decode(&body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].body, b"hello");
        assert_eq!(entries[0].flag, 1);
        assert_eq!(entries[0].properties, "UNIQ_KEY\u{1}A\u{2}");
        assert_eq!(entries[1].body, b"");
    }

    #[test]
    fn body_length_beyond_the_buffer_is_truncation_not_a_panic() {
        let mut body = Vec::new();
        encode_entry(0, b"hello", "", &mut body);
        body[19] = 200;
        assert!(matches!(decode(&body), Err(BatchError::Truncated { .. })));
    }

    #[test]
    fn total_size_disagreeing_with_fields_is_rejected() {
        let mut body = Vec::new();
        encode_entry(0, b"hello", "", &mut body);
        body[3] += 1;
        body.push(0);
        assert!(matches!(
            decode(&body),
            Err(BatchError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn trailing_partial_entry_is_reported_at_its_offset() {
        let mut body = Vec::new();
        encode_entry(0, b"x", "", &mut body);
        let first = body.len();
        body.extend_from_slice(&[0, 0, 0]);
        let error = decode(&body).unwrap_err();
        assert!(matches!(error, BatchError::Truncated { offset, .. } if offset == first));
    }
}
