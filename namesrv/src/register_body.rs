//! The compressed form of a REGISTER_BROKER body (header `compressed=true`,
//! RocketMQ `RegisterBrokerBody.encode(true)`). Java brokers send it only with
//! `compressedRegister=true`; the default is the plain JSON body in [`crate::body`].
//!
//! ```text
//! zlib( i32 len | DataVersion JSON
//!       i32 topicCount
//!       topicCount × ( i32 len | "name read write perm FILTER_TYPE [attributes JSON]" )
//!       i32 len | filterServerList JSON
//!       [5.x: static-topic mapping entries, ignored] )
//! ```
//! All integers are big-endian. `topicSysFlag` is not carried in this form, so it reads as 0.

use std::io::Read;

use flate2::read::ZlibDecoder;

use crate::body::{DataVersion, JsonBody, RegisterBrokerBody, TopicConfig};
use crate::constants::FRAME_BYTES_MAX;

/// Decompressed size limit; guards against a zlib bomb.
const INFLATED_BYTES_MAX: usize = 4 * FRAME_BYTES_MAX;

pub(crate) fn decode_compressed(compressed: &[u8]) -> Result<RegisterBrokerBody, String> {
    let mut inflated = Vec::new();
    let limit = u64::try_from(INFLATED_BYTES_MAX + 1).unwrap_or(u64::MAX);
    ZlibDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut inflated)
        .map_err(|error| format!("zlib: {error}"))?;
    if inflated.len() > INFLATED_BYTES_MAX {
        return Err(format!("inflates past {INFLATED_BYTES_MAX} bytes"));
    }
    let mut cursor = Cursor {
        bytes: &inflated,
        at: 0,
    };
    let mut body = RegisterBrokerBody::default();
    let version = DataVersion::decode(cursor.chunk("data version")?)
        .map_err(|error| format!("data version: {error}"))?;
    body.topic_config_serialize_wrapper.data_version = version;
    let count = cursor.length("topic count")?;
    for _ in 0..count {
        let text = std::str::from_utf8(cursor.chunk("topic config")?)
            .map_err(|_| "topic config is not UTF-8".to_owned())?;
        let config = topic_config(text)?;
        body.topic_config_serialize_wrapper
            .topic_config_table
            .insert(config.topic_name.clone(), config);
    }
    body.filter_server_list = serde_json::from_slice(cursor.chunk("filter server list")?)
        .map_err(|error| format!("filter server list: {error}"))?;
    Ok(body)
}

/// Parse `TopicConfig.encode()`: `name read write perm FILTER_TYPE [attributes]`.
fn topic_config(text: &str) -> Result<TopicConfig, String> {
    let fields: Vec<&str> = text.splitn(6, ' ').collect();
    if fields.len() < 5 {
        return Err(format!("topic config {text:?} has fewer than 5 fields"));
    }
    let number = |index: usize| {
        fields[index]
            .parse::<i32>()
            .map_err(|_| format!("topic config {text:?}: field {index} is not a number"))
    };
    Ok(TopicConfig {
        topic_name: fields[0].to_owned(),
        read_queue_nums: number(1)?,
        write_queue_nums: number(2)?,
        perm: number(3)?,
        ..TopicConfig::default()
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn length(&mut self, what: &str) -> Result<usize, String> {
        let end = self.at + 4;
        let word = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| format!("truncated before {what} length"))?;
        self.at = end;
        let value = i32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        usize::try_from(value).map_err(|_| format!("negative {what} length {value}"))
    }

    fn chunk(&mut self, what: &str) -> Result<&'a [u8], String> {
        let length = self.length(what)?;
        let end = self.at.saturating_add(length);
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| format!("truncated inside {what}"))?;
        self.at = end;
        Ok(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::write::ZlibEncoder;
    use flate2::Compression;

    use super::*;

    /// Encode like Java's `RegisterBrokerBody.encode(true)`.
    pub(crate) fn encode_like_java(version: &str, topics: &[&str], filters: &str) -> Vec<u8> {
        let mut plain = Vec::new();
        let mut chunk = |bytes: &[u8]| {
            plain.extend_from_slice(&i32::try_from(bytes.len()).unwrap().to_be_bytes());
            plain.extend_from_slice(bytes);
        };
        chunk(version.as_bytes());
        let mut rest = Vec::new();
        rest.extend_from_slice(&i32::try_from(topics.len()).unwrap().to_be_bytes());
        for topic in topics {
            rest.extend_from_slice(&i32::try_from(topic.len()).unwrap().to_be_bytes());
            rest.extend_from_slice(topic.as_bytes());
        }
        rest.extend_from_slice(&i32::try_from(filters.len()).unwrap().to_be_bytes());
        rest.extend_from_slice(filters.as_bytes());
        plain.extend_from_slice(&rest);
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&plain).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn java_compressed_body_decodes_topics_and_version() {
        let bytes = encode_like_java(
            r#"{"counter":7,"stateVersion":0,"timestamp":1}"#,
            &["T 4 4 6 SINGLE_TAG {}", "U 8 8 7 SINGLE_TAG"],
            "[]",
        );
        let body = decode_compressed(&bytes).unwrap();
        let wrapper = body.topic_config_serialize_wrapper;
        assert_eq!(wrapper.data_version.counter, 7);
        assert_eq!(wrapper.topic_config_table["T"].read_queue_nums, 4);
        assert_eq!(wrapper.topic_config_table["U"].perm, 7);
    }

    #[test]
    fn truncated_or_garbage_compressed_body_is_an_error_not_a_panic() {
        let bytes = encode_like_java("{}", &["T 4 4 6 SINGLE_TAG"], "[]");
        assert!(decode_compressed(&bytes[..bytes.len() / 2]).is_err());
        assert!(decode_compressed(b"not zlib").is_err());
        let short_topic = encode_like_java("{}", &["T 4"], "[]");
        assert!(decode_compressed(&short_topic).is_err());
    }
}
