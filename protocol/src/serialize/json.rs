//! JSON header (serializeType 0), as fastjson writes it and as real clients send it.
//!
//! Encoding always produces the exact Java layout, because several clients only take a fast path
//! for it and rocketmq-client-rust rejects headers without `serializeTypeCurrentRPC`:
//!
//! ```text
//! {"code":105,"extFields":{"topic":"T"},"flag":0,"language":"JAVA","opaque":1,
//!  ["remark":"..",]"serializeTypeCurrentRPC":"JSON","version":475}
//! ```
//! Keys are sorted, output is compact, and every extFields value is a JSON string.
//!
//! Decoding is lenient in the ways real clients differ from Java: any key order and whitespace,
//! a trailing newline (jsoncpp), numbers and booleans as extFields values (ali-ons, C++; coerced
//! to strings as fastjson does: `0` -> `"0"`, `false` -> `"false"`), a missing
//! `serializeTypeCurrentRPC`, `remark` null or empty, `extFields` null or absent, unknown keys,
//! and `\u` escapes including surrogate pairs. Unknown language names decode as `Other`.
//!
//! The decoder is hand-written (`json/decoder.rs`, the broker's hottest parser). It replaced a
//! serde_json one, which stays as a test oracle (`json/oracle.rs`): `json/differential.rs`
//! checks that both accept the same inputs and decode them to the same command.

use super::{HeaderDecodeError, HeaderScope};
use crate::command::RemotingCommand;

mod decoder;
#[cfg(test)]
mod differential;
#[cfg(test)]
mod oracle;
mod route;

pub use route::{send_route, SendRoute};

/// Append the JSON header of `command` in the Java layout. The body is not written.
pub fn encode(command: &RemotingCommand, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"code\":");
    push_integer(out, command.code);
    out.extend_from_slice(b",\"extFields\":{");
    for (index, (key, value)) in command.ext_fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_string(out, key);
        out.push(b':');
        push_string(out, value);
    }
    out.extend_from_slice(b"},\"flag\":");
    push_integer(out, command.flag);
    out.extend_from_slice(b",\"language\":");
    push_string(out, command.language.name());
    out.extend_from_slice(b",\"opaque\":");
    push_integer(out, command.opaque);
    if let Some(remark) = &command.remark {
        out.extend_from_slice(b",\"remark\":");
        push_string(out, remark);
    }
    out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    push_integer(out, command.version);
    out.push(b'}');
}

/// Decode a JSON header into a command with an empty body.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, HeaderDecodeError> {
    decoder::decode(header, HeaderScope::Full)
}

/// Decode a JSON header, or all of it but its extFields (see [`HeaderScope`]).
pub fn decode_scoped(
    header: &[u8],
    scope: HeaderScope,
) -> Result<RemotingCommand, HeaderDecodeError> {
    decoder::decode(header, scope)
}

fn push_integer(out: &mut Vec<u8>, value: i32) {
    // i32 has at most 11 characters; formatting through a stack buffer avoids a String.
    let mut digits = [0u8; 11];
    let mut cursor = digits.len();
    let mut magnitude = value.unsigned_abs();
    loop {
        cursor -= 1;
        digits[cursor] = b'0' + u8::try_from(magnitude % 10).unwrap_or(0);
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[cursor..]);
}

