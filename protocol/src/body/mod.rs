//! JSON bodies: the serde types RocketMQ puts in command bodies (routes, heartbeats, broker
//! registration, consumer groups, offsets, tables).
//!
//! Encoding follows fastjson's standard output: camelCase field names as in Java, declared in
//! alphabetical order so output matches fastjson's sorted keys, compact, numeric map keys
//! quoted (`{"0":"10.0.0.1:10911"}`), absent optional fields omitted.
//!
//! Decoding is lenient: unknown fields are ignored, missing fields take Java's defaults, and
//! fastjson's non-standard map keys are accepted by quoting them before parsing: unquoted
//! numeric keys (`{0:"10.0.0.1:10911"}`, used by old name servers for routes and by Java
//! brokers for consumer-offset tables) and object keys (`{{"brokerName":"b",..}:{..}}`, how
//! Java writes maps keyed by `MessageQueue`, e.g. a client's `ConsumerRunningInfo.mqTable` or
//! a Java broker's `ConsumeStats`), which become strings holding the key's JSON.

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub mod admin;
pub mod consumer;
pub mod consumer_client;
pub mod heartbeat;
pub mod kv_table;
pub mod register;
pub mod route;
pub mod topic_config;

/// Why a body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is not JSON of the expected shape.
    Json { body: &'static str, reason: String },
    /// A compressed REGISTER_BROKER body could not be decoded.
    Compressed { reason: String },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { body, reason } => {
                write!(f, "{body} body is not valid JSON of that type: {reason}")
            }
            Self::Compressed { reason } => {
                write!(f, "compressed REGISTER_BROKER body is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for BodyError {}

/// A body type with a JSON form. `NAME` is the Java class name, used in errors.
pub trait JsonBody: Serialize + DeserializeOwned {
    const NAME: &'static str;

    /// Decode leniently (see the module docs).
    fn decode(bytes: &[u8]) -> Result<Self, BodyError> {
        serde_json::from_slice(&quote_keys(bytes)).map_err(|error| BodyError::Json {
            body: Self::NAME,
            reason: error.to_string(),
        })
    }

    /// Encode as compact JSON.
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("body types have string or integer map keys only")
    }
}

/// Deserialize a field that some clients send as null (fastjson omits it instead) as its
/// default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(deserializer)?.unwrap_or_default())
}

/// Quote bare numeric object keys (`{0:"a",-1:"b"}` becomes `{"0":"a","-1":"b"}`), which
/// fastjson writes for `Map<Integer|Long, _>` without `QuoteFieldNames`, and object keys
/// (`{{"queueId":0}:1}` becomes `{"{\"queueId\":0}":1}`), which fastjson writes for maps keyed
/// by a bean. Text inside strings is left alone. Borrowed when nothing needed quoting, which
/// is the common case.
pub fn quote_keys(text: &[u8]) -> Cow<'_, [u8]> {
    let mut quoted: Option<Vec<u8>> = None;
    let mut strings = StringTracker::default();
    // A key can only follow `{`, or `,` inside an object; `containers` records the open
    // brackets so a `,` in an array is not mistaken for one.
    let mut containers: Vec<u8> = Vec::new();
    let mut expect_key = false;
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        if strings.feed(byte) {
            expect_key = false;
        } else {
            match byte {
                b'{' if expect_key => {
                    if let Some(end) = object_key_end(text, index) {
                        let output = quoted.get_or_insert_with(|| text[..index].to_vec());
                        let key = String::from_utf8_lossy(&text[index..end]);
                        let key = serde_json::to_string(&key).expect("a string serializes");
                        output.extend_from_slice(key.as_bytes());
                        index = end;
                        expect_key = false;
                        continue;
                    }
                    containers.push(byte);
                }
                b'{' | b'[' => {
                    containers.push(byte);
                    expect_key = byte == b'{';
                }
                b'}' | b']' => {
                    containers.pop();
                    expect_key = false;
                }
                b',' => expect_key = containers.last() == Some(&b'{'),
                b'-' | b'0'..=b'9' if expect_key => {
                    let end = numeric_key_end(text, index);
                    if let Some(end) = end {
                        let output = quoted.get_or_insert_with(|| text[..index].to_vec());
                        output.push(b'"');
                        output.extend_from_slice(&text[index..end]);
                        output.push(b'"');
                        index = end;
                        expect_key = false;
                        continue;
                    }
                    expect_key = false;
                }
                b' ' | b'\t' | b'\n' | b'\r' => {}
                _ => expect_key = false,
            }
        }
        if let Some(output) = quoted.as_mut() {
            output.push(byte);
        }
        index += 1;
    }
    match quoted {
        Some(output) => Cow::Owned(output),
        None => Cow::Borrowed(text),
    }
}

