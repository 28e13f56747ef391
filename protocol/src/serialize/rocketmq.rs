//! ROCKETMQ binary header (serializeType 1), as Java's `RocketMQSerializable` writes it.
//!
//! ```text
//! off size  field
//! 0   2     code       i16
//! 2   1     language   u8   (LanguageCode)
//! 3   2     version    i16
//! 5   4     opaque     i32
//! 9   4     flag       i32
//! 13  4     remarkLen  i32  + remark UTF-8 (length 0 => no remark)
//! ..  4     extLen     i32  + extLen bytes of { keyLen i16, key, valueLen i32, value } repeated
//! ```
//! All integers big-endian. `code` and `version` are shorts on this wire, so a command whose code
//! or version does not fit an i16 (e.g. POP_MESSAGE 200050) cannot be carried here; [`fits`]
//! says whether it can, and the frame encoder falls back to JSON when it cannot.
//!
//! Java reads a zero-length string as null, so an ext entry with an empty value decodes as
//! absent, exactly as a Java header decoder would see it.

use super::{HeaderDecodeError, HeaderScope};
use crate::command::{Language, RemotingCommand};
use crate::ext::{ExtFields, DECODED_ENTRIES_INITIAL};

/// Bytes of the fixed part (code through remarkLen, plus extLen).
pub const FIXED_BYTES: usize = 21;

/// Whether `command`'s code and version fit the binary header's 16-bit fields.
pub fn fits(command: &RemotingCommand) -> bool {
    i16::try_from(command.code).is_ok() && i16::try_from(command.version).is_ok()
}

