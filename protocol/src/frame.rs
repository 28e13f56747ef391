//! One remoting frame: length prefix, serialisation type, header, body.
//!
//! ```text
//!  0               4   5           8
//!  +---------------+---+-----------+--------------------+-------------+
//!  | length  i32BE |ST | hdrLen u24| header (hdrLen B)  | body (rest) |
//!  +---------------+---+-----------+--------------------+-------------+
//!  length = 4 + hdrLen + bodyLen   (excludes the length field itself)
//!  ST     = 0 JSON, 1 ROCKETMQ binary
//! ```
//! Worked example: the 131-byte JSON GET_ROUTEINFO_BY_TOPIC frame has a 123-byte header, so
//! `length` = 4 + 123 + 0 = 127 (`00 00 00 7f`) and word 2 = `00 00 00 7b`.
//!
//! Frame size limit: like Java's `LengthFieldBasedFrameDecoder(FRAME_MAX_LENGTH, 0, 4, 0, 4)`,
//! the limit applies to the whole frame including the 4-byte length field, and [`decode`]
//! rejects an oversized frame as soon as its length prefix is readable, so a peer cannot make us
//! buffer it.

use std::fmt;

use bytes::Bytes;

use crate::command::{RemotingCommand, SerializeType};
use crate::serialize::{json, rocketmq, HeaderDecodeError, HeaderScope};

/// Default maximum frame size in bytes, length field included (Java `frameMaxLength`).
pub const FRAME_BYTES_MAX_DEFAULT: usize = 16 * 1024 * 1024;

/// Bytes of the length prefix plus the type/header-length word.
pub const FRAME_PREFIX_BYTES: usize = 8;

/// Largest header length the 24-bit field can express.
pub const HEADER_BYTES_MAX: usize = 0x00FF_FFFF;

/// Why bytes are not a valid frame. After any of these the connection should be closed: the
/// stream position is no longer trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame (length field included) is longer than the configured maximum.
    TooLarge { length: usize, max: usize },
    /// The length prefix is negative or too small to hold the type/header-length word.
    BadLength { length: i32 },
    /// The header length exceeds what the frame length leaves for it.
    HeaderOverrun {
        header_length: usize,
        frame_length: usize,
    },
    /// The serialisation type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    UnknownSerializeType(u8),
    /// The header bytes do not decode.
    Header(HeaderDecodeError),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { length, max } => write!(
                f,
                "frame of {length} bytes exceeds the maximum of {max} bytes; \
                 raise the frame size limit if such large messages are expected"
            ),
            Self::BadLength { length } => write!(
                f,
                "frame length prefix {length} is invalid; expected at least 4 \
                 (the type/header-length word)"
            ),
            Self::HeaderOverrun {
                header_length,
                frame_length,
            } => write!(
                f,
                "frame header length {header_length} exceeds the {frame_length} bytes \
                 the frame length leaves after the type/header-length word"
            ),
            Self::UnknownSerializeType(code) => write!(
                f,
                "unknown header serialize type {code}; expected 0 (JSON) or 1 (ROCKETMQ)"
            ),
            Self::Header(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Header(error) => Some(error),
            _ => None,
        }
    }
}

impl From<HeaderDecodeError> for FrameError {
    fn from(error: HeaderDecodeError) -> Self {
        Self::Header(error)
    }
}

/// Append one whole frame for `command` (header serialised per `command.serialize_type`, then
/// body).
///
/// A binary command whose code or version does not fit 16 bits is sent with a JSON header
/// instead, since the type byte tells the peer which it got.
///
/// # Panics
/// If the header exceeds 16 MiB or the frame 2 GiB; commands are built by us, so that is a bug.
pub fn encode(command: &RemotingCommand, out: &mut Vec<u8>) {
    encode_head(command, command.body.len(), out);
    out.extend_from_slice(&command.body);
}

/// Append the length prefix and header of a frame whose body (`body_len` bytes) the caller sends
/// itself (zero-copy pulls). `command.body` is ignored.
///
/// # Panics
/// As [`encode`].
pub fn encode_head(command: &RemotingCommand, body_len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_PREFIX_BYTES]);
    let serialize_type = match command.serialize_type {
        SerializeType::RocketMq if rocketmq::fits(command) => {
            rocketmq::encode(command, out);
            SerializeType::RocketMq
        }
        SerializeType::Json | SerializeType::RocketMq => {
            json::encode(command, out);
            SerializeType::Json
        }
    };
    let header_length = out.len() - start - FRAME_PREFIX_BYTES;
    assert!(
        header_length <= HEADER_BYTES_MAX,
        "header of {header_length} bytes does not fit the 24-bit length field"
    );
    let length = 4 + header_length + body_len;
    let length = i32::try_from(length).expect("frame length fits i32");
    let header_length = u32::try_from(header_length).expect("checked against HEADER_BYTES_MAX");
    let word = (u32::from(serialize_type.code()) << 24) | header_length;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
}

