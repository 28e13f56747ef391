//! The JSON header decoder: one pass over the bytes, straight into a [`RemotingCommand`], with
//! strings borrowed from the input until they are stored (a string with escapes is scanned for
//! its end first, so that its text is allocated once).
//!
//! It accepts exactly what the serde_json-based decoder it replaced accepted (that decoder is
//! kept as the test oracle in `oracle.rs`, and `differential.rs` compares the two), including
//! serde_json's own rules where they are not plain JSON:
//! - a known top-level key given twice is an error (serde's "duplicate field"), an extFields
//!   key given twice keeps its last value, and a null extFields value removes the key;
//! - strings that become values (keys, extFields, `remark`, `language`, numbers written as
//!   strings) must be UTF-8 and may not hold a lone surrogate `\u` escape; strings inside the
//!   value of an unknown key are only checked for escape syntax and control characters;
//! - containers nest at most 127 deep counting the header object, except inside the value of an
//!   unknown key, which is skipped without a limit (iteratively, so it cannot overflow the stack).
//!
//! Two rare cases are handed to serde_json so that their text stays bit-identical: a number
//! that is not an integer within `i64`/`u64` (a float, or an integer that serde_json reads as
//! `f64`) is converted by serde_json and written with Rust's `f64` `Display`, as before; an
//! object or array given as a value is checked for depth here, then parsed by serde_json and
//! written back as its compact JSON text (sorted keys, serde_json's number and escape format),
//! as fastjson renders a nested value into a `Map<String,String>`.

use std::borrow::Cow;
use std::fmt::Display;
use std::ops::Range;

use crate::command::{Language, RemotingCommand};
use crate::ext::{ExtFields, DECODED_ENTRIES_INITIAL};
use crate::serialize::{HeaderDecodeError, HeaderScope};

mod compact;

/// serde_json's recursion limit: the 128th container open at once is an error.
const DEPTH_MAX: usize = 127;

type Result<T> = std::result::Result<T, HeaderDecodeError>;

/// Decode a JSON header into a command with an empty body. With
/// [`HeaderScope::WithoutExtFields`] the `extFields` value is skipped as an unknown key's is
/// (checked for syntax, not built), so the command's extFields stay empty.
pub(super) fn decode(header: &[u8], scope: HeaderScope) -> Result<RemotingCommand> {
    let mut reader = Reader::new(header, scope);
    if let Some(command) = reader.compact() {
        return Ok(command);
    }
    reader.pos = 0;
    reader.skip_whitespace();
    if reader.peek() != Some(b'{') {
        return Err(reader.fail("the header does not start with `{`"));
    }
    reader.pos += 1;
    let mut command = RemotingCommand::default();
    let mut seen = Seen::default();
    if reader.object_has_first_key()? {
        loop {
            let at = reader.pos;
            let key = reader.key()?;
            reader.field(&key, at, &mut command, &mut seen)?;
            if !reader.object_has_next_key()? {
                break;
            }
        }
    }
    reader.skip_whitespace();
    if reader.pos < header.len() {
        return Err(reader.fail("trailing characters after the header object"));
    }
    Ok(command)
}

/// The top-level keys a command is read from; any other is skipped.
#[derive(Clone, Copy)]
enum Field {
    Code,
    Language,
    Version,
    Opaque,
    Flag,
    Remark,
    ExtFields,
}

impl Field {
    fn of(key: &str) -> Option<Self> {
        Some(match key {
            "code" => Self::Code,
            "language" => Self::Language,
            "version" => Self::Version,
            "opaque" => Self::Opaque,
            "flag" => Self::Flag,
            "remark" => Self::Remark,
            "extFields" => Self::ExtFields,
            _ => return None,
        })
    }

