//! Java semantics RocketMQ relies on.

/// Java `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping.
pub fn string_hash(text: &str) -> i32 {
    string_hash_from(0, text)
}

/// Java's `hashCode()` of the concatenation of `parts`, without building it (the hash is a
/// fold over UTF-16 units, so each part continues from the hash of those before it).
pub fn string_hash_of_parts(parts: &[&str]) -> i32 {
    parts
        .iter()
        .fold(0, |hash, part| string_hash_from(hash, part))
}

fn string_hash_from(seed: i32, text: &str) -> i32 {
    let step = |hash: i32, unit: i32| hash.wrapping_mul(31).wrapping_add(unit);
    if text.is_ascii() {
        // An ASCII byte is its own UTF-16 unit.
        return text
            .bytes()
            .fold(seed, |hash, byte| step(hash, i32::from(byte)));
    }
    text.encode_utf16()
        .fold(seed, |hash, unit| step(hash, i32::from(unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_for_ascii_non_ascii_and_overflow() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("TagA"), 2_598_919);
        assert_eq!(string_hash("hello"), 99_162_322);
        // Java: "Hello, World! This overflows".hashCode() wraps around i32.
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
        // Non-BMP characters count as two UTF-16 units, as in Java.
        assert_eq!(string_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    /// Hazard: the index's key hash (`topic#key`, hashed in parts without building the string)
    /// drifts from Java's hash of the whole string, so lookups by key miss what Java wrote.
    #[test]
    fn hash_of_parts_is_the_hash_of_their_concatenation() {
        for parts in [
            &["TopicTest", "#", "ORDER-1"][..],
            &["", "#", ""],
            &["polygene", "lubricants"],
            &["主题", "#", "键😀"],
            &["a😀", "b", "c"],
        ] {
            assert_eq!(string_hash_of_parts(parts), string_hash(&parts.concat()));
        }
    }
}