/// Try to decode one frame from the front of `buffer`. `Ok(None)` = need more bytes.
/// `Ok(Some((command, consumed_bytes)))` otherwise; the command's `serialize_type` is the
/// frame's.
///
/// Errors for a length above `max_frame_bytes` (counting the length field) as soon as the 4-byte
/// length is readable, so a peer cannot make us buffer it.
pub fn decode(
    buffer: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(RemotingCommand, usize)>, FrameError> {
    let Some(frame) = split(buffer, max_frame_bytes)? else {
        return Ok(None);
    };
    Ok(Some((decode_split(&frame)?, frame.consumed)))
}

/// Decode a frame [`split`] already checked: its header, and its body copied.
pub fn decode_split(frame: &RawFrame<'_>) -> Result<RemotingCommand, FrameError> {
    let mut command = decode_header(frame, HeaderScope::Full)?;
    command.body = Bytes::copy_from_slice(frame.body);
    Ok(command)
}

/// As [`decode`], but the body shares `buffer`'s allocation instead of being copied (for
/// connection buffers kept as [`Bytes`], so large send bodies are not copied twice).
pub fn decode_bytes(
    buffer: &Bytes,
    max_frame_bytes: usize,
) -> Result<Option<(RemotingCommand, usize)>, FrameError> {
    let Some((mut command, body, consumed)) = decode_in_place(buffer, max_frame_bytes)? else {
        return Ok(None);
    };
    command.body = buffer.slice(body);
    Ok(Some((command, consumed)))
}

/// As [`decode`], but the body stays in `buffer`: the command's body is empty and the body's
/// range within `buffer` is returned beside the bytes consumed (for readers that only scan
/// the body, so it is never copied).
pub fn decode_in_place(
    buffer: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(RemotingCommand, std::ops::Range<usize>, usize)>, FrameError> {
    decode_in_place_scoped(buffer, max_frame_bytes, HeaderScope::Full)
}

/// As [`decode_in_place`], decoding the header only as far as `scope` says (see
/// [`HeaderScope`]; a reader that needs no extFields saves a third of a send response's
/// decoding).
pub fn decode_in_place_scoped(
    buffer: &[u8],
    max_frame_bytes: usize,
    scope: HeaderScope,
) -> Result<Option<(RemotingCommand, std::ops::Range<usize>, usize)>, FrameError> {
    let Some(frame) = split(buffer, max_frame_bytes)? else {
        return Ok(None);
    };
    let command = decode_header(&frame, scope)?;
    let body_start = FRAME_PREFIX_BYTES + frame.header.len();
    Ok(Some((command, body_start..frame.consumed, frame.consumed)))
}

fn decode_header(frame: &RawFrame<'_>, scope: HeaderScope) -> Result<RemotingCommand, FrameError> {
    let mut command = match frame.serialize_type {
        SerializeType::Json => json::decode_scoped(frame.header, scope)?,
        SerializeType::RocketMq => rocketmq::decode_scoped(frame.header, scope)?,
    };
    command.serialize_type = frame.serialize_type;
    Ok(command)
}

/// The route of a send request (code, topic, queue id) read from the front of its header
/// without decoding it, for a shard that hands the frame to the queue's owner undecoded.
/// `None` for anything else, and for binary headers (they decode at half a JSON header's
/// cost); see [`json::send_route`].
#[must_use]
pub fn send_route<'a>(frame: &RawFrame<'a>) -> Option<json::SendRoute<'a>> {
    match frame.serialize_type {
        SerializeType::Json => json::send_route(frame.header),
        SerializeType::RocketMq => None,
    }
}

/// The parts of one frame, not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    pub serialize_type: SerializeType,
    pub header: &'a [u8],
    pub body: &'a [u8],
    /// Bytes of `buffer` the frame occupies, length field included.
    pub consumed: usize,
}

