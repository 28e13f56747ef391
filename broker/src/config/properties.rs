//! Java `.properties` text → ordered `(key, value, line)` entries.
//!
//! Follows `java.util.Properties.load` so that every file Apache RocketMQ accepts reads the
//! same here:
//!
//! * natural lines end at `\n`, `\r` or `\r\n`; leading blanks (space, tab, form feed) are
//!   skipped;
//! * a line whose first non-blank character is `#` or `!` is a comment, and a comment never
//!   continues onto the next line;
//! * a line ending in an odd number of backslashes continues on the next line, whose leading
//!   blanks are dropped (so a continued line starting with `#` is value text, not a comment);
//! * the key ends at the first unescaped `=`, `:` or blank; blanks, then at most one `=` or
//!   `:`, then blanks separate it from the value (`k=v`, `k:v`, `k v`, `k = v`);
//! * `\uXXXX` (exactly four hex digits), `\t`, `\n`, `\r`, `\f` are escapes, and a backslash
//!   before any other character stands for that character (`\=`, `\:`, `\ `, `\\`).
//!
//! One deliberate difference: trailing unescaped whitespace is trimmed from values. Java keeps
//! it, and RocketMQ then fails to convert `brokerRole=SYNC_MASTER ` and silently keeps the
//! default role; an escaped trailing blank (`\ `) is kept.
//!
//! The line number of an entry is that of the natural line where its logical line starts.

use std::fmt;

/// One `key=value` pair, in file order. Duplicate keys are all returned; the caller decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line where the entry starts.
    pub line: usize,
}

/// A line that `Properties.load` would reject (Java throws `IllegalArgumentException`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line where the entry starts.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Parse properties text; fails with every malformed line if there is any.
pub fn parse(text: &str) -> Result<Vec<Entry>, Vec<SyntaxError>> {
    let (entries, errors) = parse_lenient(text);
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// Parse properties text, keeping the well-formed entries next to the errors, so that a
/// config loader can report bad values on other lines in the same run.
pub(crate) fn parse_lenient(text: &str) -> (Vec<Entry>, Vec<SyntaxError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (line, logical) in logical_lines(text) {
        match split_entry(&logical) {
            Ok((key, value)) => entries.push(Entry { key, value, line }),
            Err(message) => errors.push(SyntaxError { line, message }),
        }
    }
    (entries, errors)
}

/// Java's blank characters for key/value separation and line starts.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Natural lines with their 1-based numbers; `\r\n`, `\r` and `\n` all end a line.
fn natural_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\n' => {
                lines.push(&text[start..index]);
                start = index + 1;
            }
            b'\r' => {
                lines.push(&text[start..index]);
                if bytes.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
                start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// True if `line` ends in an odd number of backslashes, i.e. continues on the next line.
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Logical lines (comments and blank lines removed, continuations joined), each with the
/// number of the natural line it starts on. The joined text still holds its escapes.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut logical = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (number, raw) in natural_lines(text) {
        let trimmed = raw.trim_start_matches(is_blank);
        let mut current = if let Some(open) = pending.take() {
            open
        } else {
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                continue;
            }
            (number, String::new())
        };
        if continues(trimmed) {
            current.1.push_str(&trimmed[..trimmed.len() - 1]);
            pending = Some(current);
        } else {
            current.1.push_str(trimmed);
            logical.push(current);
        }
    }
    // A backslash on the last line of the file continues into nothing; Java keeps the entry.
    if let Some(open) = pending {
        logical.push(open);
    }
    logical
}

/// Split one logical line into unescaped key and value.
fn split_entry(line: &str) -> Result<(String, String), String> {
    let chars: Vec<char> = line.chars().collect();
    let mut key_end = chars.len();
    let mut value_start = chars.len();
    let mut escaped = false;
    let mut separator_seen = false;
    for (index, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = index;
            separator_seen = c != ' ' && c != '\t' && c != '\u{c}';
            value_start = index + 1;
            break;
        }
    }
    while value_start < chars.len() && is_blank(chars[value_start]) {
        value_start += 1;
    }
    if !separator_seen && value_start < chars.len() && matches!(chars[value_start], '=' | ':') {
        value_start += 1;
        while value_start < chars.len() && is_blank(chars[value_start]) {
            value_start += 1;
        }
    }
    let key = unescape(&chars[..key_end])?;
    let value = unescape(&chars[value_start.min(chars.len())..])?;
    Ok((key.text, value.trimmed()))
}