    /// Its bit in [`Seen`] (bits 0 to 6).
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The known keys already read, so that a repeated one is refused as serde's derive does.
#[derive(Default)]
struct Seen(u8);

impl Seen {
    fn first_time(&mut self, bit: u8) -> bool {
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first
    }
}

/// The index of the first byte of `word` (little-endian) that ends plain string text: a
/// quote, a backslash or a control character. A byte's high bit in `found` is set where it is
/// below 0x20 or, after the XOR, zero (the classic has-zero-byte test); bits above the lowest
/// set one may be false, but the lowest is exact.
fn first_special(word: u64) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let found = (word.wrapping_sub(ONES * 0x20) & !word
        | quote.wrapping_sub(ONES) & !quote
        | backslash.wrapping_sub(ONES) & !backslash)
        & HIGH;
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

/// Index of the first quote, backslash or control character of `bytes` at or after `from`,
/// or its length if there is none: the end of text a JSON string holds as it is, for the
/// decoder and for [`super::push_string`]. Eight bytes at a time; the last few are padded
/// with zeros, which count as control characters, so a find past the end means there is none.
#[inline]
pub(super) fn plain_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        if rest.is_empty() {
            return bytes.len();
        }
        // A whole word is loaded directly; only the last few bytes are copied (a copy of a
        // variable length is a call to memcpy, which cost more than the search).
        let word = if let Some(whole) = rest.first_chunk::<8>() {
            *whole
        } else {
            let mut padded = [0u8; 8];
            padded[..rest.len()].copy_from_slice(rest);
            padded
        };
        if let Some(offset) = first_special(u64::from_le_bytes(word)) {
            return (at + offset).min(bytes.len());
        }
        at += 8;
    }
}

/// A string without escapes whose opening quote is at `at`: the range of its text and the
/// index after its closing quote. `None` when `at` is not a quote, or the string holds an
/// escape or a control character, or does not end.
#[inline]
pub(super) fn plain_string_at(bytes: &[u8], at: usize) -> Option<(Range<usize>, usize)> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let end = plain_end(bytes, at + 1);
    (bytes.get(end) == Some(&b'"')).then_some((at + 1..end, end + 1))
}

/// An integer at `at` written as JSON writes one (an optional `-`, no leading zero), not
/// followed by a fraction or an exponent, that fits an `i32`; with the index after it.
#[inline]
pub(super) fn plain_i32(bytes: &[u8], at: usize) -> Option<(i32, usize)> {
    let negative = bytes.get(at) == Some(&b'-');
    let start = at + usize::from(negative);
    let digits = bytes
        .get(start..)?
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    // Ten digits hold every i32; more, or a leading zero, is refused.
    if digits == 0 || digits > 10 || (digits > 1 && bytes[start] == b'0') {
        return None;
    }
    let end = start + digits;
    if let Some(b'.' | b'e' | b'E') = bytes.get(end) {
        return None;
    }
    let magnitude = bytes[start..end]
        .iter()
        .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
    let value = i32::try_from(if negative { -magnitude } else { magnitude }).ok()?;
    Some((value, end))
}

/// What [`Reader::number`] read.
struct Number {
    negative: bool,
    /// The absolute value of an integer (no fraction or exponent) that fits `u64`.
    magnitude: Option<u64>,
}

impl Number {
    /// Whether serde_json reads it as an integer (`u64`, or `i64` when negative), whose text it
    /// prints back unchanged. `-0` and integers beyond those types become `f64` in serde_json,
    /// so they take the `f64` path too.
    fn prints_as_written(&self) -> bool {
        self.magnitude
            .is_some_and(|value| !self.negative || (value != 0 && value <= 1 << 63))
    }

    /// The value, if it is an integer within `i32` (what `code` and its likes hold).
    fn as_i32(&self) -> Option<i32> {
        let magnitude = i64::try_from(self.magnitude?).ok()?;
        i32::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }
}

