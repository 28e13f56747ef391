//! Goal: messages of 1 to 4 MiB, which RocketMQ accepts under its default `maxMessageSize`
//! (4 MiB), are stored and pulled back byte for byte, from memory and from disk after a
//! restart; one byte more than `maxMessageSize` is refused with RocketMQ's code.
//!
//! Hazard: ringmq stages records in 1 MiB pool buffers and refused anything larger with
//! MESSAGE_ILLEGAL, so a producer moving from RocketMQ failed on its large messages.
//!
//! Method: an in-process broker with two shards over loopback; bodies are patterned so a
//! misplaced block shows.

mod support;

use ringmq_protocol::response_code;
use support::Broker;

const MAX_MESSAGE_BYTES: usize = 4 << 20;

fn body(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|index| seed.wrapping_add(u8::try_from(index % 251).expect("small")))
        .collect()
}

#[test]
fn messages_up_to_max_message_size_are_stored_and_pulled_back_whole() {
    let broker = Broker::start("");
    let sizes = [
        700,
        MAX_MESSAGE_BYTES,
        100,
        (2 << 20) + 17,
        (1 << 20) + 1,
        50,
    ];
    let mut client = broker.client();
    for (index, size) in sizes.iter().enumerate() {
        let seed = u8::try_from(index).expect("small");
        client.send_ok("Large", 0, &body(*size, seed), "");
    }
    let check = |broker: &Broker, when: &str| {
        let mut client = broker.client();
        let mut pulled = Vec::new();
        while pulled.len() < sizes.len() {
            let next = i64::try_from(pulled.len()).expect("small");
            let batch = client.pull("G", "Large", 0, next);
            assert!(!batch.is_empty(), "{when}: nothing at offset {next}");
            pulled.extend(batch);
        }
        for (index, (stored, size)) in pulled.iter().zip(sizes).enumerate() {
            let seed = u8::try_from(index).expect("small");
            assert_eq!(stored.body.len(), size, "{when}: message {index}");
            assert!(
                stored.body == body(size, seed),
                "{when}: message {index} differs"
            );
        }
    };
    check(&broker, "from memory");
    let directory = broker.stop();
    let broker = Broker::start_in(directory, "");
    check(&broker, "after a restart, from disk");

    let refused = broker
        .client()
        .send("Large", 0, &body(MAX_MESSAGE_BYTES + 1, 9), "");
    assert_eq!(
        refused.code,
        response_code::MESSAGE_ILLEGAL,
        "{:?}",
        refused.remark
    );
    broker.stop();
}
