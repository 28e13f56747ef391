//! A remoting command: the header fields every frame carries, plus its body.
//!
//! This file holds the data type only; framing and header serialisation live beside it.

use std::fmt::Display;

use bytes::Bytes;

pub use crate::ext::ExtFields;
use crate::ext::ExtValue;

/// Flag bit 0: this command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: a oneway request; the server must not reply.
pub const FLAG_ONEWAY: i32 = 2;

/// Version ordinal ringmq puts in every command it sends (RocketMQ V5_3_1).
pub const VERSION_OURS: i32 = 475;

/// Header serialisation of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json,
    RocketMq,
}

impl SerializeType {
    pub fn code(self) -> u8 {
        match self {
            Self::Json => 0,
            Self::RocketMq => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Json),
            1 => Some(Self::RocketMq),
            _ => None,
        }
    }
}

/// Sender language as RocketMQ names it; unknown values are kept as their name or number.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
}

impl Language {
    const ALL: [(Language, &'static str, u8); 14] = [
        (Language::Java, "JAVA", 0),
        (Language::Cpp, "CPP", 1),
        (Language::Dotnet, "DOTNET", 2),
        (Language::Python, "PYTHON", 3),
        (Language::Delphi, "DELPHI", 4),
        (Language::Erlang, "ERLANG", 5),
        (Language::Ruby, "RUBY", 6),
        (Language::Other, "OTHER", 7),
        (Language::Http, "HTTP", 8),
        (Language::Go, "GO", 9),
        (Language::Php, "PHP", 10),
        (Language::Oms, "OMS", 11),
        (Language::Rust, "RUST", 12),
        (Language::NodeJs, "NODE_JS", 13),
    ];

    pub fn name(&self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(language, _, _)| language == self)
            .map_or("OTHER", |e| e.1)
    }

    pub fn code(&self) -> u8 {
        Self::ALL
            .iter()
            .find(|(language, _, _)| language == self)
            .map_or(7, |e| e.2)
    }

    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .iter()
            .find(|e| e.1 == name)
            .map_or(Self::Other, |e| e.0.clone())
    }

    pub fn from_code(code: u8) -> Self {
        Self::ALL
            .iter()
            .find(|e| e.2 == code)
            .map_or(Self::Other, |e| e.0.clone())
    }
}

/// One remoting command. `ext_fields` are always strings on the wire we send.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: Language,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: ExtFields,
    pub body: Bytes,
    /// How the header was (or will be) serialised.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    pub fn request(code: i32) -> Self {
        Self {
            code,
            version: VERSION_OURS,
            ..Self::default()
        }
    }

    /// A response to `request`: same opaque and serialisation, response flag set.
    pub fn response_to(request: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        Self {
            code,
            version: VERSION_OURS,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark,
            serialize_type: request.serialize_type,
            ..Self::default()
        }
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key)
    }

    #[must_use]
    pub fn with_ext(mut self, key: &str, value: &impl Display) -> Self {
        self.ext_fields.insert(key, ExtValue::display(value));
        self
    }

    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}
