//! Goal: a client connection whose first requests all name queues of one shard is moved to
//! that shard, with those requests and the part of a frame already read, and nothing sent on
//! it is lost, answered twice or stored out of order.
//!
//! Method: an in-process broker with two shards. Four connections are opened one after the
//! other, two writing queues of shard 0 and two of shard 1. Each starts with six pipelined
//! sends and half of a seventh in one write, and sends the other half 100 ms later, so the
//! half frame is in the read buffer when the connection moves. The second connection of
//! each pair always moves: the first one's shard then has one connection against none, so
//! the second is placed on the other shard and then claimed by its queues' owner. Every
//! queue is read back afterwards.

// These tests wait on a real broker with real time (sleeps, deadlines).
#![allow(clippy::disallowed_methods)]

mod support;

use std::time::Duration;

use ringmq_engine::shard::owner_of;
use ringmq_engine::types::QueueId;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::send::SendMessageRequestHeader;
use ringmq_protocol::{frame, request_code};
use support::{eventually, Broker, Client};

const TOPIC: &str = "Placed";
/// The topic is created by its first send with this many queues.
const QUEUES: u32 = 4;
const PIPELINED: i32 = 7;
const FOLLOWING: i32 = 10;

fn send_frame(queue: u32, body: &str, opaque: i32) -> Vec<u8> {
    let mut request = RemotingCommand::request(request_code::SEND_MESSAGE);
    SendMessageRequestHeader {
        producer_group: "P".to_owned(),
        topic: TOPIC.to_owned(),
        default_topic: "TBW102".to_owned(),
        default_topic_queue_nums: i32::try_from(QUEUES).expect("small"),
        queue_id: i32::try_from(queue).expect("small"),
        born_timestamp: 1,
        ..SendMessageRequestHeader::default()
    }
    .write_to(&mut request);
    request.body = body.as_bytes().to_vec().into();
    request.opaque = opaque;
    let mut bytes = Vec::new();
    frame::encode(&request, &mut bytes);
    bytes
}

/// Open a connection that writes `queue`: pipelined sends with a frame split across two
/// writes, then sends one at a time. The bodies it sent, in order.
fn write_queue(broker: &Broker, connection: usize, queue: u32) -> Vec<String> {
    let mut client = Client::connect(&broker.address);
    let bodies: Vec<String> = (0..PIPELINED + FOLLOWING)
        .map(|index| format!("c{connection}-m{index}"))
        .collect();
    let mut first = Vec::new();
    for (opaque, body) in (1..).zip(&bodies[..6]) {
        first.extend(send_frame(queue, body, opaque));
    }
    let split = send_frame(queue, &bodies[6], PIPELINED);
    let (head, tail) = split.split_at(split.len() / 2);
    first.extend_from_slice(head);
    client.write_raw(&first);
    std::thread::sleep(Duration::from_millis(100));
    client.write_raw(tail);
    let answered = client.read_successes(usize::try_from(PIPELINED).expect("small"));
    assert!(answered.keys().copied().eq(1..=PIPELINED));
    client.skip_opaques(PIPELINED);
    for body in &bodies[7..] {
        client.send_ok(
            TOPIC,
            i32::try_from(queue).expect("small"),
            body.as_bytes(),
            "",
        );
    }
    bodies
}

// Hazard: the move hands over a socket, the requests already decoded and a partial frame;
// dropping any of them loses acknowledged-to-be messages or leaves a client waiting forever.
#[test]
fn connections_moved_to_their_queues_owner_lose_no_request_and_no_partial_frame() {
    let broker = Broker::start("");
    let owned_by = |shard: u16| -> Vec<u32> {
        (0..QUEUES)
            .filter(|&queue| owner_of(TOPIC, QueueId(queue), 2).0 == shard)
            .collect()
    };
    let mut written = Vec::new();
    for (connection, shard) in [0u16, 0, 1, 1].into_iter().enumerate() {
        let queues = owned_by(shard);
        let queue = queues[connection % queues.len()];
        written.push((queue, write_queue(&broker, connection, queue)));
    }
    let mut reader = Client::connect(&broker.address);
    for queue in 0..QUEUES {
        let expected: Vec<&String> = written
            .iter()
            .filter(|(q, _)| *q == queue)
            .flat_map(|(_, bodies)| bodies)
            .collect();
        let queue_id = i32::try_from(queue).expect("small");
        let stored = eventually(Duration::from_secs(5), "every send stored", || {
            let stored = reader.pull("Reader", TOPIC, queue_id, 0);
            (stored.len() >= expected.len()).then_some(stored)
        });
        let bodies: Vec<String> = stored
            .iter()
            .map(|record| String::from_utf8_lossy(&record.body).into_owned())
            .collect();
        assert_eq!(bodies.len(), expected.len(), "queue {queue}: {bodies:?}");
        // Connections wrote their queues one after the other, each in order.
        assert!(
            bodies.iter().eq(expected.iter().copied()),
            "queue {queue}: {bodies:?}"
        );
    }
}