struct Reader<'a> {
    scope: HeaderScope,
    bytes: &'a [u8],
    /// `bytes` as text, when all of it is UTF-8.
    text: Option<&'a str>,
    /// Index of the next unread byte; never beyond `bytes.len()`.
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(header: &'a [u8], scope: HeaderScope) -> Self {
        Reader {
            scope,
            bytes: header,
            // Nearly every header is UTF-8 throughout; checking that once lets each string be
            // sliced from it instead of validated on its own. Invalid bytes are only allowed in
            // skipped values, so a header that is not UTF-8 falls back to checking each string.
            text: std::str::from_utf8(header).ok(),
            pos: 0,
        }
    }

    #[cold]
    fn fail(&self, what: &str) -> HeaderDecodeError {
        fail_at(self.pos, what)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// After `{`: whether a key follows (the reader is then on its `"`) or the object is empty.
    fn object_has_first_key(&mut self) -> Result<bool> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b'"') => Ok(true),
            Some(_) => Err(self.fail("expected a string key or `}`")),
            None => Err(self.fail("unexpected end inside an object")),
        }
    }

    /// After a member's value: whether another key follows (the reader is then on its `"`).
    fn object_has_next_key(&mut self) -> Result<bool> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(false);
            }
            Some(b',') => self.pos += 1,
            Some(_) => return Err(self.fail("expected `,` or `}`")),
            None => return Err(self.fail("unexpected end inside an object")),
        }
        self.skip_whitespace();
        match self.peek() {
            Some(b'"') => Ok(true),
            Some(b'}') => Err(self.fail("trailing comma before `}`")),
            Some(_) => Err(self.fail("expected a string key")),
            None => Err(self.fail("unexpected end inside an object")),
        }
    }

    /// A member's key (the reader is on its `"`) and the `:` after it.
    fn key(&mut self) -> Result<Cow<'a, str>> {
        self.pos += 1;
        let key = self.string()?;
        self.skip_whitespace();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(key)
            }
            Some(_) => Err(self.fail("expected `:`")),
            None => Err(self.fail("unexpected end, expected `:`")),
        }
    }

    /// The value of one top-level member, stored into `command`.
    fn field(
        &mut self,
        key: &str,
        at: usize,
        command: &mut RemotingCommand,
        seen: &mut Seen,
    ) -> Result<()> {
        let Some(field) = Field::of(key) else {
            return self.skip_value(None);
        };
        if !seen.first_time(field.bit()) {
            return Err(fail_at(at, format_args!("duplicate key `{key}`")));
        }
        match field {
            Field::Code => command.code = self.integer()?,
            Field::Language => command.language = self.language()?,
            Field::Version => command.version = self.integer()?,
            Field::Opaque => command.opaque = self.integer()?,
            Field::Flag => command.flag = self.integer()?,
            Field::Remark => command.remark = self.coerced(1)?.map(Cow::into_owned),
            Field::ExtFields if self.scope == HeaderScope::WithoutExtFields => {
                self.skip_value(Some(1))?;
            }
            Field::ExtFields => self.ext_fields(&mut command.ext_fields)?,
        }
        Ok(())
    }

    /// `code`, `version`, `opaque`, `flag`: the coerced text as an `i32` (surrounding whitespace
    /// allowed, so `" 12 "` is 12); null is 0.
    fn integer(&mut self) -> Result<i32> {
        self.skip_whitespace();
        let at = self.pos;
        if let Some(b'-' | b'0'..=b'9') = self.peek() {
            if let Some(value) = self.number()?.as_i32() {
                return Ok(value);
            }
            // A float or a big integer: read it again as text, as any other value.
            self.pos = at;
        }
        let Some(text) = self.coerced(1)? else {
            return Ok(0);
        };
        text.trim()
            .parse::<i32>()
            .map_err(|_| fail_at(at, format_args!("`{text}` is not a 32-bit integer")))
    }

    /// A name (`"JAVA"`), or a code as a number or string (`0`, `"0"`); unknown and null are
    /// `Other`.
    fn language(&mut self) -> Result<Language> {
        Ok(match self.coerced(1)? {
            None => Language::Other,
            Some(text) => language_from_text(&text),
        })
    }

    /// extFields: an object whose values are coerced to strings, or null.
    fn ext_fields(&mut self, entries: &mut ExtFields) -> Result<()> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'n') => return self.literal(b"null"),
            Some(b'{') => self.pos += 1,
            Some(_) => return Err(self.fail("`extFields` is not an object or null")),
            None => return Err(self.fail("unexpected end, expected a value")),
        }
        if !self.object_has_first_key()? {
            return Ok(());
        }
        // `entries` is still empty: a second `extFields` key is refused as a duplicate. The
        // members are applied in order, so a repeated key keeps its last value and a null
        // removes the key, even one set earlier. Keys usually arrive sorted (fastjson sorts
        // them), and then each insert appends.
        entries.reserve(DECODED_ENTRIES_INITIAL);
        loop {
            let key = self.key()?;
            match self.coerced(2)? {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
            if !self.object_has_next_key()? {
                break;
            }
        }
        Ok(())
    }

    /// Any value as the string fastjson would make of it; `None` for null. `depth` is the
    /// number of containers around the value.
    fn coerced(&mut self, depth: usize) -> Result<Option<Cow<'a, str>>> {
        self.skip_whitespace();
        let text = match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string()?
            }
            Some(b't') => {
                self.literal(b"true")?;
                Cow::Borrowed("true")
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Cow::Borrowed("false")
            }
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(None);
            }
            Some(b'-' | b'0'..=b'9') => self.number_text()?,
            Some(b'{' | b'[') => self.nested_text(depth)?,
            Some(_) => return Err(self.fail("expected a value")),
            None => return Err(self.fail("unexpected end, expected a value")),
        };
        Ok(Some(text))
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        match self.bytes.get(self.pos..self.pos + word.len()) {
            Some(found) if found == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(self.fail("expected `true`, `false` or `null`")),
        }
    }

    /// A number as the text serde_json's value would print: an integer that fits `i64` or
    /// `u64` is its own literal; anything else goes through `f64` as before.
    fn number_text(&mut self) -> Result<Cow<'a, str>> {
        let start = self.pos;
        let exact = self.number()?.prints_as_written();
        let literal = self.bytes.get(start..self.pos).unwrap_or_default();
        if exact {
            if let Ok(text) = std::str::from_utf8(literal) {
                return Ok(Cow::Borrowed(text));
            }
        }
        match serde_json::from_slice::<f64>(literal) {
            Ok(value) => Ok(Cow::Owned(value.to_string())),
            // The grammar was checked above, so serde_json can only refuse the magnitude.
            Err(_) => Err(fail_at(start, "number out of range for an f64")),
        }
    }

    /// Read a number that follows JSON's grammar.
    fn number(&mut self) -> Result<Number> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let mut magnitude: Option<u64> = Some(0);
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.fail("invalid number: leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    magnitude = magnitude
                        .and_then(|value| value.checked_mul(10))
                        .and_then(|value| value.checked_add(u64::from(digit - b'0')));
                    self.pos += 1;
                }
            }
            _ => return Err(self.fail("invalid number: expected a digit")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
            integer = false;
        }
        Ok(Number {
            negative,
            magnitude: magnitude.filter(|_| integer),
        })
    }

    /// One or more digits (of a fraction or exponent).
    fn digits(&mut self) -> Result<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.fail("invalid number: expected a digit"));
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        Ok(())
    }

    /// An object or array value as its compact JSON text, as serde_json's `Value` prints it.
    fn nested_text(&mut self, depth: usize) -> Result<Cow<'a, str>> {
        let start = self.pos;
        self.skip_value(Some(depth))?;
        let text = self.bytes.get(start..self.pos).unwrap_or_default();
        match serde_json::from_slice::<serde_json::Value>(text) {
            Ok(value) => Ok(Cow::Owned(value.to_string())),
            Err(error) => Err(fail_at(
                start,
                format_args!("invalid nested value ({error} of the value), the value starting"),
            )),
        }
    }

    /// Skip one value without building it. With `depth_limit`, containers count towards the
    /// recursion limit on top of the `depth` given; without, nesting is unbounded (serde_json
    /// skips unknown keys' values that way). Iterative: the open containers are kept in `open`.
    fn skip_value(&mut self, depth_limit: Option<usize>) -> Result<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            if let Some(opened) = self.skip_value_start()? {
                if depth_limit.is_some_and(|depth| depth + open.len() + 1 > DEPTH_MAX) {
                    return Err(self.fail("containers nested too deep"));
                }
                self.pos += 1;
                open.push(opened);
                self.skip_whitespace();
                let close = if opened == b'[' { b']' } else { b'}' };
                if self.peek() != Some(close) {
                    if opened == b'{' {
                        self.skip_member_key()?;
                    }
                    continue;
                }
            }
            // A value is complete: close the containers it completes, then find the next one.
            loop {
                let Some(&inside) = open.last() else {
                    return Ok(());
                };
                self.skip_whitespace();
                match (self.peek(), inside) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        if inside == b'{' {
                            self.skip_member_key()?;
                        }
                        break;
                    }
                    (Some(b']'), b'[') | (Some(b'}'), b'{') => {
                        self.pos += 1;
                        open.pop();
                    }
                    (Some(_), _) => return Err(self.fail("expected `,` or the container's end")),
                    (None, _) => return Err(self.fail("unexpected end inside a container")),
                }
            }
        }
    }

    /// Skip a scalar; for `[` or `{`, return it without moving.
    fn skip_value_start(&mut self) -> Result<Option<u8>> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()?;
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
            }
            Some(opened @ (b'[' | b'{')) => return Ok(Some(opened)),
            Some(_) => return Err(self.fail("expected a value")),
            None => return Err(self.fail("unexpected end, expected a value")),
        }
        Ok(None)
    }

    /// Inside a skipped object: a key and its `:`.
    fn skip_member_key(&mut self) -> Result<()> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'"') => self.pos += 1,
            Some(_) => return Err(self.fail("expected a string key")),
            None => return Err(self.fail("unexpected end inside an object")),
        }
        self.skip_string()?;
        self.skip_whitespace();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.fail("expected `:`")),
            None => Err(self.fail("unexpected end, expected `:`")),
        }
    }

    /// Skip the rest of a string (after its `"`), checking only escapes and control characters,
    /// as serde_json does for strings it ignores.
    fn skip_string(&mut self) -> Result<()> {
        loop {
            self.pos = plain_end(self.bytes, self.pos);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            self.hex4(self.pos + 1)?;
                            self.pos += 5;
                        }
                        Some(_) => return Err(self.fail("invalid escape")),
                        None => return Err(self.fail("unexpected end inside a string")),
                    }
                }
                Some(_) => return Err(self.fail("control character inside a string")),
                None => return Err(self.fail("unexpected end inside a string")),
            }
        }
    }

    /// The rest of a string (after its `"`) as text: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>> {
        let start = self.pos;
        let end = plain_end(self.bytes, start);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return self.utf8(start, end).map(Cow::Borrowed);
        }
        self.string_escaped(start, end).map(Cow::Owned)
    }

    /// The rest of a string that has escapes (or an error) from `end` on. Not inlined, so that
    /// the common case above stays small.
    #[inline(never)]
    fn string_escaped(&mut self, start: usize, end: usize) -> Result<String> {
        // Find the end first, so the text is allocated once.
        let close = self.string_close(end)?;
        self.pos = close + 1;
        let mut text = String::with_capacity(close - start);
        let mut from = start;
        loop {
            // Between `start` and `close` the only special bytes left are backslashes.
            let escape = plain_end(self.bytes, from).min(close);
            text.push_str(self.utf8(from, escape)?);
            if escape == close {
                break;
            }
            from = self.unescape(escape + 1, &mut text)?;
        }
        Ok(text)
    }

    /// The index of the quote that closes a string, searching from `from`. Each backslash is
    /// taken with the byte after it and not checked further: decoding the escapes checks them,
    /// and a `\\u` escape cut short by the quote fails there because `"` is not a hex digit.
    fn string_close(&self, from: usize) -> Result<usize> {
        let mut at = from;
        loop {
            at = plain_end(self.bytes, at);
            match self.bytes.get(at) {
                Some(b'"') => return Ok(at),
                Some(b'\\') => at += 2,
                Some(_) => return Err(fail_at(at, "control character inside a string")),
                None => return Err(fail_at(at, "unexpected end inside a string")),
            }
        }
    }

    /// The text between two ASCII delimiters.
    #[inline]
    fn utf8(&self, start: usize, end: usize) -> Result<&'a str> {
        if let Some(text) = self.text.and_then(|text| text.get(start..end)) {
            return Ok(text);
        }
        let bytes = self.bytes.get(start..end).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map_err(|error| fail_at(start + error.valid_up_to(), "invalid UTF-8 in a string"))
    }

    /// Append the escape whose letter is at `at`; return the index after it.
    fn unescape(&self, at: usize, text: &mut String) -> Result<usize> {
        let unescaped = match self.bytes.get(at) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unescape_unicode(at + 1, text),
            _ => return Err(fail_at(at, "invalid escape")),
        };
        text.push(unescaped);
        Ok(at + 1)
    }

    /// Append the character of `\uXXXX` (a surrogate pair takes two escapes), its hex digits at
    /// `at`; return the index after it. A lone surrogate is an error, as in serde_json.
    fn unescape_unicode(&self, at: usize, text: &mut String) -> Result<usize> {
        let unit = self.hex4(at)?;
        let (scalar, next) = match unit {
            0xDC00..=0xDFFF => return Err(fail_at(at, "lone trailing surrogate in a \\u escape")),
            0xD800..=0xDBFF => {
                let low = match self.bytes.get(at + 4..at + 6) {
                    Some(b"\\u") => self.hex4(at + 6)?,
                    _ => return Err(fail_at(at, "lone leading surrogate in a \\u escape")),
                };
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(fail_at(at, "lone leading surrogate in a \\u escape"));
                }
                let high_bits = u32::from(unit - 0xD800) << 10;
                (0x1_0000 + (high_bits | u32::from(low - 0xDC00)), at + 10)
            }
            _ => (u32::from(unit), at + 4),
        };
        let unescaped = char::from_u32(scalar).ok_or_else(|| fail_at(at, "invalid \\u escape"))?;
        text.push(unescaped);
        Ok(next)
    }

    /// The four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u16> {
        let Some(digits) = self.bytes.get(at..at + 4) else {
            return Err(fail_at(at, "unexpected end inside a \\u escape"));
        };
        let mut unit = 0u16;
        for &digit in digits {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(fail_at(at, "invalid hex digit in a \\u escape")),
            };
            unit = unit << 4 | u16::from(nibble);
        }
        Ok(unit)
    }
}

