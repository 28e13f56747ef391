//! Typed custom headers: the `extFields` of a command read into a struct, and written back.
//!
//! Java flattens every header class into string key/values by field name; fields marked
//! `@CFNotNull` must be present. Here a required field is a plain type and an optional field an
//! `Option`; [`HeaderError`] names the missing field or the field and value that failed to
//! parse. Unknown keys (5.x RPC fields such as `bname`, `ns`, `lo`, credentials) are ignored.
//!
//! Codes whose request carries no header of interest (the data is in the body or there is
//! none): HEART_BEAT 34, LOCK_BATCH_MQ 41, UNLOCK_BATCH_MQ 42, GET_ALL_TOPIC_CONFIG 21,
//! GET_ALL_CONSUMER_OFFSET 43, GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201, UPDATE_BROKER_CONFIG 25,
//! GET_BROKER_CONFIG 26 (response: [`admin::GetBrokerConfigResponseHeader`]),
//! GET_BROKER_RUNTIME_INFO 28, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200,
//! GET_BROKER_CLUSTER_INFO 106, GET_ALL_TOPIC_LIST_FROM_NAMESERVER 206,
//! UPDATE_NAMESRV_CONFIG 318, GET_NAMESRV_CONFIG 319.

use std::fmt;

use crate::command::RemotingCommand;
use crate::ext::{ExtFields, ExtKey, ExtValue};

pub mod admin;
pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;

