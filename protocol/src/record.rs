//! The stored message record, byte for byte as RocketMQ writes it to its commitlog.
//!
//! Pulls, queries and replication ship these bytes unchanged, so the layout must match Java's
//! `MessageExtEncoder` exactly. IPv4 hosts, V1 magic (topic ≤ 127 bytes):
//!
//! ```text
//!  @0  TOTALSIZE i32        @4  MAGICCODE i32      @8  BODYCRC i32       @12 QUEUEID i32
//!  @16 FLAG i32             @20 QUEUEOFFSET i64    @28 PHYSICALOFFSET i64
//!  @36 SYSFLAG i32          @40 BORNTIMESTAMP i64  @48 BORNHOST ip4+port i32
//!  @56 STORETIMESTAMP i64   @64 STOREHOST ip4+port i32                   @72 RECONSUMETIMES i32
//!  @76 PREPAREDTRANSACTIONOFFSET i64                @84 BODYLEN i32 + BODY
//!      TOPICLEN u8 (V1) | i16 (V2) + TOPIC          PROPLEN i16 + PROPERTIES
//! ```
//! Fixed overhead with IPv4 hosts and V1 magic: 91 bytes. All integers big-endian.
//! The end of a segment is marked by a BLANK record `[i32 remaining][i32 BLANK_MAGIC]`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Magic of a record with a 1-byte topic length.
pub const MAGIC_V1: i32 = -626_843_481;
/// Magic of a record with a 2-byte topic length (topics longer than 127 bytes).
pub const MAGIC_V2: i32 = -626_843_477;
/// Magic of the filler at the end of a segment.
pub const MAGIC_BLANK: i32 = -875_286_124;

/// SYSFLAG bit: the body is compressed.
pub const SYSFLAG_COMPRESSED: i32 = 0x1;
/// SYSFLAG bit: the born host is IPv6.
pub const SYSFLAG_BORNHOST_V6: i32 = 0x10;
/// SYSFLAG bit: the store host is IPv6.
pub const SYSFLAG_STOREHOST_V6: i32 = 0x20;
/// SYSFLAG transaction-type bits.
pub const SYSFLAG_TRANSACTION_MASK: i32 = 0xC;
pub const SYSFLAG_TRANSACTION_PREPARED: i32 = 0x4;
pub const SYSFLAG_TRANSACTION_ROLLBACK: i32 = 0xC;

/// Offsets of fixed fields (IPv4 born host).
pub const POSITION_QUEUE_OFFSET: usize = 20;
pub const POSITION_PHYSICAL_OFFSET: usize = 28;
pub const POSITION_SYSFLAG: usize = 36;
pub const POSITION_STORE_TIMESTAMP_V4: usize = 56;

/// Longest topic that still uses V1 magic.
pub const TOPIC_V1_BYTES_MAX: usize = 127;
/// Longest properties string (PROPLEN is an i16).
pub const PROPERTIES_BYTES_MAX: usize = 32_767;

/// Why bytes are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Fewer bytes than the header or TOTALSIZE announces.
    Truncated { needed: usize, available: usize },
    /// MAGICCODE is none of V1, V2, BLANK.
    BadMagic { magic: i32 },
    /// TOTALSIZE disagrees with the field lengths, or is out of range.
    BadLength { total_size: i32, computed: usize },
    /// BODYCRC does not match the body.
    BadBodyCrc { stored: i32, computed: i32 },
    /// Topic or properties are not UTF-8.
    NotUtf8 { field: &'static str },
    /// A field is longer than the format allows.
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(
                    f,
                    "record truncated: needs {needed} bytes, {available} available"
                )
            }
            Self::BadMagic { magic } => write!(f, "bad record magic {magic:#010x}"),
            Self::BadLength {
                total_size,
                computed,
            } => {
                write!(
                    f,
                    "record TOTALSIZE {total_size} disagrees with its fields ({computed})"
                )
            }
            Self::BadBodyCrc { stored, computed } => {
                write!(
                    f,
                    "record body CRC {stored} does not match the body ({computed})"
                )
            }
            Self::NotUtf8 { field } => write!(f, "record {field} is not valid UTF-8"),
            Self::TooLong { field, length, max } => {
                write!(f, "record {field} is {length} bytes, at most {max} allowed")
            }
        }
    }
}

impl std::error::Error for RecordError {}

