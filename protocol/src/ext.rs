//! A command's extFields: string keys to string values, kept sorted by key.
//!
//! Every request and response carries a handful of these (a SEND_MESSAGE_V2 request 14, its
//! response 6), so they are built and dropped on every frame. A `BTreeMap<String, String>`
//! paid two allocations per entry plus its nodes; [`ExtFields`] pays one allocation per
//! command:
//! - entries live in one `Vec`, sorted by key (byte order, as `BTreeMap<String, _>` sorted
//!   them), so iteration, and therefore the encoded header, is in key order;
//! - a key the protocol knows ([`KNOWN_KEYS`]: every key a typed header in [`crate::header`]
//!   reads or writes, plus the response and client keys read by name) is stored as a
//!   `&'static str` found through a hash index built at compile time; other keys are owned;
//! - values, and owned keys, are inline small strings: up to 24 bytes (numbers, booleans, most
//!   topic and group names) need no allocation, longer ones allocate once.
//!
//! Invariant: keys are strictly increasing, so each key appears once. `insert` on an existing
//! key replaces its value, as a map does; decoders rely on that for "a repeated key keeps its
//! last value".

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use compact_str::{CompactString, ToCompactString};

/// Every extFields key ringmq knows by name, sorted in byte order (checked at compile time).
/// A typed header's keys must be here: the `header!` macro checks that at compile time too.
pub const KNOWN_KEYS: [&str; 113] = [
    "AccessKey",
    "IS_SUB_CHANGE",
    "IS_SUPPORT_HEART_BEAT_V2",
    "MSG_REGION",
    "OnsChannel",
    "Signature",
    "TRACE_ON",
    "_UNIQUE_KEY_QUERY",
    "a",
    "acceptStandardJsonOnly",
    "addTopicCount",
    "attributes",
    "b",
    "batch",
    "batchUniqId",
    "beginTimestamp",
    "bname",
    "bodyCrc32",
    "bornTimestamp",
    "boundaryType",
    "brokerAddr",
    "brokerId",
    "brokerName",
    "c",
    "changed",
    "cleanOffset",
    "clientID",
    "clientId",
    "cluster",
    "clusterName",
    "commitOffset",
    "committed",
    "compressed",
    "consumerGroup",
    "count",
    "d",
    "defaultTopic",
    "defaultTopicQueueNums",
    "delayLevel",
    "e",
    "enableActingMaster",
    "endTimestamp",
    "expressionType",
    "f",
    "flag",
    "forbiddenType",
    "force",
    "g",
    "group",
    "groupName",
    "groupSysFlag",
    "h",
    "haServerAddr",
    "heartbeatTimeoutMillis",
    "i",
    "indexLastUpdatePhyoffset",
    "indexLastUpdateTimestamp",
    "isForce",
    "j",
    "jstackEnable",
    "k",
    "key",
    "l",
    "lo",
    "m",
    "masterAddr",
    "maxMsgBytes",
    "maxMsgNums",
    "maxNum",
    "maxOffset",
    "maxReconsumeTimes",
    "minOffset",
    "msgId",
    "n",
    "name",
    "namespace",
    "nextBeginOffset",
    "ns",
    "nsd",
    "offset",
    "offsetDelta",
    "order",
    "originMsgId",
    "originTopic",
    "oway",
    "perm",
    "producerGroup",
    "properties",
    "proxyFrowardClientId",
    "queueId",
    "queueOffset",
    "readQueueNums",
    "recallHandle",
    "reconsumeTimes",
    "requestSource",
    "setZeroIfNotFound",
    "subVersion",
    "subscription",
    "suggestWhichBrokerId",
    "suspendTimeoutMillis",
    "sysFlag",
    "timestamp",
    "topic",
    "topicFilterType",
    "topicList",
    "topicSysFlag",
    "transactionId",
    "unitMode",
    "value",
    "version",
    "wipeTopicCount",
    "writeQueueNums",
    "zoneName",
];

