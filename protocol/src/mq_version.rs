//! `MQVersion.getVersionDesc`: the name of a client's version ordinal, as `consumerConnection`,
//! `producerConnection` and `consumerProgress` print it (`V5_3_1` for 475).
//!
//! Java's `MQVersion.Version` enum is regular after its first sixteen 3.0.0 pre-releases: each
//! version has a `_SNAPSHOT` ordinal followed by its release ordinal, for 3.0.1–3.0.15, then
//! x.y.0–x.y.9 for each minor version, except that 3.3–3.9 start at x.y.1. The last value
//! (V5_9_9) is returned for larger ordinals, as Java does.

/// Ordinal of `V3_1_8_SNAPSHOT`, the oldest client a broker relays tool requests to
/// (`AdminBrokerProcessor.callConsumer`).
pub const V3_1_8_SNAPSHOT: i32 = 62;

/// Ordinals 0–15.
const FIRST_NAMES: [&str; 16] = [
    "V3_0_0_SNAPSHOT",
    "V3_0_0_ALPHA1",
    "V3_0_0_BETA1",
    "V3_0_0_BETA2",
    "V3_0_0_BETA3",
    "V3_0_0_BETA4",
    "V3_0_0_BETA5",
    "V3_0_0_BETA6_SNAPSHOT",
    "V3_0_0_BETA6",
    "V3_0_0_BETA7_SNAPSHOT",
    "V3_0_0_BETA7",
    "V3_0_0_BETA8_SNAPSHOT",
    "V3_0_0_BETA8",
    "V3_0_0_BETA9_SNAPSHOT",
    "V3_0_0_BETA9",
    "V3_0_0_FINAL",
];

/// Every (major, minor, patch) after 3.0.0, in enum order.
fn releases() -> impl Iterator<Item = (u32, u32, u32)> {
    let three_zero = (1..=15).map(|patch| (3, 0, patch));
    let minors = (1..=9)
        .map(|minor| (3, minor))
        .chain((4..=5).flat_map(|major| (0..=9).map(move |minor| (major, minor))));
    let rest = minors.flat_map(|(major, minor)| {
        let first = u32::from(major == 3 && minor >= 3);
        (first..=9).map(move |patch| (major, minor, patch))
    });
    three_zero.chain(rest)
}

/// The `MQVersion.Version` name of `ordinal`.
pub fn version_desc(ordinal: i32) -> String {
    let Ok(index) = usize::try_from(ordinal) else {
        return format!("UNKNOWN({ordinal})");
    };
    if let Some(name) = FIRST_NAMES.get(index) {
        return (*name).to_owned();
    }
    let pair = (index - FIRST_NAMES.len()) / 2;
    let snapshot = (index - FIRST_NAMES.len()) % 2 == 0;
    let (major, minor, patch, snapshot) = match releases().nth(pair) {
        Some((major, minor, patch)) => (major, minor, patch, snapshot),
        None => (5, 9, 9, false),
    };
    let suffix = if snapshot { "_SNAPSHOT" } else { "" };
    format!("V{major}_{minor}_{patch}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_map_to_java_enum_names() {
        assert_eq!(version_desc(0), "V3_0_0_SNAPSHOT");
        assert_eq!(version_desc(15), "V3_0_0_FINAL");
        assert_eq!(version_desc(16), "V3_0_1_SNAPSHOT");
        assert_eq!(version_desc(17), "V3_0_1");
        // Java's CURRENT_VERSION of 5.3.1 clients, and what ringmq sends.
        assert_eq!(version_desc(475), "V5_3_1");
        assert_eq!(version_desc(crate::command::VERSION_OURS), "V5_3_1");
        assert_eq!(version_desc(611), "V5_9_9");
        assert_eq!(version_desc(610), "V5_9_9_SNAPSHOT");
        assert_eq!(version_desc(5000), "V5_9_9");
        assert_eq!(version_desc(V3_1_8_SNAPSHOT), "V3_1_8_SNAPSHOT");
    }

    #[test]
    fn minor_versions_three_three_to_three_nine_start_at_patch_one() {
        // V3_2_9 is followed by V3_3_1 in the enum: no 3.3.0 was ever released.
        let after_three_two_nine = 16 + 2 * (15 + 20);
        assert_eq!(version_desc(after_three_two_nine), "V3_3_1_SNAPSHOT");
    }
}