/// `CRC32(body) & 0x7FFFFFFF`, as `UtilAll.crc32`.
pub fn body_crc(body: &[u8]) -> i32 {
    i32::try_from(crc32fast::hash(body) & 0x7FFF_FFFF).expect("masked to 31 bits")
}

/// What the producer and broker supply; the engine adds a [`StoreStamp`].
#[derive(Clone, Debug)]
pub struct MessageDraft<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub flag: i32,
    pub body: &'a [u8],
    pub properties: &'a str,
    /// Sender's SYSFLAG; the IPv6 host bits are recomputed from the addresses.
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

/// Fields the store assigns at append time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreStamp {
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub store_timestamp: i64,
}

fn host_bytes(address: &SocketAddr) -> usize {
    match unmapped(address.ip()) {
        IpAddr::V4(_) => 8,
        IpAddr::V6(_) => 20,
    }
}

/// `::ffff:a.b.c.d` is stored as IPv4 so V1-only clients can decode it.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl MessageDraft<'_> {
    fn uses_v2(&self) -> bool {
        self.topic.len() > TOPIC_V1_BYTES_MAX
    }

    /// Bytes of the encoded record, or why it cannot be encoded.
    pub fn encoded_len(&self) -> Result<usize, RecordError> {
        if self.properties.len() > PROPERTIES_BYTES_MAX {
            return Err(RecordError::TooLong {
                field: "properties",
                length: self.properties.len(),
                max: PROPERTIES_BYTES_MAX,
            });
        }
        let topic_max = usize::try_from(i16::MAX).expect("constant");
        if self.topic.len() > topic_max {
            let length = self.topic.len();
            return Err(RecordError::TooLong {
                field: "topic",
                length,
                max: topic_max,
            });
        }
        let topic_length_bytes = if self.uses_v2() { 2 } else { 1 };
        Ok(4 + 4
            + 4
            + 4
            + 4
            + 8
            + 8
            + 4
            + 8
            + host_bytes(&self.born_host)
            + 8
            + host_bytes(&self.store_host)
            + 4
            + 8
            + 4
            + self.body.len()
            + topic_length_bytes
            + self.topic.len()
            + 2
            + self.properties.len())
    }

    /// SYSFLAG as stored: the sender's flags with the host-family bits set from the addresses.
    pub fn stored_sys_flag(&self) -> i32 {
        let mut flag = self.sys_flag & !(SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6);
        if host_bytes(&self.born_host) == 20 {
            flag |= SYSFLAG_BORNHOST_V6;
        }
        if host_bytes(&self.store_host) == 20 {
            flag |= SYSFLAG_STOREHOST_V6;
        }
        flag
    }

    /// Encode into `target`, which must be exactly `encoded_len()` bytes.
    pub fn encode(&self, stamp: StoreStamp, target: &mut [u8]) -> Result<(), RecordError> {
        let length = self.encoded_len()?;
        assert_eq!(target.len(), length, "target must be sized by encoded_len");
        let mut writer = Writer {
            target,
            position: 0,
        };
        writer.i32(i32::try_from(length).expect("bounded by the i16 limits above"));
        writer.i32(if self.uses_v2() { MAGIC_V2 } else { MAGIC_V1 });
        writer.i32(body_crc(self.body));
        writer.i32(self.queue_id);
        writer.i32(self.flag);
        writer.i64(stamp.queue_offset);
        writer.i64(stamp.physical_offset);
        writer.i32(self.stored_sys_flag());
        writer.i64(self.born_timestamp);
        writer.host(&self.born_host);
        writer.i64(stamp.store_timestamp);
        writer.host(&self.store_host);
        writer.i32(self.reconsume_times);
        writer.i64(self.prepared_transaction_offset);
        writer.i32(i32::try_from(self.body.len()).expect("bodies are bounded below 2 GiB"));
        writer.bytes(self.body);
        if self.uses_v2() {
            writer.i16(i16::try_from(self.topic.len()).expect("checked in encoded_len"));
        } else {
            writer.u8(u8::try_from(self.topic.len()).expect("V1 topics are at most 127 bytes"));
        }
        writer.bytes(self.topic.as_bytes());
        writer.i16(i16::try_from(self.properties.len()).expect("checked in encoded_len"));
        writer.bytes(self.properties.as_bytes());
        assert_eq!(
            writer.position, length,
            "encoded length must match encoded_len"
        );
        Ok(())
    }
}