/// Whether a byte-by-byte scan of JSON text stands inside a string literal.
#[derive(Default)]
struct StringTracker {
    inside: bool,
    escaped: bool,
}

impl StringTracker {
    /// Feed the next byte; true when it belongs to a string literal (its quotes included).
    fn feed(&mut self, byte: u8) -> bool {
        if self.inside {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.inside = false;
            }
            return true;
        }
        self.inside = byte == b'"';
        self.inside
    }
}

/// End (one past the closing brace) of an object key starting with the `{` at `start`, if the
/// object is balanced and followed (after spaces) by `:`.
fn object_key_end(text: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0_usize;
    let mut strings = StringTracker::default();
    let mut end = start;
    while let Some(&byte) = text.get(end) {
        end += 1;
        if strings.feed(byte) {
            continue;
        }
        match byte {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    let mut after = end;
    while matches!(text.get(after), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        after += 1;
    }
    (text.get(after) == Some(&b':')).then_some(end)
}

/// End of a bare integer key starting at `start` if it is followed (after spaces) by `:`.
fn numeric_key_end(text: &[u8], start: usize) -> Option<usize> {
    let mut end = start;
    if text.get(end) == Some(&b'-') {
        end += 1;
    }
    let digits_start = end;
    while text.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    if end == digits_start {
        return None;
    }
    let mut after = end;
    while matches!(text.get(after), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        after += 1;
    }
    (text.get(after) == Some(&b':')).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_unquoted_numeric_keys_are_quoted() {
        let text = br#"{"brokerAddrs":{0:"10.0.0.1:10911", -1 :"x"},"list":[0,1],"s":"{0:1}"}"#;
        let quoted = quote_keys(text);
        assert_eq!(
            std::str::from_utf8(&quoted).unwrap(),
            r#"{"brokerAddrs":{"0":"10.0.0.1:10911", "-1" :"x"},"list":[0,1],"s":"{0:1}"}"#
        );
    }

    #[test]
    fn standard_json_is_not_copied() {
        let text = br#"{"a":{"0":1},"b":[1,2,{"c":3}],"d":"\"{0:1}"}"#;
        assert!(matches!(quote_keys(text), Cow::Borrowed(_)));
    }

    #[test]
    fn object_keys_become_strings_holding_their_json() {
        // fastjson's rendering of a map keyed by MessageQueue, with a brace inside a string.
        let text =
            br#"{"mqTable":{{"brokerName":"b}","queueId":0,"topic":"T"} :{"x":1}},"v":{"a":1}}"#;
        let quoted = quote_keys(text);
        assert_eq!(
            std::str::from_utf8(&quoted).unwrap(),
            r#"{"mqTable":{"{\"brokerName\":\"b}\",\"queueId\":0,\"topic\":\"T\"}" :{"x":1}},"v":{"a":1}}"#
        );
        let value: serde_json::Value = serde_json::from_slice(&quoted).unwrap();
        assert_eq!(value["v"]["a"], 1);
    }

    #[test]
    fn an_unbalanced_object_key_is_left_for_the_parser_to_refuse() {
        let text = br#"{{"a":1"#;
        assert!(matches!(quote_keys(text), Cow::Borrowed(_)));
    }

    #[test]
    fn numbers_in_value_position_stay_numbers() {
        let text = br#"{"a":1,"b":[2,{3:4}]}"#;
        let quoted = quote_keys(text);
        assert_eq!(
            std::str::from_utf8(&quoted).unwrap(),
            r#"{"a":1,"b":[2,{"3":4}]}"#
        );
    }
}