/// Bits of a slot number in the hash index over [`KNOWN_KEYS`].
const INDEX_SLOT_BITS: u32 = 9;
/// Slots of the index: at least four per key so that probe chains stay short.
const INDEX_SLOTS: usize = 1 << INDEX_SLOT_BITS;
/// The longest probe chain the index may have (checked when it is built).
const INDEX_PROBES_MAX: usize = 4;
/// Entries a decoder reserves for a non-empty extFields: the largest common headers (send V1,
/// pull) have about 15 fields.
pub(crate) const DECODED_ENTRIES_INITIAL: usize = 16;
/// Entries reserved by the first insert into an empty [`ExtFields`]: a send response has 6.
const INSERTED_ENTRIES_INITIAL: usize = 8;

const _: () = assert!(INDEX_SLOTS.is_power_of_two());
const _: () = assert!(KNOWN_KEYS.len() * 4 <= INDEX_SLOTS);
// Index slots hold a key's position plus one in a byte.
const _: () = assert!(KNOWN_KEYS.len() < u8::MAX as usize);
const _: () = assert!(is_strictly_sorted(&KNOWN_KEYS));
// `slot_of` reads a first byte and mixes the length in one byte.
const _: () = assert!(!KNOWN_KEYS[0].is_empty() && KNOWN_KEY_BYTES_MAX <= 0xff);

/// For each slot, 0 when empty, else the position in [`KNOWN_KEYS`] plus one.
static INDEX: [u8; INDEX_SLOTS] = build_index();
/// No known key is longer; longer keys skip the index.
const KNOWN_KEY_BYTES_MAX: usize = longest(&KNOWN_KEYS);

/// The home slot of a key of 1 to 255 bytes. It mixes the length and the first, middle and
/// last bytes (Fibonacci hashing): a fixed handful of instructions whatever the key's length,
/// and it spreads the known keys with probe chains of at most [`INDEX_PROBES_MAX`].
const fn slot_of(key: &[u8]) -> usize {
    let length = key.len();
    let mixed = length.to_le_bytes()[0] as u32
        | (key[0] as u32) << 8
        | (key[length / 2] as u32) << 16
        | (key[length - 1] as u32) << 24;
    (mixed.wrapping_mul(0x9e37_79b9) >> (32 - INDEX_SLOT_BITS)) as usize
}

const fn build_index() -> [u8; INDEX_SLOTS] {
    let mut index = [0u8; INDEX_SLOTS];
    let mut position = 0;
    // `position + 1` as a byte; counting it separately avoids a cast (an overflow would stop
    // compilation, and the assertion on the table's length rules it out).
    let mut stored: u8 = 0;
    while position < KNOWN_KEYS.len() {
        let mut slot = slot_of(KNOWN_KEYS[position].as_bytes());
        let mut probes = 1;
        while index[slot] != 0 {
            slot = (slot + 1) & (INDEX_SLOTS - 1);
            probes += 1;
        }
        assert!(
            probes <= INDEX_PROBES_MAX,
            "a known key's probe chain is longer than INDEX_PROBES_MAX"
        );
        stored += 1;
        index[slot] = stored;
        position += 1;
    }
    index
}

/// The known keys of one byte (the V2 send header's `a` to `n`), by that byte: the most
/// frequent keys of all skip the hash and the comparison.
static SINGLE_BYTE_KEYS: [Option<&str>; 128] = build_single_byte_keys();

const fn build_single_byte_keys() -> [Option<&'static str>; 128] {
    let mut keys = [None; 128];
    let mut position = 0;
    while position < KNOWN_KEYS.len() {
        let key = KNOWN_KEYS[position].as_bytes();
        if key.len() == 1 && key[0] < 128 {
            keys[key[0] as usize] = Some(KNOWN_KEYS[position]);
        }
        position += 1;
    }
    keys
}

const fn longest(keys: &[&str]) -> usize {
    let mut longest = 0;
    let mut at = 0;
    while at < keys.len() {
        if keys[at].len() > longest {
            longest = keys[at].len();
        }
        at += 1;
    }
    longest
}