struct Writer<'a> {
    target: &'a mut [u8],
    position: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, source: &[u8]) {
        self.target[self.position..self.position + source.len()].copy_from_slice(source);
        self.position += source.len();
    }
    fn u8(&mut self, value: u8) {
        self.bytes(&[value]);
    }
    fn i16(&mut self, value: i16) {
        self.bytes(&value.to_be_bytes());
    }
    fn i32(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }
    fn i64(&mut self, value: i64) {
        self.bytes(&value.to_be_bytes());
    }
    fn host(&mut self, address: &SocketAddr) {
        match unmapped(address.ip()) {
            IpAddr::V4(v4) => self.bytes(&v4.octets()),
            IpAddr::V6(v6) => self.bytes(&v6.octets()),
        }
        self.i32(i32::from(address.port()));
    }
}

/// A decoded record borrowing from the buffer it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub total_size: usize,
    pub magic: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

impl Record<'_> {
    /// The offsetMsgId clients see for this record.
    pub fn offset_msg_id(&self) -> String {
        offset_msg_id(self.store_host, self.physical_offset)
    }

    pub fn property(&self, key: &str) -> Option<&str> {
        crate::properties::find(self.properties, key)
    }
}

/// What lies at a position of a commitlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scanned<'a> {
    Record(Record<'a>),
    /// End-of-segment filler covering `size` bytes.
    Blank {
        size: usize,
    },
}

struct Reader<'a> {
    source: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.source.len());
        let end = end.ok_or(RecordError::Truncated {
            needed: self.position.saturating_add(count),
            available: self.source.len(),
        })?;
        let slice = &self.source[self.position..end];
        self.position = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }
    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.array::<1>()?[0])
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn length(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let value = self.i32()?;
        usize::try_from(value).map_err(|_| RecordError::TooLong {
            field,
            length: 0,
            max: 0,
        })
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))
        };
        let port = u16::try_from(self.i32()?).unwrap_or(0);
        Ok(SocketAddr::new(ip, port))
    }
    fn text(&mut self, count: usize, field: &'static str) -> Result<&'a str, RecordError> {
        std::str::from_utf8(self.take(count)?).map_err(|_| RecordError::NotUtf8 { field })
    }
}

/// Decode what starts at `source[0]`: a record (optionally checking its body CRC) or a BLANK.
pub fn scan(source: &[u8], check_crc: bool) -> Result<Scanned<'_>, RecordError> {
    let mut reader = Reader {
        source,
        position: 0,
    };
    let total_size = reader.i32()?;
    let magic = reader.i32()?;
    if magic == MAGIC_BLANK {
        let size = usize::try_from(total_size)
            .ok()
            .filter(|size| *size >= 8)
            .ok_or(RecordError::BadLength {
                total_size,
                computed: 8,
            })?;
        return Ok(Scanned::Blank { size });
    }
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(RecordError::BadMagic { magic });
    }
    let declared = usize::try_from(total_size)
        .ok()
        .filter(|size| *size >= 91)
        .ok_or(RecordError::BadLength {
            total_size,
            computed: 0,
        })?;
    if declared > source.len() {
        return Err(RecordError::Truncated {
            needed: declared,
            available: source.len(),
        });
    }
    let mut reader = Reader {
        source: &source[..declared],
        position: 8,
    };
    let record = decode_fields(&mut reader, declared, magic)?;
    if reader.position != declared {
        return Err(RecordError::BadLength {
            total_size,
            computed: reader.position,
        });
    }
    if check_crc {
        let computed = body_crc(record.body);
        if computed != record.body_crc {
            return Err(RecordError::BadBodyCrc {
                stored: record.body_crc,
                computed,
            });
        }
    }
    Ok(Scanned::Record(record))
}