/// Why a command's extFields do not make a typed header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// A required (`@CFNotNull`) field is absent.
    Missing { field: &'static str },
    /// A numeric field does not parse as the expected integer type.
    BadNumber {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// An enumerated field holds an unknown name.
    BadValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The request code is not one this header decodes.
    WrongCode { code: i32, expected: &'static str },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { field } => {
                write!(f, "the custom header [{field}] is null; it is required")
            }
            Self::BadNumber {
                field,
                value,
                expected,
            } => write!(
                f,
                "the custom header [{field}] is `{value}`; expected {expected}"
            ),
            Self::BadValue {
                field,
                value,
                expected,
            } => write!(
                f,
                "the custom header [{field}] is `{value}`; expected one of {expected}"
            ),
            Self::WrongCode { code, expected } => {
                write!(
                    f,
                    "request code {code} has no such header; expected {expected}"
                )
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// Ext keys some clients add for Aliyun-style signing (C++ sends them empty on every request).
/// ringmq has no ACL, so they carry no meaning; typed headers ignore them and
/// [`strip_credentials`] removes them, e.g. before echoing or logging ext fields.
pub const CREDENTIAL_KEYS: [&str; 3] = ["AccessKey", "Signature", "OnsChannel"];

/// Remove [`CREDENTIAL_KEYS`] from `command`'s ext fields.
pub fn strip_credentials(command: &mut RemotingCommand) {
    for key in CREDENTIAL_KEYS {
        command.ext_fields.remove(key);
    }
}

/// One header field's conversion to and from its ext string. Plain types are required;
/// `Option`s are optional.
pub trait HeaderField: Sized {
    fn read(field: &'static str, raw: Option<&str>) -> Result<Self, HeaderError>;
    fn write(&self, field: &'static str, ext: &mut ExtFields);
}

/// A value that has a string form in extFields.
pub trait ExtScalar: Sized {
    fn parse(field: &'static str, raw: &str) -> Result<Self, HeaderError>;
    /// The ext string, built straight into the inline value (no intermediate `String`).
    fn render(&self) -> ExtValue;
    /// Whether an empty string means "absent" for an optional field. Java cannot parse "" as a
    /// number, but some clients send empty strings for unset numbers; treating them as absent
    /// is the lenient choice.
    fn empty_is_absent() -> bool {
        false
    }
}

impl ExtScalar for String {
    fn parse(_field: &'static str, raw: &str) -> Result<Self, HeaderError> {
        Ok(raw.to_owned())
    }

    fn render(&self) -> ExtValue {
        ExtValue::from(self.as_str())
    }
}

impl ExtScalar for bool {
    /// Java `Boolean.parseBoolean`: "true" in any case is true, anything else false.
    fn parse(_field: &'static str, raw: &str) -> Result<Self, HeaderError> {
        Ok(raw.eq_ignore_ascii_case("true"))
    }

    fn render(&self) -> ExtValue {
        ExtValue::from(*self)
    }

    fn empty_is_absent() -> bool {
        true
    }
}

macro_rules! integer_scalar {
    ($($ty:ty => $expected:literal),*) => {$(
        impl ExtScalar for $ty {
            fn parse(field: &'static str, raw: &str) -> Result<Self, HeaderError> {
                raw.parse().map_err(|_| HeaderError::BadNumber {
                    field,
                    value: raw.to_owned(),
                    expected: $expected,
                })
            }

            fn render(&self) -> ExtValue {
                ExtValue::from(*self)
            }

            fn empty_is_absent() -> bool {
                true
            }
        }
    )*};
}

integer_scalar!(i32 => "a 32-bit integer", i64 => "a 64-bit integer");

macro_rules! header_field {
    ($($ty:ty),*) => {$(
        impl HeaderField for $ty {
            fn read(field: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
                let raw = raw.ok_or(HeaderError::Missing { field })?;
                <$ty as ExtScalar>::parse(field, raw)
            }

            fn write(&self, field: &'static str, ext: &mut ExtFields) {
                ext.insert(ExtKey::from_static(field), self.render());
            }
        }

        impl HeaderField for Option<$ty> {
            fn read(field: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
                match raw {
                    None => Ok(None),
                    Some("") if <$ty as ExtScalar>::empty_is_absent() => Ok(None),
                    Some(raw) => <$ty as ExtScalar>::parse(field, raw).map(Some),
                }
            }

            fn write(&self, field: &'static str, ext: &mut ExtFields) {
                if let Some(value) = self {
                    ext.insert(ExtKey::from_static(field), value.render());
                }
            }
        }
    )*};
}

header_field!(String, bool, i32, i64, BoundaryType, TopicFilterType);

/// Which side of a timestamp SEARCH_OFFSET_BY_TIMESTAMP resolves to (Java `BoundaryType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundaryType {
    #[default]
    Lower,
    Upper,
}

impl ExtScalar for BoundaryType {
    /// Java `BoundaryType.getType`: "upper" in any case is Upper, anything else Lower.
    fn parse(_field: &'static str, raw: &str) -> Result<Self, HeaderError> {
        Ok(if raw.eq_ignore_ascii_case("upper") {
            Self::Upper
        } else {
            Self::Lower
        })
    }

    fn render(&self) -> ExtValue {
        ExtValue::from_static(match self {
            Self::Lower => "lower",
            Self::Upper => "upper",
        })
    }
}

/// How a topic's tags are filtered (Java `TopicFilterType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TopicFilterType {
    #[default]
    #[serde(rename = "SINGLE_TAG")]
    SingleTag,
    #[serde(rename = "MULTI_TAG")]
    MultiTag,
}

impl ExtScalar for TopicFilterType {
    fn parse(field: &'static str, raw: &str) -> Result<Self, HeaderError> {
        match raw {
            "SINGLE_TAG" => Ok(Self::SingleTag),
            "MULTI_TAG" => Ok(Self::MultiTag),
            _ => Err(HeaderError::BadValue {
                field,
                value: raw.to_owned(),
                expected: "SINGLE_TAG, MULTI_TAG",
            }),
        }
    }

    fn render(&self) -> ExtValue {
        ExtValue::from_static(match self {
            Self::SingleTag => "SINGLE_TAG",
            Self::MultiTag => "MULTI_TAG",
        })
    }
}

/// Define a header struct whose fields map to ext keys, with `from_command`, `from_ext`,
/// `write_to` and `write_ext`. Each key must be in [`crate::ext::KNOWN_KEYS`] (checked at
/// compile time), so that decoded and written keys are interned rather than copied.
macro_rules! header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        const _: () = {
            $( assert!(
                $crate::ext::is_known($key),
                concat!("header key `", $key, "` is not in ext::KNOWN_KEYS"),
            ); )*
        };

        impl $name {
            /// The ext keys of this header, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$($key),*];

            /// Read the header from `command`'s ext fields.
            pub fn from_command(
                command: &$crate::command::RemotingCommand,
            ) -> Result<Self, $crate::header::HeaderError> {
                Self::from_ext(&command.ext_fields)
            }

            /// Read the header from ext fields: in one walk over them when the keys are
            /// declared in ascending order, else a search per key.
            pub fn from_ext(
                ext: &$crate::ext::ExtFields,
            ) -> Result<Self, $crate::header::HeaderError> {
                const SORTED: bool = $crate::ext::is_strictly_sorted($name::KEYS);
                const COUNT: usize = $name::KEYS.len();
                let keys: &[&str; COUNT] = &[$($key),*];
                let values = if SORTED {
                    ext.get_sorted(keys)
                } else {
                    keys.map(|key| ext.get(key))
                };
                let mut values = values.into_iter();
                Ok(Self {
                    $( $field: <$ty as $crate::header::HeaderField>::read(
                        $key,
                        values.next().flatten(),
                    )?, )*
                })
            }

            /// Add the header's fields to `command`'s ext fields (absent options are skipped).
            pub fn write_to(&self, command: &mut $crate::command::RemotingCommand) {
                self.write_ext(&mut command.ext_fields);
            }

            /// Add the header's fields to `ext` (absent options are skipped).
            pub fn write_ext(&self, ext: &mut $crate::ext::ExtFields) {
                $( $crate::header::HeaderField::write(&self.$field, $key, ext); )*
            }
        }
    };
}

pub(crate) use header;

#[cfg(test)]
mod tests {
    use super::*;

    // The macro makes everything `pub`, which only a module of its own can hold quietly.
    #[allow(unreachable_pub, dead_code)]
    mod sample {
        header! {
            /// A header exercising every field kind.
            pub struct Sample {
                name: String = "name",
                count: i32 = "count",
                offset: Option<i64> = "offset",
                flag: Option<bool> = "flag",
            }
        }
    }
    use sample::Sample;

    fn command(entries: &[(&str, &str)]) -> RemotingCommand {
        let mut command = RemotingCommand::request(1);
        for (key, value) in entries {
            command.ext_fields.insert(*key, *value);
        }
        command
    }

    #[test]
    fn missing_required_field_is_named_in_the_error() {
        let error = Sample::from_command(&command(&[("count", "1")])).unwrap_err();
        assert_eq!(error, HeaderError::Missing { field: "name" });
        assert!(error.to_string().contains("[name]"));
    }

    #[test]
    fn unparsable_number_names_field_and_value() {
        let error = Sample::from_command(&command(&[("name", "n"), ("count", "x1")])).unwrap_err();
        assert!(
            matches!(&error, HeaderError::BadNumber { field: "count", value, .. } if value == "x1")
        );
        assert!(error.to_string().contains("x1"));
    }

    #[test]
    fn empty_optional_number_is_absent_not_an_error() {
        let parsed =
            Sample::from_command(&command(&[("name", "n"), ("count", "3"), ("offset", "")]))
                .unwrap();
        assert_eq!(parsed.offset, None);
    }

    #[test]
    fn round_trip_skips_absent_options_and_ignores_unknown_keys() {
        let source = command(&[
            ("name", "n"),
            ("count", "-3"),
            ("flag", "TRUE"),
            ("bname", "b"),
        ]);
        let parsed = Sample::from_command(&source).unwrap();
        assert_eq!(parsed.flag, Some(true));
        let mut target = RemotingCommand::request(1);
        parsed.write_to(&mut target);
        assert_eq!(target.ext_fields.len(), 3);
        assert_eq!(target.ext("flag"), Some("true"));
        assert_eq!(Sample::from_command(&target).unwrap(), parsed);
    }

    #[test]
    fn credentials_are_stripped_and_nothing_else() {
        let mut source = command(&[("AccessKey", ""), ("Signature", "s"), ("topic", "T")]);
        strip_credentials(&mut source);
        assert_eq!(source.ext_fields.len(), 1);
    }
}
