//! Java semantics RocketMQ relies on.

/// Java `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping.
pub fn string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
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
}
