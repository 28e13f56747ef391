//! A small Java `.properties` reader and writer: enough for RocketMQ config files and for the
//! bodies of GET/UPDATE_NAMESRV_CONFIG.
//!
//! Accepted: `#` and `!` comment lines, `key=value`, `key:value` and `key value`, whitespace
//! trimmed around key and value, a trailing `\` joining the next line. Not supported: Java's
//! `\uXXXX` and other escapes inside keys (RocketMQ keys are plain identifiers).

/// Parse properties text into (key, value) pairs in file order. Later duplicates win when the
/// caller applies them in order, as in Java.
pub(crate) fn parse(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut pending = String::new();
    for raw_line in text.lines() {
        let line = raw_line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(joined) = line.strip_suffix('\\') {
            pending.push_str(joined);
            continue;
        }
        pending.push_str(line);
        if let Some(pair) = split_pair(&pending) {
            pairs.push(pair);
        }
        pending.clear();
    }
    if let Some(pair) = split_pair(&pending) {
        pairs.push(pair);
    }
    pairs
}

fn split_pair(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let separator = line.find(['=', ':', ' ', '\t']);
    let (key, value) = match separator {
        Some(index) => {
            let (key, rest) = line.split_at(index);
            let rest = rest.trim_start();
            let rest = rest
                .strip_prefix('=')
                .or_else(|| rest.strip_prefix(':'))
                .unwrap_or(rest);
            (key, rest)
        }
        None => (line, ""),
    };
    Some((key.trim().to_owned(), value.trim().to_owned()))
}

/// Render pairs as `key=value` lines, the layout RocketMQ's `MixAll.properties2String` uses.
pub(crate) fn render<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (key, value) in pairs {
        text.push_str(key);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn comments_and_blank_lines_are_not_keys() {
        let text = "# comment\n! bang comment\n\n   \nlistenPort=9877\n";
        assert_eq!(pairs(text), owned(&[("listenPort", "9877")]));
    }

    #[test]
    fn all_three_separators_and_surrounding_whitespace_are_accepted() {
        let text = "  a = 1  \nb:2\nc 3\nd\t=\t4\ne=\n";
        assert_eq!(
            pairs(text),
            owned(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "")])
        );
    }

    #[test]
    fn value_keeps_later_separators() {
        assert_eq!(
            pairs("namesrvAddr=127.0.0.1:9876;127.0.0.2:9876"),
            owned(&[("namesrvAddr", "127.0.0.1:9876;127.0.0.2:9876")])
        );
    }

    #[test]
    fn backslash_continues_a_line() {
        assert_eq!(pairs("a=one,\\\n   two\n"), owned(&[("a", "one,two")]));
    }

    #[test]
    fn crlf_line_endings_do_not_leak_into_values() {
        assert_eq!(pairs("a=1\r\nb=2\r\n"), owned(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn render_then_parse_round_trips() {
        let text = render([("a", "1"), ("b", "x:y")]);
        assert_eq!(text, "a=1\nb=x:y\n");
        assert_eq!(pairs(&text), owned(&[("a", "1"), ("b", "x:y")]));
    }
}