/// A language given as text: its code (`"0"`) or its name (`"JAVA"`).
fn language_from_text(text: &str) -> Language {
    match text.parse::<u8>() {
        Ok(code) => Language::from_code(code),
        Err(_) => Language::from_name(text),
    }
}

#[cold]
fn fail_at(at: usize, what: impl Display) -> HeaderDecodeError {
    HeaderDecodeError::Json {
        reason: format!("{what} at byte {at}"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::first_special;

    fn first_special_bytewise(word: [u8; 8]) -> Option<usize> {
        word.iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
    }

    /// Hazard: the word-at-a-time search misses a special byte or reports a later one, e.g.
    /// when a borrow from one byte's subtraction marks the next (bytes 0x20 and 0x21, or 0x80+).
    #[test]
    fn word_search_finds_each_byte_value_at_each_position() {
        for fill in [b'a', b' ', b'!', 0x7f, 0x80, 0xff, b'#', b']'] {
            for at in 0..8 {
                for byte in 0..=u8::MAX {
                    let mut word = [fill; 8];
                    word[at] = byte;
                    assert_eq!(
                        first_special(u64::from_le_bytes(word)),
                        first_special_bytewise(word),
                        "{word:?}"
                    );
                }
            }
        }
    }

    proptest! {
        /// Hazard: as above, for mixes of several special and plain bytes.
        #[test]
        fn word_search_matches_a_bytewise_search(
            word in proptest::array::uniform8(prop_oneof![
                Just(b'"'), Just(b'\\'), Just(0u8), Just(0x1f), Just(0x20), Just(0x21),
                Just(0x5b), Just(0x5d), any::<u8>(),
            ]),
        ) {
            prop_assert_eq!(first_special(u64::from_le_bytes(word)), first_special_bytewise(word));
        }
    }
}
