//! The decoder's first try: a header written compactly, as every RocketMQ client writes it
//! (fastjson, serde_json, Go's encoding/json): no whitespace, only the known top-level keys
//! (and `serializeTypeCurrentRPC`), integers for the numeric fields, strings for `language`,
//! `remark` and every extFields value, and keys without escapes.
//!
//! It reads such a header in one pass without the general reader's per-token dispatch
//! (whitespace, `Cow` keys matched as text, values coerced from any JSON type). Anything else,
//! including every error, makes it give up with `None`, and the general reader decodes the
//! header from the start, so what is accepted and what each error says is decided there
//! alone. The differential tests against the serde_json oracle run through this path first.

use crate::command::RemotingCommand;
use crate::ext::{ExtFields, DECODED_ENTRIES_INITIAL};
use crate::serialize::HeaderScope;

use super::{language_from_text, plain_i32, plain_string_at, Field, Reader, Seen};

/// Not a field of the command (the frame says how it is encoded), so the general reader skips
/// it as an unknown key; here only its plain-string form is taken.
const SERIALIZE_TYPE_KEY: &str = "serializeTypeCurrentRPC";
/// Its bit in `Seen`, above the fields' bits.
const SERIALIZE_TYPE_BIT: u8 = 128;

impl<'a> Reader<'a> {
    /// The header as a command, if it is in the compact shape described in the module docs.
    pub(super) fn compact(&mut self) -> Option<RemotingCommand> {
        let bytes = self.bytes;
        if bytes.first() != Some(&b'{') {
            return None;
        }
        self.pos = 1;
        let mut command = RemotingCommand::default();
        if self.peek() == Some(b'}') {
            return (bytes.len() == 2).then_some(command);
        }
        let mut seen = Seen::default();
        loop {
            let key = self.compact_key()?;
            let field = match Field::of(key) {
                Some(field) => Some(field),
                None if key == SERIALIZE_TYPE_KEY => None,
                None => return None,
            };
            if !seen.first_time(field.map_or(SERIALIZE_TYPE_BIT, Field::bit)) {
                return None;
            }
            match field {
                Some(Field::Code) => command.code = self.compact_integer()?,
                Some(Field::Language) => {
                    command.language = language_from_text(self.compact_plain_string()?);
                }
                Some(Field::Version) => command.version = self.compact_integer()?,
                Some(Field::Opaque) => command.opaque = self.compact_integer()?,
                Some(Field::Flag) => command.flag = self.compact_integer()?,
                Some(Field::Remark) => {
                    command.remark = Some(self.compact_plain_string()?.to_owned());
                }
                Some(Field::ExtFields) => self.compact_ext_fields(&mut command.ext_fields)?,
                None => {
                    self.compact_plain_string()?;
                }
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return (self.pos == bytes.len()).then_some(command);
                }
                _ => return None,
            }
        }
    }

    /// A key without escapes, with the `:` right after it.
    fn compact_key(&mut self) -> Option<&'a str> {
        let (text, next) = plain_string_at(self.bytes, self.pos)?;
        if self.bytes.get(next) != Some(&b':') {
            return None;
        }
        self.pos = next + 1;
        self.text?.get(text)
    }

    /// A string without escapes.
    fn compact_plain_string(&mut self) -> Option<&'a str> {
        let (text, next) = plain_string_at(self.bytes, self.pos)?;
        self.pos = next;
        self.text?.get(text)
    }

    /// An integer literal within `i32` (see [`plain_i32`]).
    fn compact_integer(&mut self) -> Option<i32> {
        let (value, next) = plain_i32(self.bytes, self.pos)?;
        self.pos = next;
        Some(value)
    }

    /// extFields: an object of string values (escapes allowed in values, not in keys). A
    /// repeated key keeps its last value, as in the general reader.
    fn compact_ext_fields(&mut self, entries: &mut ExtFields) -> Option<()> {
        if self.peek() != Some(b'{') {
            return None;
        }
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        let keep = self.scope == HeaderScope::Full;
        if keep {
            entries.reserve(DECODED_ENTRIES_INITIAL);
        }
        loop {
            let key = self.compact_key()?;
            if self.peek() != Some(b'"') {
                return None;
            }
            self.pos += 1;
            let value = self.string().ok()?;
            if keep {
                entries.insert(key, value);
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Reader};
    use crate::command::{RemotingCommand, SerializeType};
    use crate::samples::{send_request, send_response};
    use crate::serialize::json::encode;
    use crate::serialize::HeaderScope;

    fn compact(header: &[u8], scope: HeaderScope) -> Option<RemotingCommand> {
        Reader::new(header, scope).compact()
    }

    /// Hazard: the compact path stops answering for the headers clients send (the decode
    /// silently costs a fifth more again), or answers differently from the general reader.
    #[test]
    fn the_headers_clients_send_take_the_compact_path() {
        let mut java_like = b"{\"code\":310,\"extFields\":{\"a\":\"group\",\"b\":\"Topic\",\
            \"i\":\"TAGS\\u0001A\\u0002\"},\"flag\":0,\"language\":\"JAVA\",\"opaque\":7,\
            \"serializeTypeCurrentRPC\":\"JSON\",\"version\":475}"
            .to_vec();
        let go_like = b"{\"code\":11,\"language\":\"GO\",\"version\":317,\"opaque\":-3,\
            \"flag\":2,\"remark\":\"\",\"extFields\":{\"topic\":\"T\",\"queueId\":\"1\"}}";
        let mut headers = vec![java_like.clone(), go_like.to_vec()];
        for command in [
            send_request(SerializeType::Json),
            send_response(SerializeType::Json),
        ] {
            let mut header = Vec::new();
            encode(&command, &mut header);
            headers.push(header);
        }
        for header in &headers {
            for scope in [HeaderScope::Full, HeaderScope::WithoutExtFields] {
                let fast = compact(header, scope);
                let shown = String::from_utf8_lossy(header);
                assert!(fast.is_some(), "{shown} did not take the compact path");
                let general = decode(header, scope).ok();
                assert_eq!(fast, general, "{shown}");
            }
        }
        java_like.push(b' ');
        assert_eq!(compact(&java_like, HeaderScope::Full), None);
    }

    /// Hazard: the compact path accepts a header the general reader treats differently: one
    /// with whitespace, a number spelled another way, a repeated or unknown key, an escaped
    /// key, a non-string extFields value. Each must be left to the general reader.
    #[test]
    fn other_shapes_are_left_to_the_general_reader() {
        let refused: [&[u8]; 22] = [
            b"{ \"code\":1}",
            b"{\"code\" :1}",
            b"{\"code\":1 }",
            b"{\"code\":01}",
            b"{\"code\":1.0}",
            b"{\"code\":1e2}",
            b"{\"code\":-}",
            b"{\"code\":\"1\"}",
            b"{\"code\":null}",
            b"{\"code\":2147483648}",
            b"{\"code\":12345678901}",
            b"{\"code\":1,\"code\":2}",
            b"{\"unknown\":1}",
            b"{\"co\\u0064e\":1}",
            b"{\"remark\":\"a\\nb\"}",
            b"{\"remark\":null}",
            b"{\"language\":0}",
            b"{\"extFields\":{\"a\":1}}",
            b"{\"extFields\":{\"a\":null}}",
            b"{\"extFields\":{\"\\u0061\":\"x\"}}",
            b"{\"extFields\":{\"a\":\"x\",}}",
            b"{\"code\":1}x",
        ];
        for header in refused {
            let shown = String::from_utf8_lossy(header);
            assert_eq!(compact(header, HeaderScope::Full), None, "{shown}");
        }
        let not_utf8 = b"{\"remark\":\"\xff\"}";
        assert_eq!(compact(not_utf8, HeaderScope::Full), None);
    }

    /// Hazard: integers at the edges of `i32` are misread (overflow in the fold, the sign).
    #[test]
    fn integers_at_the_edges_of_i32() {
        for (text, value) in [
            ("0", 0),
            ("-0", 0),
            ("2147483647", i32::MAX),
            ("-2147483648", i32::MIN),
            ("9", 9),
        ] {
            let header = format!("{{\"opaque\":{text}}}");
            let command = compact(header.as_bytes(), HeaderScope::Full);
            assert_eq!(command.map(|command| command.opaque), Some(value), "{text}");
        }
        let header = b"{\"opaque\":-2147483649}";
        assert_eq!(compact(header, HeaderScope::Full), None);
    }
}