/// Append the binary header of `command`.
///
/// # Panics
/// If the command does not [`fit`](fits), or a string is longer than its length field allows
/// (keys over 32 KiB, values over 2 GiB); commands are built by us, so either is a bug.
pub fn encode(command: &RemotingCommand, out: &mut Vec<u8>) {
    let code = i16::try_from(command.code).expect("caller checked fits(): code fits i16");
    let version = i16::try_from(command.version).expect("caller checked fits(): version fits i16");
    out.extend_from_slice(&code.to_be_bytes());
    out.push(command.language.code());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&command.opaque.to_be_bytes());
    out.extend_from_slice(&command.flag.to_be_bytes());
    let remark = command.remark.as_deref().unwrap_or("");
    push_i32_length(out, remark.len());
    out.extend_from_slice(remark.as_bytes());
    let ext_length_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (key, value) in &command.ext_fields {
        let key_length = i16::try_from(key.len()).expect("ext key shorter than 32 KiB");
        out.extend_from_slice(&key_length.to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        push_i32_length(out, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    let ext_length = out.len() - ext_length_at - 4;
    let ext_length = i32::try_from(ext_length).expect("ext fields shorter than 2 GiB");
    out[ext_length_at..ext_length_at + 4].copy_from_slice(&ext_length.to_be_bytes());
}

fn push_i32_length(out: &mut Vec<u8>, length: usize) {
    let length = i32::try_from(length).expect("header string shorter than 2 GiB");
    out.extend_from_slice(&length.to_be_bytes());
}

/// Decode a binary header into a command with an empty body.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, HeaderDecodeError> {
    decode_scoped(header, HeaderScope::Full)
}

/// Decode a binary header, or all of it but its extFields, whose length is checked and whose
/// entries are left unread (see [`HeaderScope`]).
pub fn decode_scoped(
    header: &[u8],
    scope: HeaderScope,
) -> Result<RemotingCommand, HeaderDecodeError> {
    let mut reader = Reader { bytes: header };
    let code = i16::from_be_bytes(reader.array("code")?);
    let [language] = reader.array::<1>("language")?;
    let version = i16::from_be_bytes(reader.array("version")?);
    let opaque = i32::from_be_bytes(reader.array("opaque")?);
    let flag = i32::from_be_bytes(reader.array("flag")?);
    let remark = reader.string_i32("remark")?.map(str::to_owned);
    let ext_length = reader.length_i32("extFields")?;
    let mut ext = Reader {
        bytes: reader.take("extFields", ext_length)?,
    };
    if !reader.bytes.is_empty() {
        return Err(HeaderDecodeError::TrailingBytes {
            count: reader.bytes.len(),
        });
    }
    let mut ext_fields = ExtFields::new();
    if scope == HeaderScope::WithoutExtFields {
        ext.bytes = &[];
    }
    if !ext.bytes.is_empty() {
        ext_fields.reserve(DECODED_ENTRIES_INITIAL);
    }
    while !ext.bytes.is_empty() {
        let key_length = i16::from_be_bytes(ext.array("ext key length")?);
        let key_length =
            usize::try_from(key_length).map_err(|_| HeaderDecodeError::NegativeLength {
                field: "ext key",
                length: i64::from(key_length),
            })?;
        let key = utf8(ext.take("ext key", key_length)?, "ext key")?;
        let value = ext.string_i32("ext value")?;
        if let Some(value) = value {
            ext_fields.insert(key, value);
        }
    }
    Ok(RemotingCommand {
        code: i32::from(code),
        language: Language::from_code(language),
        version: i32::from(version),
        opaque,
        flag,
        remark,
        ext_fields,
        ..RemotingCommand::default()
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, count: usize) -> Result<&'a [u8], HeaderDecodeError> {
        if count > self.bytes.len() {
            return Err(HeaderDecodeError::Truncated {
                field,
                needed: count,
                available: self.bytes.len(),
            });
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], HeaderDecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(field, N)?);
        Ok(array)
    }

    fn length_i32(&mut self, field: &'static str) -> Result<usize, HeaderDecodeError> {
        let length = i32::from_be_bytes(self.array(field)?);
        usize::try_from(length).map_err(|_| HeaderDecodeError::NegativeLength {
            field,
            length: i64::from(length),
        })
    }

    /// An i32-length-prefixed string; length 0 is Java's null.
    fn string_i32(&mut self, field: &'static str) -> Result<Option<&'a str>, HeaderDecodeError> {
        let length = self.length_i32(field)?;
        if length == 0 {
            return Ok(None);
        }
        let bytes = self.take(field, length)?;
        utf8(bytes, field).map(Some)
    }
}

fn utf8<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a str, HeaderDecodeError> {
    std::str::from_utf8(bytes).map_err(|_| HeaderDecodeError::NotUtf8 { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(command: &RemotingCommand) -> Vec<u8> {
        let mut out = Vec::new();
        encode(command, &mut out);
        out
    }

    #[test]
    fn empty_ext_value_reads_as_absent_like_java_null() {
        let command = RemotingCommand::request(105)
            .with_ext("topic", &"T")
            .with_ext("empty", &"");
        let decoded = decode(&encoded(&command)).unwrap();
        assert_eq!(decoded.ext("topic"), Some("T"));
        assert_eq!(decoded.ext("empty"), None);
    }

    #[test]
    fn negative_lengths_are_errors_naming_the_field() {
        let mut bytes = encoded(&RemotingCommand::request(105).with_ext("topic", &"T"));
        bytes[21..23].copy_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(
            decode(&bytes),
            Err(HeaderDecodeError::NegativeLength {
                field: "ext key",
                length: -1
            })
        );
        bytes[13..17].copy_from_slice(&(-7i32).to_be_bytes());
        assert!(decode(&bytes).unwrap_err().to_string().contains("remark"));
    }

    #[test]
    fn lengths_past_the_header_are_truncation_not_a_panic() {
        let mut bytes = encoded(&RemotingCommand::request(105).with_ext("topic", &"T"));
        bytes[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(HeaderDecodeError::Truncated {
                field: "extFields",
                ..
            })
        ));
        for end in 0..FIXED_BYTES {
            assert!(decode(&bytes[..end]).is_err());
        }
    }

    #[test]
    fn bytes_after_the_ext_area_are_rejected() {
        let mut bytes = encoded(&RemotingCommand::request(105));
        bytes.push(0);
        assert_eq!(
            decode(&bytes),
            Err(HeaderDecodeError::TrailingBytes { count: 1 })
        );
    }

    /// Hazard: skipping extFields also skips the checks that keep the rest of the header in
    /// step (the area's length, trailing bytes), or leaves some of them decoded.
    #[test]
    fn without_ext_fields_decodes_the_rest_and_checks_the_framing() {
        let mut command = RemotingCommand::request(105)
            .with_ext("topic", &"T")
            .with_ext("queueId", &"3");
        command.opaque = 77;
        command.remark = Some("r".to_owned());
        let bytes = encoded(&command);
        let scoped = decode_scoped(&bytes, HeaderScope::WithoutExtFields).unwrap();
        let expected = RemotingCommand {
            ext_fields: ExtFields::new(),
            ..decode(&bytes).unwrap()
        };
        assert_eq!(scoped, expected);
        assert_eq!(scoped.opaque, 77);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode_scoped(&trailing, HeaderScope::WithoutExtFields),
            Err(HeaderDecodeError::TrailingBytes { count: 1 })
        );
        let short = &bytes[..bytes.len() - 1];
        assert!(matches!(
            decode_scoped(short, HeaderScope::WithoutExtFields),
            Err(HeaderDecodeError::Truncated {
                field: "extFields",
                ..
            })
        ));
    }

    #[test]
    fn unknown_language_code_decodes_as_other() {
        let mut bytes = encoded(&RemotingCommand::request(105));
        bytes[2] = 99;
        assert_eq!(decode(&bytes).unwrap().language, Language::Other);
    }

    #[test]
    fn fits_rejects_codes_and_versions_beyond_i16() {
        let mut command = RemotingCommand::request(32_767);
        assert!(fits(&command));
        command.code = 32_768;
        assert!(!fits(&command));
        command.code = 1;
        command.version = -32_769;
        assert!(!fits(&command));
    }
}
