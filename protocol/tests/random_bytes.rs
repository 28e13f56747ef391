//! Goal: no decoder panics on arbitrary or mutated input, and any command we can build survives
//! a frame encode/decode round trip in both header encodings.
//! Method: proptest. Random byte strings and byte-flipped valid frames go through every fuzz
//! entry point (which also asserts round trips where decoding succeeds); random commands are
//! encoded, decoded and compared, and decoded again from every split point to check the
//! incremental `Ok(None)` path.

use proptest::prelude::*;
use ringmq_protocol::command::{Language, RemotingCommand, SerializeType};
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};
use ringmq_protocol::fuzz::{self, TARGETS};

fn language() -> impl Strategy<Value = Language> {
    (0u8..14).prop_map(Language::from_code)
}

fn command() -> impl Strategy<Value = RemotingCommand> {
    (
        (
            any::<i16>(),
            language(),
            any::<i16>(),
            any::<i32>(),
            any::<i32>(),
        ),
        proptest::option::of(any::<String>()),
        proptest::collection::btree_map(any::<String>(), any::<String>(), 0..6),
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_map(
            |((code, language, version, opaque, flag), remark, ext_fields, body, binary)| {
                let serialize_type = if binary {
                    SerializeType::RocketMq
                } else {
                    SerializeType::Json
                };
                RemotingCommand {
                    code: i32::from(code),
                    language,
                    version: i32::from(version),
                    opaque,
                    flag,
                    remark,
                    ext_fields: ext_fields.into(),
                    body: body.into(),
                    serialize_type,
                }
            },
        )
}

/// What decoding gives back: the binary header cannot express empty strings (Java reads them as
/// null), so an empty remark or ext value comes back absent.
fn as_decoded(mut command: RemotingCommand) -> RemotingCommand {
    if command.serialize_type == SerializeType::RocketMq {
        if command.remark.as_deref() == Some("") {
            command.remark = None;
        }
        command.ext_fields.retain(|_, value| !value.is_empty());
    }
    command
}

fn seed_frame() -> Vec<u8> {
    let mut command = RemotingCommand::request(310)
        .with_ext("a", &"P")
        .with_ext("b", &"T")
        .with_ext("g", &1_700_000_000_000_i64)
        .with_body(&b"body"[..]);
    command.remark = Some("r".to_owned());
    let mut bytes = Vec::new();
    frame::encode(&command, &mut bytes);
    command.serialize_type = SerializeType::RocketMq;
    frame::encode(&command, &mut bytes);
    bytes
}

/// Token soup that is often nearly-valid JSON, so the JSON decoders get past the first byte.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\n",
        "\"code\"",
        "\"extFields\"",
        "\"language\"",
        "\"remark\"",
        "\"opaque\"",
        "\"flag\"",
        "\"version\"",
        "\"brokerAddrs\"",
        "\"brokerDatas\"",
        "\"queueDatas\"",
        "\"offsetTable\"",
        "\"consumerDataSet\"",
        "\"subscriptionDataSet\"",
        "\"table\"",
        "\"topicConfigTable\"",
        "\"mqSet\"",
        "\"T\"",
        "\"\\u0001\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "0",
        "-1",
        "105",
        "1.5",
        "1e400",
        "99999999999999999999",
        "true",
        "false",
        "null",
        "\"JAVA\"",
    ];
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..48)
        .prop_map(|tokens| tokens.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_like_token_soup_never_panics_any_decoder(data in json_like()) {
        for (_, entry_point) in TARGETS {
            entry_point(&data);
        }
    }

    #[test]
    fn random_bytes_never_panic_any_decoder(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        for (_, entry_point) in TARGETS {
            entry_point(&data);
        }
    }

    #[test]
    fn mutated_valid_frames_never_panic_the_frame_decoder(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = seed_frame();
        for (position, value) in flips {
            let index = position % bytes.len();
            bytes[index] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        fuzz::frame_decode(&bytes);
        fuzz::binary_header(&bytes);
        fuzz::json_header(&bytes);
    }

    #[test]
    fn any_command_survives_a_frame_round_trip(command in command()) {
        let mut bytes = Vec::new();
        frame::encode(&command, &mut bytes);
        let (decoded, consumed) = frame::decode(&bytes, FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(decoded, as_decoded(command));
    }

    #[test]
    fn every_proper_prefix_of_a_frame_asks_for_more_bytes(command in command()) {
        let mut bytes = Vec::new();
        frame::encode(&command, &mut bytes);
        for end in 0..bytes.len() {
            prop_assert_eq!(frame::decode(&bytes[..end], FRAME_BYTES_MAX_DEFAULT), Ok(None));
        }
    }

    #[test]
    fn encode_head_then_body_equals_encode(command in command()) {
        let mut whole = Vec::new();
        frame::encode(&command, &mut whole);
        let mut split = Vec::new();
        frame::encode_head(&command, command.body.len(), &mut split);
        split.extend_from_slice(&command.body);
        prop_assert_eq!(whole, split);
    }
}
