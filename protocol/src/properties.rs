//! Message properties: `key \x01 value \x02`, repeated (RocketMQ `MessageDecoder`).

/// Separates a key from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends each key/value pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

pub const KEYS: &str = "KEYS";
pub const TAGS: &str = "TAGS";
pub const WAIT: &str = "WAIT";
pub const DELAY: &str = "DELAY";
pub const UNIQ_KEY: &str = "UNIQ_KEY";
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const REAL_TOPIC: &str = "REAL_TOPIC";
pub const REAL_QID: &str = "REAL_QID";
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
pub const MSG_REGION: &str = "MSG_REGION";
pub const TRACE_ON: &str = "TRACE_ON";
pub const CLUSTER: &str = "CLUSTER";
pub const TRAN_MSG: &str = "TRAN_MSG";
pub const PGROUP: &str = "PGROUP";
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// Iterate the (key, value) pairs. Segments without a separator or shorter than 3 characters
/// are skipped, as Java's parser does.
pub fn pairs(properties: &str) -> impl Iterator<Item = (&str, &str)> {
    properties
        .split(PROPERTY_SEPARATOR)
        .filter(|segment| segment.len() >= 3)
        .filter_map(|segment| segment.split_once(NAME_VALUE_SEPARATOR))
}

/// The value of `key`, if present.
pub fn find<'a>(properties: &'a str, key: &str) -> Option<&'a str> {
    pairs(properties)
        .find(|(name, _)| *name == key)
        .map(|(_, value)| value)
}

/// The values of several keys in one pass over the pairs: the first value of each, as
/// [`find`] would return it. A message's hot paths (send, dispatch) ask for two or three keys
/// of the same properties; one pass instead of one per key.
pub fn find_all<'a, const N: usize>(properties: &'a str, keys: [&str; N]) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    let mut missing = N;
    for (name, value) in pairs(properties) {
        for (slot, key) in found.iter_mut().zip(keys) {
            if slot.is_none() && key == name {
                *slot = Some(value);
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

/// Encode pairs in the given order.
pub fn encode<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (key, value) in entries {
        text.push_str(key);
        text.push(NAME_VALUE_SEPARATOR);
        text.push_str(value);
        text.push(PROPERTY_SEPARATOR);
    }
    text
}

/// Set `key` to `value`, replacing an existing value and keeping the order of the others.
pub fn with(properties: &str, key: &str, value: &str) -> String {
    let kept = pairs(properties).filter(|(name, _)| *name != key);
    let mut text = encode(kept);
    text.push_str(&encode([(key, value)]));
    text
}

/// Remove `key`.
pub fn without(properties: &str, key: &str) -> String {
    encode(pairs(properties).filter(|(name, _)| *name != key))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: the one-pass lookup must answer exactly as one `find` per key, including a
    // repeated key (first value wins), a key asked twice, a missing key, a short segment
    // and a pair without a value separator.
    #[test]
    fn find_all_agrees_with_find_for_every_key() {
        let samples = [
            "TAGS\u{1}a\u{2}KEYS\u{1}k1 k2\u{2}UNIQ_KEY\u{1}U1\u{2}",
            "UNIQ_KEY\u{1}first\u{2}UNIQ_KEY\u{1}second\u{2}x\u{2}NOSEP\u{2}",
            "",
            "TAGS\u{1}\u{2}ab\u{2}KEYS\u{1}\u{2}",
        ];
        for properties in samples {
            let keys = [TAGS, UNIQ_KEY, KEYS, TAGS, "absent"];
            let expected = keys.map(|key| find(properties, key));
            assert_eq!(find_all(properties, keys), expected, "{properties:?}");
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let text = encode([(TAGS, "TagA"), (KEYS, "k1 k2")]);
        assert_eq!(text, "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}");
        assert_eq!(find(&text, KEYS), Some("k1 k2"));
        assert_eq!(find(&text, WAIT), None);
        let replaced = with(&text, TAGS, "TagB");
        assert_eq!(find(&replaced, TAGS), Some("TagB"));
        assert_eq!(find(&without(&replaced, TAGS), TAGS), None);
    }

    #[test]
    fn tolerates_garbage_segments_like_java() {
        let text = "x\u{2}TAGS\u{1}T\u{2}novalue\u{2}\u{2}";
        assert_eq!(pairs(text).collect::<Vec<_>>(), vec![("TAGS", "T")]);
    }
}