/// Append `text` as a JSON string. Control characters are escaped because message properties
/// carry `\u0001` and `\u0002`; other characters, including non-ASCII, are written raw (UTF-8).
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Runs of plain text are found a word at a time and copied whole; most strings (msgIds,
    // offsets, topics) are one run.
    let mut start = 0;
    loop {
        let index = decoder::plain_end(bytes, start);
        out.extend_from_slice(&bytes[start..index]);
        let Some(&byte) = bytes.get(index) else {
            break;
        };
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Language;

    fn decoded(text: &str) -> RemotingCommand {
        decode(text.as_bytes()).unwrap()
    }

    #[test]
    fn response_with_remark_uses_the_exact_java_layout() {
        let request = RemotingCommand::request(10);
        let response = RemotingCommand::response_to(&request, 17, Some("no \"topic\"\n".into()))
            .with_ext("queueId", &3);
        let mut out = Vec::new();
        encode(&response, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"code":17,"extFields":{"queueId":"3"},"flag":1,"language":"JAVA","opaque":0,"remark":"no \"topic\"\n","serializeTypeCurrentRPC":"JSON","version":475}"#
        );
    }

    #[test]
    fn empty_ext_fields_are_still_written_because_java_clients_read_them() {
        let mut out = Vec::new();
        encode(&RemotingCommand::request(34), &mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#""extFields":{}"#));
    }

    #[test]
    fn control_characters_in_properties_are_escaped_and_decode_back() {
        let command = RemotingCommand::request(310).with_ext("i", &"TAGS\u{1}A\u{2}\u{7f}é");
        let mut out = Vec::new();
        encode(&command, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains(r#""i":"TAGS\u0001A\u0002"#), "{text}");
        assert_eq!(
            decode(&out).unwrap().ext("i"),
            Some("TAGS\u{1}A\u{2}\u{7f}é")
        );
    }

    proptest::proptest! {
        /// Hazard: the word-at-a-time copy of plain runs drops, repeats or fails to escape a
        /// byte next to a word boundary or at the end (a string whose length is not a multiple
        /// of eight). serde_json writes strings the way fastjson reads them, with the same
        /// escapes, so the two must agree byte for byte.
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            text in "(?s)[a-z\u{0}-\u{1f}\"\\\\\u{7f}é€😀]{0,40}"
        ) {
            let mut out = b"x".to_vec();
            push_string(&mut out, &text);
            let expected = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(&out[1..], expected.as_bytes());
        }
    }

    #[test]
    fn numbers_and_booleans_in_ext_fields_become_strings_like_fastjson() {
        let command = decoded(
            r#"{"code":11,"extFields":{"queueId":0,"unitMode":false,"subVersion":1690000000000,"f":1.5,"n":null}}"#,
        );
        assert_eq!(command.ext("queueId"), Some("0"));
        assert_eq!(command.ext("unitMode"), Some("false"));
        assert_eq!(command.ext("subVersion"), Some("1690000000000"));
        assert_eq!(command.ext("f"), Some("1.5"));
        assert_eq!(command.ext("n"), None);
    }

    #[test]
    fn client_variants_of_optional_fields_are_accepted() {
        let cpp = decoded("{\"code\":105,\"remark\":\"\",\"extFields\":{\"topic\":\"T\"}}\n");
        assert_eq!(cpp.remark.as_deref(), Some(""));
        let rust = decoded(r#"{"code":105,"remark":null,"extFields":null}"#);
        assert_eq!(rust.remark, None);
        assert!(rust.ext_fields.is_empty());
        let bare = decoded(r#" { "opaque" : 9 , "code" : 105 } "#);
        assert_eq!((bare.code, bare.opaque), (105, 9));
        assert_eq!(bare.language, Language::Java);
    }

    #[test]
    fn unknown_language_decodes_as_other_never_an_error() {
        assert_eq!(decoded(r#"{"language":"COBOL"}"#).language, Language::Other);
        assert_eq!(
            decoded(r#"{"language":"NODE_JS"}"#).language,
            Language::NodeJs
        );
        assert_eq!(decoded(r#"{"language":null}"#).language, Language::Other);
    }

    #[test]
    fn unicode_escapes_including_surrogate_pairs_decode() {
        let command = decoded(r#"{"extFields":{"t\u00e9":"\ud83d\ude00"}}"#);
        assert_eq!(command.ext("té"), Some("😀"));
        assert!(decode(br#"{"extFields":{"t":"\ud83d"}}"#).is_err());
    }

    #[test]
    fn malformed_headers_are_errors_naming_the_problem() {
        for text in [
            "",
            "[105]",
            "{",
            r#"{"code":"x"}"#,
            r#"{"code":4294967296}"#,
        ] {
            let error = decode(text.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("JSON header"), "{text}: {error}");
        }
    }

    #[test]
    fn errors_say_what_was_expected_and_at_which_byte() {
        for (text, reason) in [
            (r#"{"code" 1}"#, "expected `:` at byte 8"),
            (r#"{"code":1 "flag":0}"#, "expected `,` or `}` at byte 10"),
            (r#"{"code":1,}"#, "trailing comma before `}` at byte 10"),
            (r#"{"code":1,"code":2}"#, "duplicate key `code` at byte 10"),
            (
                r#"{"remark":"\ud83d"}"#,
                "lone leading surrogate in a \\u escape at byte 13",
            ),
            (
                "{} {}",
                "trailing characters after the header object at byte 3",
            ),
        ] {
            match decode(text.as_bytes()) {
                Err(HeaderDecodeError::Json { reason: found }) => assert_eq!(found, reason),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn repeated_keys_follow_serde_json() {
        assert!(decode(br#"{"opaque":1,"opaque":2}"#).is_err());
        let command = decoded(r#"{"x":1,"x":2,"extFields":{"a":"1","b":"2","a":"3","b":null}}"#);
        assert_eq!(command.ext("a"), Some("3"));
        assert_eq!(command.ext("b"), None);
    }

    #[test]
    fn integer_writer_handles_the_extremes() {
        for value in [0, -1, 7, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            push_integer(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }
}