/// Byte-order comparison of two strings, usable in constants. Also the runtime comparison of
/// keys, which are short: a byte loop the compiler keeps inline, where `str`'s `cmp` calls
/// `memcmp` (4 % of a broker's CPU in a send profile, from header lookups).
#[inline]
const fn compare(left: &str, right: &str) -> Ordering {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    let mut at = 0;
    while at < left.len() && at < right.len() {
        if left[at] != right[at] {
            return if left[at] < right[at] {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        at += 1;
    }
    if left.len() < right.len() {
        Ordering::Less
    } else if left.len() > right.len() {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Whether `keys` are in strictly ascending byte order; usable in constants.
pub const fn is_strictly_sorted(keys: &[&str]) -> bool {
    let mut at = 1;
    while at < keys.len() {
        if !matches!(compare(keys[at - 1], keys[at]), Ordering::Less) {
            return false;
        }
        at += 1;
    }
    true
}

/// Whether `key` is in [`KNOWN_KEYS`]; for compile-time checks (a linear search).
pub const fn is_known(key: &str) -> bool {
    let mut at = 0;
    while at < KNOWN_KEYS.len() {
        if matches!(compare(KNOWN_KEYS[at], key), Ordering::Equal) {
            return true;
        }
        at += 1;
    }
    false
}

/// The `&'static str` of `key` if it is a known key.
#[inline]
fn intern(key: &str) -> Option<&'static str> {
    if let [byte] = key.as_bytes() {
        return SINGLE_BYTE_KEYS.get(usize::from(*byte)).copied().flatten();
    }
    if key.is_empty() || key.len() > KNOWN_KEY_BYTES_MAX {
        return None;
    }
    let mut slot = slot_of(key.as_bytes());
    // The index is at most a quarter full, so every probe chain ends at an empty slot.
    loop {
        let position = usize::from(INDEX[slot]).checked_sub(1)?;
        let known = KNOWN_KEYS[position];
        if known == key {
            return Some(known);
        }
        slot = (slot + 1) & (INDEX_SLOTS - 1);
    }
}

/// An extFields key: a known key as `&'static str`, any other owned.
#[derive(Clone)]
pub struct ExtKey(KeyRepr);

// An entry is two inline strings' worth (the key's variants share the inline string's niche);
// a larger entry would mean the layout regressed.
const _: () = assert!(std::mem::size_of::<(ExtKey, ExtValue)>() == 48);

#[derive(Clone)]
enum KeyRepr {
    Static(&'static str),
    Owned(CompactString),
}

impl ExtKey {
    /// A key that needs no lookup and no copy (a typed header's field name).
    pub const fn from_static(key: &'static str) -> Self {
        Self(KeyRepr::Static(key))
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyRepr::Static(key) => key,
            KeyRepr::Owned(key) => key.as_str(),
        }
    }
}

impl From<&str> for ExtKey {
    #[inline]
    fn from(key: &str) -> Self {
        match intern(key) {
            Some(known) => Self(KeyRepr::Static(known)),
            None => Self(KeyRepr::Owned(CompactString::new(key))),
        }
    }
}

impl From<String> for ExtKey {
    fn from(key: String) -> Self {
        match intern(&key) {
            Some(known) => Self(KeyRepr::Static(known)),
            None => Self(KeyRepr::Owned(CompactString::from(key))),
        }
    }
}

impl From<&String> for ExtKey {
    fn from(key: &String) -> Self {
        Self::from(key.as_str())
    }
}

impl From<Cow<'_, str>> for ExtKey {
    #[inline]
    fn from(key: Cow<'_, str>) -> Self {
        match key {
            Cow::Borrowed(key) => Self::from(key),
            Cow::Owned(key) => Self::from(key),
        }
    }
}

impl fmt::Debug for ExtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An extFields value: an inline string up to 24 bytes, one allocation beyond.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtValue(CompactString);

impl ExtValue {
    pub const fn from_static(value: &'static str) -> Self {
        Self(CompactString::const_new(value))
    }

    /// The `Display` text of `value` (integers are formatted straight into the inline buffer).
    pub fn display(value: &impl fmt::Display) -> Self {
        Self(value.to_compact_string())
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the text lives on the heap (longer than the inline capacity).
    pub fn is_heap_allocated(&self) -> bool {
        self.0.is_heap_allocated()
    }
}

impl Deref for ExtValue {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ExtValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ExtValue {
    #[inline]
    fn from(value: &str) -> Self {
        Self(CompactString::new(value))
    }
}

impl From<String> for ExtValue {
    fn from(value: String) -> Self {
        Self(CompactString::from(value))
    }
}

impl From<&String> for ExtValue {
    fn from(value: &String) -> Self {
        Self(CompactString::new(value))
    }
}

impl From<Cow<'_, str>> for ExtValue {
    #[inline]
    fn from(value: Cow<'_, str>) -> Self {
        match value {
            Cow::Borrowed(value) => Self::from(value),
            Cow::Owned(value) => Self::from(value),
        }
    }
}

macro_rules! value_from_integer {
    ($($ty:ty),*) => {$(
        impl From<$ty> for ExtValue {
            fn from(value: $ty) -> Self {
                Self(value.to_compact_string())
            }
        }
    )*};
}

value_from_integer!(i32, i64, u32, u64, usize);

impl From<bool> for ExtValue {
    fn from(value: bool) -> Self {
        Self::from_static(if value { "true" } else { "false" })
    }
}

impl From<ExtValue> for String {
    fn from(value: ExtValue) -> Self {
        value.0.into_string()
    }
}

impl PartialEq<str> for ExtValue {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ExtValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for ExtValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ExtValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command's extFields; see the module docs.
#[derive(Clone, Default)]
pub struct ExtFields {
    /// Sorted by key, each key once.
    entries: Vec<(ExtKey, ExtValue)>,
}

impl ExtFields {
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    #[inline]
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(entry, _)| compare(entry.as_str(), key))
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<&str> {
        let at = self.position(key).ok()?;
        Some(self.entries[at].1.as_str())
    }

    /// The values of `keys`, which must be in ascending order (a header's keys usually are):
    /// one walk over the entries instead of a search per key.
    #[inline]
    pub fn get_sorted<const N: usize>(&self, keys: &[&str; N]) -> [Option<&str>; N] {
        debug_assert!(is_strictly_sorted(keys), "get_sorted needs ascending keys");
        let mut values = [None; N];
        let mut at = 0;
        for (value, key) in values.iter_mut().zip(keys) {
            while let Some((entry, found)) = self.entries.get(at) {
                match compare(entry.as_str(), key) {
                    Ordering::Less => at += 1,
                    Ordering::Equal => {
                        *value = Some(found.as_str());
                        at += 1;
                        break;
                    }
                    Ordering::Greater => break,
                }
            }
        }
        values
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Set `key` to `value`; the value it replaces, if any.
    #[inline]
    pub fn insert(
        &mut self,
        key: impl Into<ExtKey>,
        value: impl Into<ExtValue>,
    ) -> Option<ExtValue> {
        self.insert_entry(key.into(), value.into())
    }

    #[inline]
    fn insert_entry(&mut self, key: ExtKey, value: ExtValue) -> Option<ExtValue> {
        // Keys usually arrive in order (clients sort them, headers are decoded in order):
        // appending after a smaller last key skips the search.
        match self.entries.last() {
            None => {
                self.entries.reserve(INSERTED_ENTRIES_INITIAL);
                self.entries.push((key, value));
            }
            Some((last, _)) if compare(last.as_str(), key.as_str()) == Ordering::Less => {
                self.entries.push((key, value));
            }
            Some(_) => match self.position(key.as_str()) {
                Ok(at) => return Some(std::mem::replace(&mut self.entries[at].1, value)),
                Err(at) => self.entries.insert(at, (key, value)),
            },
        }
        debug_assert!(self.is_sorted());
        None
    }

    /// Remove `key`; its value, if it was present.
    pub fn remove(&mut self, key: &str) -> Option<ExtValue> {
        let at = self.position(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// Keep only the entries for which `keep(key, value)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.entries
            .retain(|(key, value)| keep(key.as_str(), value.as_str()));
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            entries: self.entries.iter(),
        }
    }

    fn is_sorted(&self) -> bool {
        self.entries
            .windows(2)
            .all(|pair| pair[0].0.as_str() < pair[1].0.as_str())
    }
}

/// Iterator over an [`ExtFields`]' entries in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    entries: std::slice::Iter<'a, (ExtKey, ExtValue)>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.entries.next()?;
        Some((key.as_str(), value.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (key, value) = self.entries.next_back()?;
        Some((key.as_str(), value.as_str()))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a ExtFields {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: Into<ExtKey>, V: Into<ExtValue>> Extend<(K, V)> for ExtFields {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl<K: Into<ExtKey>, V: Into<ExtValue>> FromIterator<(K, V)> for ExtFields {
    /// Later entries replace earlier ones with the same key, as inserting them in turn would.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut fields = Self::new();
        fields.extend(entries);
        fields
    }
}

impl From<BTreeMap<String, String>> for ExtFields {
    fn from(map: BTreeMap<String, String>) -> Self {
        let mut fields = Self::with_capacity(map.len());
        // Already sorted and unique: every insert appends.
        fields.extend(map);
        fields
    }
}

impl From<&ExtFields> for BTreeMap<String, String> {
    fn from(fields: &ExtFields) -> Self {
        fields
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }
}

impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        // Hazard: the one-walk lookup headers use skips or misreads an entry that a search per
        // key finds, e.g. a missing key followed by a present one, or keys past the last entry.
        #[test]
        fn a_sorted_walk_finds_what_a_search_per_key_finds(
            present in proptest::collection::btree_map("[a-e]{0,3}", "[a-z]{0,4}", 0..12),
            wanted in proptest::collection::btree_set("[a-e]{0,3}", 6..=6),
        ) {
            let mut fields = ExtFields::new();
            for (key, value) in &present {
                fields.insert(key.as_str(), value.as_str());
            }
            let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
            let keys: [&str; 6] = wanted.clone().try_into().unwrap();
            prop_assert!(is_strictly_sorted(&keys));
            let walked = fields.get_sorted(&keys);
            let searched = keys.map(|key| fields.get(key));
            prop_assert_eq!(walked, searched);
        }

        #[test]
        fn key_order_is_str_order(a in "[a-c]{0,4}", b in "[a-c]{0,4}") {
            prop_assert_eq!(compare(&a, &b), a.cmp(&b));
            prop_assert_eq!(is_strictly_sorted(&[a.as_str(), b.as_str()]), a < b);
        }
    }

    /// Hazard: the table is out of order, so `is_known` and the compile-time header check
    /// disagree with the sorted-table contract (a const assert checks this too; this shows the
    /// check itself can fail).
    #[test]
    fn known_keys_are_strictly_sorted_and_the_check_catches_disorder() {
        assert!(is_strictly_sorted(&KNOWN_KEYS));
        assert!(KNOWN_KEYS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(!is_strictly_sorted(&["b", "a"]));
        assert!(!is_strictly_sorted(&["a", "a"]));
        assert!(!is_strictly_sorted(&["ab", "a"]));
    }

    /// Hazard: the hash index loses a known key (it would then be stored owned, still
    /// correct but allocating for long keys) or returns a different key for an unknown one.
    #[test]
    fn every_known_key_interns_to_itself_and_unknown_keys_do_not() {
        for key in KNOWN_KEYS {
            assert_eq!(intern(key), Some(key));
            assert!(is_known(key));
        }
        for key in [
            "",
            "A",
            "o",
            "z",
            "0",
            "\u{7f}",
            "é",
            "topics",
            "topi",
            "_ringmqInternal",
            "x".repeat(300).as_str(),
        ] {
            assert_eq!(intern(key), None, "{key}");
            assert!(!is_known(key));
        }
    }

    /// Hazard: a typed header reads or writes a key that is not interned. `header!` checks
    /// each key at compile time; this checks the sources too, so a header defined some other
    /// way is caught.
    #[test]
    fn every_typed_header_key_in_the_sources_is_known() {
        let sources = [
            include_str!("header/admin.rs"),
            include_str!("header/client.rs"),
            include_str!("header/namesrv.rs"),
            include_str!("header/offset.rs"),
            include_str!("header/pull.rs"),
            include_str!("header/query.rs"),
            include_str!("header/send.rs"),
        ];
        for source in sources {
            let keys: Vec<&str> = source
                .lines()
                .filter_map(|line| line.trim().strip_suffix("\","))
                .filter_map(|line| line.rsplit_once(" = \""))
                .map(|(_, key)| key)
                .collect();
            assert!(!keys.is_empty());
            for key in keys {
                assert!(is_known(key), "header key `{key}` is not in KNOWN_KEYS");
            }
        }
    }

    /// Hazard: short values allocate after all, which is the point of the type.
    #[test]
    fn known_keys_and_short_values_do_not_allocate() {
        let mut fields = ExtFields::new();
        fields.insert("queueOffset", 1_700_000_000_000i64);
        fields.insert("topic", "a-topic-name-of-24-bytes");
        fields.insert("unknownButShortKey", "x");
        for (key, value) in &fields.entries {
            assert!(!value.is_heap_allocated());
            match &key.0 {
                KeyRepr::Static(_) => {}
                KeyRepr::Owned(owned) => assert!(!owned.is_heap_allocated()),
            }
        }
        assert!(matches!(
            fields.entries[0].0 .0,
            KeyRepr::Static("queueOffset")
        ));
        fields.insert("topic", "a-topic-name-of-25-bytes!");
        assert!(fields.entries[1].1.is_heap_allocated());
    }

    #[test]
    fn debug_prints_like_a_map() {
        let fields: ExtFields = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(format!("{fields:?}"), r#"{"a": "1", "b": "2"}"#);
    }

    #[derive(Clone, Debug)]
    enum Operation {
        Insert(String, String),
        Remove(String),
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(&KNOWN_KEYS[..]).prop_map(str::to_owned),
            "[a-zA-Z_]{0,3}",
            "\\PC{20,30}",
        ]
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            3 => (key(), "\\PC{0,40}").prop_map(|(key, value)| Operation::Insert(key, value)),
            1 => key().prop_map(Operation::Remove),
        ]
    }

    proptest! {
        /// Hazard: the sorted Vec diverges from the map it replaced: order, replacement of a
        /// repeated key, removal, or the returned old values.
        #[test]
        fn behaves_like_a_btree_map(operations in proptest::collection::vec(operation(), 0..40)) {
            let mut model: BTreeMap<String, String> = BTreeMap::new();
            let mut fields = ExtFields::new();
            for operation in operations {
                match operation {
                    Operation::Insert(key, value) => {
                        let old = fields.insert(key.as_str(), value.as_str());
                        prop_assert_eq!(old.map(String::from), model.insert(key, value));
                    }
                    Operation::Remove(key) => {
                        let old = fields.remove(&key);
                        prop_assert_eq!(old.map(String::from), model.remove(&key));
                    }
                }
                prop_assert!(fields.is_sorted());
            }
            let expected: Vec<(&str, &str)> =
                model.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
            prop_assert_eq!(fields.iter().collect::<Vec<_>>(), expected);
            for (key, value) in &model {
                prop_assert_eq!(fields.get(key), Some(value.as_str()));
                prop_assert!(fields.contains_key(key));
            }
            prop_assert_eq!(fields.len(), model.len());
            prop_assert_eq!(&ExtFields::from(model.clone()), &fields);
            prop_assert_eq!(BTreeMap::from(&fields), model);
        }
    }
}