/// Validate the framing of the first frame in `buffer` and split it, without decoding the
/// header. `Ok(None)` = need more bytes. Checks happen as early as the bytes allow: the size
/// limit once 4 bytes are present, the type and header length once 8 are.
pub fn split(buffer: &[u8], max_frame_bytes: usize) -> Result<Option<RawFrame<'_>>, FrameError> {
    let Some(length_bytes) = buffer.first_chunk::<4>() else {
        return Ok(None);
    };
    let length = i32::from_be_bytes(*length_bytes);
    let frame_length = match usize::try_from(length) {
        Ok(frame_length) if frame_length >= 4 => frame_length,
        _ => return Err(FrameError::BadLength { length }),
    };
    let total = frame_length + 4;
    if total > max_frame_bytes {
        return Err(FrameError::TooLarge {
            length: total,
            max: max_frame_bytes,
        });
    }
    let Some(word_bytes) = buffer.get(4..8) else {
        return Ok(None);
    };
    let word = u32::from_be_bytes([word_bytes[0], word_bytes[1], word_bytes[2], word_bytes[3]]);
    let type_code = word_bytes[0];
    let serialize_type =
        SerializeType::from_code(type_code).ok_or(FrameError::UnknownSerializeType(type_code))?;
    let header_length = usize::try_from(word & 0x00FF_FFFF).expect("24 bits fit usize");
    if header_length > frame_length - 4 {
        return Err(FrameError::HeaderOverrun {
            header_length,
            frame_length: frame_length - 4,
        });
    }
    let Some(frame) = buffer.get(FRAME_PREFIX_BYTES..total) else {
        return Ok(None);
    };
    let (header, body) = frame.split_at(header_length);
    Ok(Some(RawFrame {
        serialize_type,
        header,
        body,
        consumed: total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_length_is_rejected_from_the_first_four_bytes() {
        let prefix = 1_000_000_i32.to_be_bytes();
        let error = decode(&prefix, 1024).unwrap_err();
        assert_eq!(
            error,
            FrameError::TooLarge {
                length: 1_000_004,
                max: 1024
            }
        );
        assert!(error.to_string().contains("1024"));
    }

    #[test]
    fn limit_counts_the_length_field_like_netty() {
        let mut frame = Vec::new();
        encode(&RemotingCommand::request(105), &mut frame);
        assert!(decode(&frame, frame.len()).unwrap().is_some());
        assert!(matches!(
            decode(&frame, frame.len() - 1),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn negative_or_tiny_length_is_bad_not_a_wait() {
        assert_eq!(
            decode(&(-1i32).to_be_bytes(), FRAME_BYTES_MAX_DEFAULT),
            Err(FrameError::BadLength { length: -1 })
        );
        assert_eq!(
            decode(&3i32.to_be_bytes(), FRAME_BYTES_MAX_DEFAULT),
            Err(FrameError::BadLength { length: 3 })
        );
    }

    #[test]
    fn unknown_type_and_overlong_header_fail_before_the_body_arrives() {
        let unknown = [0, 0, 0, 100, 2, 0, 0, 2];
        assert_eq!(
            decode(&unknown, FRAME_BYTES_MAX_DEFAULT),
            Err(FrameError::UnknownSerializeType(2))
        );
        let overrun = [0, 0, 0, 100, 0, 0, 0, 97];
        assert!(matches!(
            decode(&overrun, FRAME_BYTES_MAX_DEFAULT),
            Err(FrameError::HeaderOverrun {
                header_length: 97,
                frame_length: 96
            })
        ));
    }

    #[test]
    fn binary_command_with_code_beyond_i16_falls_back_to_json() {
        let mut command = RemotingCommand::request(200_050);
        command.serialize_type = SerializeType::RocketMq;
        let mut frame = Vec::new();
        encode(&command, &mut frame);
        assert_eq!(frame[4], 0, "type byte must say JSON");
        let (decoded, _) = decode(&frame, FRAME_BYTES_MAX_DEFAULT).unwrap().unwrap();
        assert_eq!(decoded.code, 200_050);
        assert_eq!(decoded.serialize_type, SerializeType::Json);
    }

    #[test]
    fn encode_head_announces_a_body_sent_separately() {
        let command = RemotingCommand::request(11).with_body(&b"ignored"[..]);
        let mut head = Vec::new();
        encode_head(&command, 5, &mut head);
        head.extend_from_slice(b"12345");
        let (decoded, consumed) = decode(&head, FRAME_BYTES_MAX_DEFAULT).unwrap().unwrap();
        assert_eq!(consumed, head.len());
        assert_eq!(&decoded.body[..], b"12345");
    }

    #[test]
    fn shared_decode_slices_the_body_out_of_the_buffer() {
        let command = RemotingCommand::request(310).with_body(vec![7u8; 300]);
        let mut bytes = Vec::new();
        encode(&command, &mut bytes);
        let buffer = Bytes::from(bytes);
        let (decoded, consumed) = decode_bytes(&buffer, FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(consumed, buffer.len());
        assert_eq!(decoded.body, command.body);
        let body_at = buffer.len() - 300;
        assert_eq!(decoded.body.as_ptr(), buffer[body_at..].as_ptr());
    }

    #[test]
    fn in_place_decode_points_at_the_body_and_leaves_the_next_frame() {
        let mut bytes = Vec::new();
        let first = RemotingCommand::request(11).with_body(vec![9u8; 200]);
        encode(&first, &mut bytes);
        let first_len = bytes.len();
        encode(&RemotingCommand::request(2), &mut bytes);
        let (decoded, body, consumed) = decode_in_place(&bytes, FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!((decoded.code, consumed), (11, first_len));
        assert!(decoded.body.is_empty());
        assert_eq!(&bytes[body], &first.body[..]);
        assert_eq!(
            decode_in_place(&bytes[..first_len - 1], FRAME_BYTES_MAX_DEFAULT).unwrap(),
            None,
            "a partial frame needs more bytes"
        );
    }

    #[test]
    fn decode_consumes_one_frame_and_leaves_the_next() {
        let mut bytes = Vec::new();
        encode(&RemotingCommand::request(1), &mut bytes);
        let first = bytes.len();
        encode(&RemotingCommand::request(2), &mut bytes);
        let (command, consumed) = decode(&bytes, FRAME_BYTES_MAX_DEFAULT).unwrap().unwrap();
        assert_eq!((command.code, consumed), (1, first));
        let (command, _) = decode(&bytes[first..], FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(command.code, 2);
    }
}