/// Unescaped text that remembers where its last escaped character ends, so trimming never
/// eats a blank the author escaped on purpose.
struct Unescaped {
    text: String,
    /// Byte length of `text` up to and including the last escaped character.
    protected_len: usize,
}

impl Unescaped {
    fn trimmed(self) -> String {
        let kept = self.text.trim_end().len().max(self.protected_len);
        let mut text = self.text;
        text.truncate(kept);
        text
    }
}

fn unescape(chars: &[char]) -> Result<Unescaped, String> {
    let mut text = String::with_capacity(chars.len());
    let mut protected_len = 0;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        index += 1;
        if c != '\\' {
            text.push(c);
            continue;
        }
        let Some(&escape) = chars.get(index) else {
            // A lone trailing backslash: Java drops it.
            break;
        };
        index += 1;
        let decoded = match escape {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            'u' => {
                let digits: String = chars.iter().skip(index).take(4).collect();
                let code = (digits.len() == 4)
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape \\u{digits}"))?;
                index += 4;
                // Java strings are UTF-16: a lone surrogate cannot become a Rust char.
                char::from_u32(code).ok_or_else(|| {
                    format!("\\u{digits} is a UTF-16 surrogate; write the character itself")
                })?
            }
            other => other,
        };
        text.push(decoded);
        protected_len = text.len();
    }
    Ok(Unescaped {
        text,
        protected_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .expect("well-formed")
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let mut all = pairs(text);
        assert_eq!(all.len(), 1, "{all:?}");
        let (k, v, _) = all.remove(0);
        (k, v)
    }

    #[test]
    fn separators_equal_colon_and_blank_all_split_key_from_value() {
        assert_eq!(one("a=b"), ("a".into(), "b".into()));
        assert_eq!(one("a:b"), ("a".into(), "b".into()));
        assert_eq!(one("a b"), ("a".into(), "b".into()));
        assert_eq!(one("  a \t = \t b"), ("a".into(), "b".into()));
        assert_eq!(one("a = = b"), ("a".into(), "= b".into()));
        assert_eq!(one("a"), ("a".into(), String::new()));
        assert_eq!(one("a="), ("a".into(), String::new()));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let text = "# c\n! c\n\n   \n  # indented\nk=v\n";
        assert_eq!(pairs(text), vec![("k".into(), "v".into(), 6)]);
    }

    #[test]
    fn continuation_joins_lines_and_drops_leading_blanks() {
        let text = "k=one, \\\n    two\\\n# not a comment\nnext=1";
        assert_eq!(
            pairs(text),
            vec![
                ("k".into(), "one, two# not a comment".into(), 1),
                ("next".into(), "1".into(), 4),
            ]
        );
    }

    #[test]
    fn comment_ending_in_backslash_does_not_swallow_next_line() {
        assert_eq!(pairs("# c \\\nk=v"), vec![("k".into(), "v".into(), 2)]);
    }

    #[test]
    fn even_backslashes_are_a_literal_backslash_not_a_continuation() {
        assert_eq!(
            pairs("k=a\\\\\nj=b"),
            vec![("k".into(), "a\\".into(), 1), ("j".into(), "b".into(), 2)]
        );
    }

    #[test]
    fn escapes_in_keys_and_values_decode() {
        assert_eq!(one(r"a\=b\:c\ d=x"), ("a=b:c d".into(), "x".into()));
        assert_eq!(
            one(r"k=\u0041\t\n\r\f\q"),
            ("k".into(), "A\t\n\r\u{c}q".into())
        );
        assert_eq!(one(r"k=\u4e2d\u6587"), ("k".into(), "中文".into()));
    }

    #[test]
    fn trailing_blanks_are_trimmed_unless_escaped() {
        assert_eq!(
            one("brokerRole=SYNC_MASTER \t"),
            ("brokerRole".into(), "SYNC_MASTER".into())
        );
        assert_eq!(one("k=a\\ "), ("k".into(), "a ".into()));
    }

    #[test]
    fn crlf_and_cr_line_ends_are_all_line_breaks() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3"),
            vec![
                ("a".into(), "1".into(), 1),
                ("b".into(), "2".into(), 2),
                ("c".into(), "3".into(), 3)
            ]
        );
    }

    #[test]
    fn malformed_unicode_escape_is_an_error_naming_the_line() {
        let errors = parse("ok=1\nk=\\u12g4\nj=\\u12").expect_err("malformed");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert!(
            errors[0]
                .to_string()
                .starts_with("line 2: malformed \\uXXXX escape"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn trailing_backslash_at_end_of_file_keeps_the_entry() {
        assert_eq!(one("k=v\\"), ("k".into(), "v".into()));
    }
}