fn decode_fields<'a>(
    reader: &mut Reader<'a>,
    total_size: usize,
    magic: i32,
) -> Result<Record<'a>, RecordError> {
    let body_crc = reader.i32()?;
    let queue_id = reader.i32()?;
    let flag = reader.i32()?;
    let queue_offset = reader.i64()?;
    let physical_offset = reader.i64()?;
    let sys_flag = reader.i32()?;
    let born_timestamp = reader.i64()?;
    let born_host = reader.host(sys_flag & SYSFLAG_BORNHOST_V6 != 0)?;
    let store_timestamp = reader.i64()?;
    let store_host = reader.host(sys_flag & SYSFLAG_STOREHOST_V6 != 0)?;
    let reconsume_times = reader.i32()?;
    let prepared_transaction_offset = reader.i64()?;
    let body_length = reader.length("body")?;
    let body = reader.take(body_length)?;
    let topic_length = if magic == MAGIC_V2 {
        usize::try_from(reader.i16()?).map_err(|_| RecordError::NotUtf8 { field: "topic" })?
    } else {
        usize::from(reader.u8()?)
    };
    let topic = reader.text(topic_length, "topic")?;
    let properties_length = usize::try_from(reader.i16()?).map_err(|_| RecordError::NotUtf8 {
        field: "properties",
    })?;
    let properties = reader.text(properties_length, "properties")?;
    Ok(Record {
        total_size,
        magic,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    })
}

/// STORETIMESTAMP of the record starting at `source[0]`, from its fixed header alone.
pub fn peek_store_timestamp(source: &[u8]) -> Option<i64> {
    let magic = i32::from_be_bytes(source.get(4..8)?.try_into().ok()?);
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return None;
    }
    let sys_flag = i32::from_be_bytes(
        source
            .get(POSITION_SYSFLAG..POSITION_SYSFLAG + 4)?
            .try_into()
            .ok()?,
    );
    let at = if sys_flag & SYSFLAG_BORNHOST_V6 == 0 {
        POSITION_STORE_TIMESTAMP_V4
    } else {
        POSITION_STORE_TIMESTAMP_V4 + 12
    };
    Some(i64::from_be_bytes(source.get(at..at + 8)?.try_into().ok()?))
}

/// Decode one record (not a BLANK), checking the body CRC.
pub fn decode(source: &[u8]) -> Result<Record<'_>, RecordError> {
    match scan(source, true)? {
        Scanned::Record(record) => Ok(record),
        Scanned::Blank { .. } => Err(RecordError::BadMagic { magic: MAGIC_BLANK }),
    }
}

/// Decode every record of a concatenation (a pull or query body).
pub fn decode_all(mut source: &[u8]) -> Result<Vec<Record<'_>>, RecordError> {
    let mut records = Vec::new();
    while !source.is_empty() {
        let record = decode(source)?;
        source = &source[record.total_size..];
        records.push(record);
    }
    Ok(records)
}

/// Write the end-of-segment filler covering `size` bytes (only its 8-byte head is written).
pub fn encode_blank(size: usize, target: &mut [u8]) {
    let size = i32::try_from(size).expect("segment remainders fit in i32");
    target[..4].copy_from_slice(&size.to_be_bytes());
    target[4..8].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Longest offsetMsgId: an IPv6 store host, 16 + 4 + 8 bytes in hex.
pub const OFFSET_MSG_ID_CHARS_MAX: usize = 2 * (16 + 4 + 8);

/// `HEX_UPPER(storeHostIp ‖ storePort i32 ‖ physicalOffset i64)`.
pub fn offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut text = String::with_capacity(OFFSET_MSG_ID_CHARS_MAX);
    push_offset_msg_id(store_host, physical_offset, &mut text);
    text
}

/// Append [`offset_msg_id`] to `text` (a batch's ids go into one string, comma-separated).
pub fn push_offset_msg_id(store_host: SocketAddr, physical_offset: i64, text: &mut String) {
    let mut raw = [0u8; OFFSET_MSG_ID_CHARS_MAX / 2];
    let address = match unmapped(store_host.ip()) {
        IpAddr::V4(v4) => {
            raw[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            raw[..16].copy_from_slice(&v6.octets());
            16
        }
    };
    raw[address..address + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    raw[address + 4..address + 12].copy_from_slice(&physical_offset.to_be_bytes());
    push_hex_upper(&raw[..address + 12], text);
}

/// Append `bytes` as upper-case hex, two digits per byte, as Java's `UtilAll.bytes2string`
/// writes offsetMsgIds and UNIQ_KEYs.
pub fn push_hex_upper(bytes: &[u8], text: &mut String) {
    for &byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xF)]));
    }
}

