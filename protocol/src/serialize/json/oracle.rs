//! The serde_json-based decoder that [`super::decoder`] replaced, kept verbatim as the test
//! oracle: `differential.rs` checks that both accept the same headers and decode them alike.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::command::{Language, RemotingCommand};
use crate::serialize::HeaderDecodeError;

/// Decode a JSON header into a command with an empty body.
pub(super) fn decode(header: &[u8]) -> Result<RemotingCommand, HeaderDecodeError> {
    // serde accepts a struct written as an array of its fields in order; no client does that,
    // and `[105,0,..]` silently becoming a command would only hide garbage.
    let first = header.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(HeaderDecodeError::Json {
            reason: "the header does not start with `{`".to_owned(),
        });
    }
    let wire: WireHeader =
        serde_json::from_slice(header).map_err(|error| HeaderDecodeError::Json {
            reason: error.to_string(),
        })?;
    Ok(RemotingCommand {
        code: wire.code,
        language: wire.language,
        version: wire.version,
        opaque: wire.opaque,
        flag: wire.flag,
        remark: wire.remark,
        ext_fields: wire.ext_fields.into(),
        ..RemotingCommand::default()
    })
}

/// The header as it appears on the wire; unknown keys (`serializeTypeCurrentRPC`, 5.x additions)
/// are ignored.
#[derive(Deserialize)]
struct WireHeader {
    #[serde(default, deserialize_with = "lenient_i32")]
    code: i32,
    #[serde(default, deserialize_with = "lenient_language")]
    language: Language,
    #[serde(default, deserialize_with = "lenient_i32")]
    version: i32,
    #[serde(default, deserialize_with = "lenient_i32")]
    opaque: i32,
    #[serde(default, deserialize_with = "lenient_i32")]
    flag: i32,
    #[serde(default, deserialize_with = "lenient_remark")]
    remark: Option<String>,
    #[serde(default, rename = "extFields", deserialize_with = "lenient_ext_fields")]
    ext_fields: BTreeMap<String, String>,
}

/// A JSON scalar (or nested value) coerced to the string fastjson would put in a
/// `Map<String,String>`; `None` for null.
struct Coerced(Option<String>);

impl<'de> Deserialize<'de> for Coerced {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CoercedVisitor)
    }
}

struct CoercedVisitor;

impl<'de> Visitor<'de> for CoercedVisitor {
    type Value = Coerced;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Coerced, E> {
        Ok(Coerced(Some(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Coerced, E> {
        Ok(Coerced(Some(value)))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Coerced, E> {
        Ok(Coerced(Some(value.to_string())))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Coerced, E> {
        Ok(Coerced(Some(value.to_string())))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Coerced, E> {
        Ok(Coerced(Some(value.to_string())))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Coerced, E> {
        Ok(Coerced(Some(value.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Coerced, E> {
        Ok(Coerced(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Coerced, E> {
        Ok(Coerced(None))
    }

    // fastjson renders a nested object or array as its JSON text; keep that rather than fail.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Coerced, A::Error> {
        let value = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Coerced(Some(value.to_string())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Coerced, A::Error> {
        let value = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Coerced(Some(value.to_string())))
    }
}

fn lenient_i32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let Coerced(text) = Coerced::deserialize(deserializer)?;
    let Some(text) = text else { return Ok(0) };
    text.trim()
        .parse::<i32>()
        .map_err(|_| de::Error::custom(format!("`{text}` is not a 32-bit integer")))
}

fn lenient_language<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Language, D::Error> {
    let Coerced(text) = Coerced::deserialize(deserializer)?;
    let Some(text) = text else {
        return Ok(Language::Other);
    };
    // Some encoders write the numeric code rather than the enum name.
    Ok(match text.parse::<u8>() {
        Ok(code) => Language::from_code(code),
        Err(_) => Language::from_name(&text),
    })
}

fn lenient_remark<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Coerced::deserialize(deserializer)?.0)
}

fn lenient_ext_fields<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    deserializer.deserialize_any(ExtFieldsVisitor)
}

/// Reads extFields straight into the command's map; null (the whole object or a value) means
/// "not set" in Java, so it is dropped rather than kept as "null".
struct ExtFieldsVisitor;

impl<'de> Visitor<'de> for ExtFieldsVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string keys, or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some((key, Coerced(value))) = map.next_entry::<String, Coerced>()? {
            match value {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
        }
        Ok(entries)
    }
}
