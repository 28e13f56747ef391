//! Where a send request goes, read from the front of its JSON header without decoding it.
//!
//! A broker shard that reads a send for a queue another shard owns hands the frame over
//! undecoded, so that the owner, not the reader, pays for the decode (a SEND_MESSAGE_V2 header
//! is the broker's costliest parse). For that the reader needs only the code, the topic and the
//! queue id. In the layout Java clients write (keys sorted: `code`, then `extFields` with `a`,
//! `b` = topic, `c`, `d`, `e` = queueId, ..., then `flag` ...) those are all in the first
//! 150 bytes, ahead of the properties, so the scan stops long before the header's end.
//!
//! The scan is an answer or nothing: `None` whenever the header is not plainly shaped (a key
//! or a wanted value with an escape, a nested value, a float where the code should be, the end
//! reached before all three were found). The caller then decodes the whole header as before.
//! It does not check the rest of the header, and it keeps the first of a repeated key where the
//! decoder keeps the last: the shard that decodes the frame routes the decoded request again,
//! so a header that fools the scan costs one more hop, never a wrong queue.

use crate::header::send::send_route_keys;
use crate::request_code as code;

use super::decoder::{plain_end, plain_i32, plain_string_at};

/// The routing facts of a send request (SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRoute<'a> {
    pub code: i32,
    pub topic: &'a str,
    /// As the client gave it; −1 asks the broker to choose.
    pub queue_id: i32,
}

/// The route of the send request whose JSON header is `header`, or `None` (not a send, or not
/// plainly shaped; see the module documentation).
#[must_use]
pub fn send_route(header: &[u8]) -> Option<SendRoute<'_>> {
    java_v2_route(header).or_else(|| scanned_route(header))
}

/// The route of a V2 or batch send in exactly the Java client's layout, matched as text:
/// `{"code":310,"extFields":{"a":"..","b":"TOPIC","c":"..","d":"..","e":"QUEUE"` with plain
/// strings. About a tenth of the general scan's cost; `None` sends the header there.
fn java_v2_route(header: &[u8]) -> Option<SendRoute<'_>> {
    let (code, rest) = if let Some(rest) = header.strip_prefix(br#"{"code":310,"#) {
        (code::SEND_MESSAGE_V2, rest)
    } else {
        (
            code::SEND_BATCH_MESSAGE,
            header.strip_prefix(br#"{"code":320,"#)?,
        )
    };
    let rest = rest.strip_prefix(br#""extFields":{"a":""#)?;
    let (_, rest) = plain_string_then(rest, br#","b":""#)?;
    let (topic, rest) = plain_string_then(rest, br#","c":""#)?;
    let (_, rest) = plain_string_then(rest, br#","d":""#)?;
    let (_, rest) = plain_string_then(rest, br#","e":""#)?;
    let (queue, _) = plain_string_then(rest, b"")?;
    // Digits with an optional minus only: what the general scan takes from a string.
    if queue.is_empty() || queue.starts_with(b"+") {
        return None;
    }
    Some(SendRoute {
        code,
        topic: std::str::from_utf8(topic).ok()?,
        queue_id: std::str::from_utf8(queue).ok()?.parse().ok()?,
    })
}

/// A plain string's text (the opening quote already passed), and what follows its closing
/// quote and `next`.
fn plain_string_then<'a>(bytes: &'a [u8], next: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let end = plain_end(bytes, 0);
    let (text, rest) = bytes.split_at(end);
    let rest = rest.strip_prefix(b"\"")?.strip_prefix(next)?;
    Some((text, rest))
}

/// The general scan: any key order, whitespace, both spellings.
fn scanned_route(header: &[u8]) -> Option<SendRoute<'_>> {
    let mut scan = Scan {
        bytes: header,
        pos: 0,
    };
    let mut code = None;
    // Both spellings are collected until the code says which one counts.
    let mut found = Found::default();
    scan.expect(b'{')?;
    if scan.peek_after_whitespace()? == b'}' {
        return None;
    }
    loop {
        let key = scan.plain_key()?;
        match key {
            b"code" if code.is_none() => code = Some(scan.integer()?),
            b"extFields" => scan_ext_fields(&mut scan, code, &mut found)?,
            _ => scan.skip_scalar()?,
        }
        if let Some(route) = code.and_then(|code| found.route(code)) {
            return Some(route);
        }
        if !scan.next_member()? {
            return None;
        }
    }
}

/// The extFields object (the scan is on its value) into `found`. Stops early, in the middle
/// of the object, once `code` (when already read) and its two keys are known.
fn scan_ext_fields<'a>(
    scan: &mut Scan<'a>,
    code: Option<i32>,
    found: &mut Found<'a>,
) -> Option<()> {
    scan.expect(b'{')?;
    if scan.peek_after_whitespace()? == b'}' {
        scan.pos += 1;
        return Some(());
    }
    loop {
        let key = scan.plain_key()?;
        match key {
            b"b" | b"topic" => found.set_topic(key, scan.plain_string()?),
            b"e" | b"queueId" => found.set_queue(key, scan.queue_id()?),
            _ => scan.skip_scalar()?,
        }
        if code.and_then(|code| found.route(code)).is_some() || !scan.next_member()? {
            return Some(());
        }
    }
}

/// The first value of each wanted ext key.
#[derive(Default)]
struct Found<'a> {
    b: Option<&'a str>,
    topic: Option<&'a str>,
    e: Option<i32>,
    queue_id: Option<i32>,
}

impl<'a> Found<'a> {
    fn set_topic(&mut self, key: &[u8], value: &'a str) {
        let slot = if key == b"b" {
            &mut self.b
        } else {
            &mut self.topic
        };
        slot.get_or_insert(value);
    }

    fn set_queue(&mut self, key: &[u8], value: i32) {
        let slot = if key == b"e" {
            &mut self.e
        } else {
            &mut self.queue_id
        };
        slot.get_or_insert(value);
    }

    fn route(&self, code: i32) -> Option<SendRoute<'a>> {
        let (topic, queue_id) = match send_route_keys(code)? {
            ("b", _) => (self.b?, self.e?),
            _ => (self.topic?, self.queue_id?),
        };
        Some(SendRoute {
            code,
            topic,
            queue_id,
        })
    }
}

struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek_after_whitespace(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek_after_whitespace()? == byte).then(|| self.pos += 1)
    }

    /// A string without escapes, after any whitespace.
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        self.skip_whitespace();
        let (text, next) = plain_string_at(self.bytes, self.pos)?;
        self.pos = next;
        self.bytes.get(text)
    }

    fn plain_string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.plain_bytes()?).ok()
    }

    /// A member's key and the `:` after it.
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        let key = self.plain_bytes()?;
        self.expect(b':')?;
        Some(key)
    }

    /// An `i32` written as a JSON integer (`-0` is left to the decoder too).
    fn integer(&mut self) -> Option<i32> {
        self.skip_whitespace();
        if self.bytes.get(self.pos..)?.starts_with(b"-0") {
            return None;
        }
        let (value, next) = plain_i32(self.bytes, self.pos)?;
        self.pos = next;
        Some(value)
    }

    /// A queue id: a string of digits (as Java writes it) or a bare integer (as some C++ and
    /// Go clients do).
    fn queue_id(&mut self) -> Option<i32> {
        if self.peek_after_whitespace()? == b'"' {
            let text = self.plain_string()?;
            // The decoder's reader trims and parses; only the untrimmed plain form is taken.
            if text.starts_with('+') {
                return None;
            }
            return text.parse().ok();
        }
        self.integer()
    }

    /// Skip a string, number, `true`, `false` or `null`; `None` at a container.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek_after_whitespace()? {
            b'"' => {
                self.pos += 1;
                loop {
                    self.pos = plain_end(self.bytes, self.pos);
                    match self.bytes.get(self.pos)? {
                        b'"' => {
                            self.pos += 1;
                            return Some(());
                        }
                        // The escaped byte is taken with its backslash; `\u` digits are plain.
                        b'\\' => self.pos += 2,
                        _ => return None,
                    }
                }
            }
            b'{' | b'[' => None,
            _ => {
                let start = self.pos;
                while let Some(byte) = self.bytes.get(self.pos) {
                    if matches!(byte, b',' | b'}' | b' ' | b'\n' | b'\t' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                (self.pos > start).then_some(())
            }
        }
    }

    /// After a member: `true` at `,` (another member follows), `false` at `}`.
    fn next_member(&mut self) -> Option<bool> {
        let byte = self.peek_after_whitespace()?;
        self.pos += 1;
        match byte {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::command::{RemotingCommand, SerializeType};
    use crate::frame;
    use crate::samples::send_request;

    fn header_of(command: &RemotingCommand) -> Vec<u8> {
        let mut out = Vec::new();
        super::super::encode(command, &mut out);
        out
    }

    fn route(text: &str) -> Option<SendRoute<'_>> {
        send_route(text.as_bytes())
    }

    #[test]
    fn the_java_layout_of_a_v2_send_routes_without_reading_the_properties() {
        let header = header_of(&send_request(SerializeType::Json));
        assert!(java_v2_route(&header).is_some(), "the fast path takes it");
        assert_eq!(
            send_route(&header),
            Some(SendRoute {
                code: 310,
                topic: "BenchmarkTest",
                queue_id: 3
            })
        );
        // Everything after `e` may be anything: the scan has stopped.
        let text = String::from_utf8(header).unwrap();
        let cut = text.find("\"f\":").unwrap();
        assert!(route(&format!("{}garbage", &text[..cut])).is_some());
    }

    #[test]
    fn v1_sends_use_topic_and_queue_id_in_any_order_and_spelling() {
        assert_eq!(
            route(r#"{"extFields":{"queueId":7,"topic":"T","b":"X","e":"1"},"code":10}"#),
            Some(SendRoute {
                code: 10,
                topic: "T",
                queue_id: 7
            })
        );
        assert_eq!(
            route(r#" { "code" : 320 , "extFields" : { "e" : "-1" , "b" : "T" } } "#),
            Some(SendRoute {
                code: 320,
                topic: "T",
                queue_id: -1
            })
        );
    }

    #[test]
    fn anything_not_plainly_shaped_is_left_to_the_decoder() {
        for text in [
            // Not a send.
            r#"{"code":11,"extFields":{"topic":"T","queueId":"1"}}"#,
            r#"{"code":34}"#,
            // Escapes in a wanted key or value, a nested value, numbers out of form.
            r#"{"code":310,"extFields":{"\u0062":"T","e":"1"}}"#,
            r#"{"code":310,"extFields":{"b":"T\u0041","e":"1"}}"#,
            r#"{"code":310,"extFields":{"b":"T","e":" 1"}}"#,
            r#"{"code":310,"extFields":{"b":"T","e":"+1"}}"#,
            r#"{"code":310,"extFields":{"b":"T","e":1.0}}"#,
            r#"{"code":310,"x":{"y":1},"extFields":{"b":"T","e":"1"}}"#,
            r#"{"code":310.0,"extFields":{"b":"T","e":"1"}}"#,
            r#"{"code":0310,"extFields":{"b":"T","e":"1"}}"#,
            r#"{"code":"310","extFields":{"b":"T","e":"1"}}"#,
            r#"{"code":4294967606,"extFields":{"b":"T","e":"1"}}"#,
            // Incomplete.
            r#"{"code":310,"extFields":{"b":"T"}}"#,
            r#"{"code":310,"extFields":null}"#,
            r#"{"code":310,"extFields":{"b":"T","e""#,
            "",
            "{",
            "{}",
        ] {
            assert_eq!(route(text), None, "{text}");
        }
    }

    proptest! {
        // About one case in ten has a complete route, so many cases are run.
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Hazard: the scan and the decoder disagree about a send's topic or queue, so the
        /// frame goes to a shard that does not own the queue, or a send routes that the decoder
        /// would refuse. For every header the decoder reads without repeated keys, a scan that
        /// answers must give what the decoded request says.
        #[test]
        fn a_scan_that_answers_agrees_with_the_decoder(
            code in prop_oneof![Just(10), Just(310), Just(320), Just(11), any::<i32>()],
            others in proptest::collection::btree_map(
                prop_oneof![
                    Just("a".to_owned()),
                    Just("c".to_owned()),
                    Just("d".to_owned()),
                    Just("i".to_owned()),
                    "[a-z]{1,3}",
                    "[a-z\u{1}\"\\\\]{1,3}",
                ],
                "[A-Za-z0-9_\\-\u{1}\u{2}\"\\\\ ]{0,12}",
                0..6,
            ),
            topics in proptest::array::uniform2(proptest::option::weighted(
                0.8,
                prop_oneof![3 => "[A-Za-z0-9_%|\\-]{1,8}", 1 => "[A-Za-z\u{1}\"\\\\]{0,3}"],
            )),
            queues in proptest::array::uniform2(proptest::option::weighted(
                0.8,
                prop_oneof!["-?[0-9]{1,3}", " ?[0-9+]{0,3}", "[0-9a-z.]{1,3}"],
            )),
            json_numbers in any::<bool>(),
        ) {
            let mut command = RemotingCommand::request(code);
            for (key, value) in &others {
                command.ext_fields.insert(key.as_str(), value.as_str());
            }
            for (key, value) in ["b", "topic"].into_iter().zip(&topics) {
                if let Some(value) = value {
                    command.ext_fields.insert(key, value.as_str());
                }
            }
            for (key, value) in ["e", "queueId"].into_iter().zip(&queues) {
                if let Some(value) = value {
                    command.ext_fields.insert(key, value.as_str());
                }
            }
            let mut header = header_of(&command);
            if json_numbers {
                // As C++ clients write them: bare numbers where the values are digits.
                let text = String::from_utf8(header).unwrap();
                let text = regex_lite_unquote_digits(&text);
                header = text.into_bytes();
            }
            let Ok(decoded) = super::super::decode(&header) else {
                return Ok(());
            };
            if let Some(fast) = java_v2_route(&header) {
                prop_assert_eq!(Some(fast), scanned_route(&header), "the fast path agrees");
            }
            if let Some(route) = send_route(&header) {
                let (topic_key, queue_key) = send_route_keys(decoded.code).unwrap();
                prop_assert_eq!(route.code, decoded.code);
                prop_assert_eq!(Some(route.topic), decoded.ext(topic_key));
                let queue: Option<i32> =
                    decoded.ext(queue_key).and_then(|q| q.trim().parse().ok());
                prop_assert_eq!(Some(route.queue_id), queue);
            }
        }

    }

    proptest! {
        // About a third of the cases take the fast path.
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Hazard: the text match of the Java layout reads a different topic or queue than
        /// the general scan (a quote or backslash inside a value, a value that is not a
        /// number, a batch code), or takes a header it should leave.
        #[test]
        fn the_java_layout_fast_path_agrees_with_the_general_scan(
            code in prop_oneof![Just(310), Just(320), Just(10)],
            values in proptest::array::uniform4(prop_oneof![
                3 => "[A-Za-z0-9_%|\\-]{0,8}",
                1 => "[A-Za-z0-9\u{1}\"\\\\ +-]{0,4}",
            ]),
            queue in prop_oneof![3 => "-?[0-9]{1,3}", 1 => "[0-9\u{1}\"\\\\ +a-]{0,4}"],
            others in proptest::collection::btree_map("[f-z]{1,2}", "[a-z\u{1}]{0,4}", 0..4),
        ) {
            let mut command = RemotingCommand::request(code);
            for (key, value) in ["a", "b", "c", "d"].into_iter().zip(&values) {
                command.ext_fields.insert(key, value.as_str());
            }
            command.ext_fields.insert("e", queue.as_str());
            for (key, value) in &others {
                command.ext_fields.insert(key.as_str(), value.as_str());
            }
            let header = header_of(&command);
            // Where the fast path declines, the general scan decides.
            if let Some(fast) = java_v2_route(&header) {
                prop_assert_eq!(Some(fast), scanned_route(&header));
                let decoded = super::super::decode(&header).unwrap();
                prop_assert_eq!(Some(fast.topic), decoded.ext("b"));
                let queue: Option<i32> = decoded.ext("e").and_then(|e| e.trim().parse().ok());
                prop_assert_eq!(Some(fast.queue_id), queue);
            }
        }

        /// Hazard: a hostile header makes the scan panic or run past the end.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = send_route(&bytes);
        }
    }

    /// `"123"` -> `123` for string values made only of digits (an optional leading `-`).
    fn regex_lite_unquote_digits(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find(":\"") {
            out.push_str(&rest[..=open]);
            let after = &rest[open + 2..];
            let close = after.find('"').unwrap_or(after.len());
            let value = &after[..close];
            let digits = value.strip_prefix('-').unwrap_or(value);
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !(digits.len() > 1 && digits.starts_with('0'))
                && close < after.len()
            {
                out.push_str(value);
                rest = &after[close + 1..];
            } else {
                out.push('"');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn a_whole_frame_scan_matches_its_decode() {
        let mut encoded = Vec::new();
        frame::encode(&send_request(SerializeType::Json), &mut encoded);
        let raw = frame::split(&encoded, frame::FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(frame::send_route(&raw).map(|route| route.queue_id), Some(3));
        let mut binary = Vec::new();
        frame::encode(&send_request(SerializeType::RocketMq), &mut binary);
        let raw = frame::split(&binary, frame::FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(frame::send_route(&raw), None, "binary headers are decoded");
    }
}