/// Inverse of [`offset_msg_id`]: the store address and physical offset, if well-formed.
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, i64)> {
    let bytes = id.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut raw = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks(2) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        raw.push(u8::try_from(high * 16 + low).ok()?);
    }
    let ip = match raw.len() {
        16 => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
        28 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&raw[..16]).ok()?)),
        _ => return None,
    };
    let rest = &raw[raw.len() - 12..];
    let port = i32::from_be_bytes(rest[..4].try_into().ok()?);
    let offset = i64::from_be_bytes(rest[4..].try_into().ok()?);
    Some((SocketAddr::new(ip, u16::try_from(port).ok()?), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(topic: &'a str, body: &'a [u8], properties: &'a str) -> MessageDraft<'a> {
        MessageDraft {
            topic,
            queue_id: 3,
            flag: 0,
            body,
            properties,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.0.0.5:50000".parse().expect("addr"),
            store_host: "10.0.0.1:10911".parse().expect("addr"),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn ipv4_v1_record_has_91_bytes_of_overhead_and_round_trips() {
        let message = draft("T", b"hello", "TAGS\u{1}A\u{2}");
        let length = message.encoded_len().expect("len");
        assert_eq!(length, 91 + 1 + 5 + 7);
        let mut bytes = vec![0; length];
        let stamp = StoreStamp {
            queue_offset: 7,
            physical_offset: 4096,
            store_timestamp: 9,
        };
        message.encode(stamp, &mut bytes).expect("encode");
        assert_eq!(&bytes[4..8], &[0xDA, 0xA3, 0x20, 0xA7]);
        assert_eq!(&bytes[POSITION_PHYSICAL_OFFSET..36], &4096i64.to_be_bytes());
        let record = decode(&bytes).expect("decode");
        assert_eq!(record.topic, "T");
        assert_eq!(record.body, b"hello");
        assert_eq!(record.queue_offset, 7);
        assert_eq!(record.store_timestamp, 9);
        assert_eq!(record.property("TAGS"), Some("A"));
        assert_eq!(record.offset_msg_id(), "0A00000100002A9F0000000000001000");
    }

    #[test]
    fn long_topics_use_v2_magic_and_ipv6_hosts_set_flags() {
        let topic = "t".repeat(200);
        let mut message = draft(&topic, b"x", "");
        message.store_host = "[2001:db8::1]:10911".parse().expect("addr");
        let mut bytes = vec![0; message.encoded_len().expect("len")];
        let stamp = StoreStamp {
            queue_offset: 0,
            physical_offset: 0,
            store_timestamp: 0,
        };
        message.encode(stamp, &mut bytes).expect("encode");
        let record = decode(&bytes).expect("decode");
        assert_eq!(record.magic, MAGIC_V2);
        assert_eq!(record.sys_flag & SYSFLAG_STOREHOST_V6, SYSFLAG_STOREHOST_V6);
        assert_eq!(record.topic.len(), 200);
    }

    #[test]
    fn a_flipped_body_byte_fails_the_crc_and_a_cut_record_is_truncated() {
        let message = draft("T", b"payload", "");
        let mut bytes = vec![0; message.encoded_len().expect("len")];
        let stamp = StoreStamp {
            queue_offset: 0,
            physical_offset: 0,
            store_timestamp: 0,
        };
        message.encode(stamp, &mut bytes).expect("encode");
        let body_at = 88;
        bytes[body_at] ^= 0xFF;
        assert!(matches!(
            decode(&bytes),
            Err(RecordError::BadBodyCrc { .. })
        ));
        assert!(matches!(
            decode(&bytes[..50]),
            Err(RecordError::Truncated { .. })
        ));
    }

    #[test]
    fn offset_msg_id_round_trips() {
        let host: SocketAddr = "10.0.0.1:10911".parse().expect("addr");
        let id = offset_msg_id(host, 0);
        assert_eq!(id, "0A00000100002A9F0000000000000000");
        assert_eq!(decode_offset_msg_id(&id), Some((host, 0)));
        assert_eq!(decode_offset_msg_id("zz"), None);
        // Hazard: an IPv6 store host (16 address bytes) is cut to the IPv4 length.
        let v6: SocketAddr = "[2001:db8::7]:10911".parse().expect("addr");
        let id = offset_msg_id(v6, 4096);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id), Some((v6, 4096)));
        let mut batch = String::from("X,");
        push_offset_msg_id(host, 7, &mut batch);
        assert_eq!(batch, "X,0A00000100002A9F0000000000000007");
    }

    #[test]
    fn blank_is_recognised() {
        let mut bytes = [0u8; 8];
        encode_blank(4096, &mut bytes);
        assert_eq!(scan(&bytes, true), Ok(Scanned::Blank { size: 4096 }));
    }
}
