//! Goal: `maxTransferCountOnMessageInMemory`/`maxTransferBytesOnMessageInMemory` and the
//! `…InDisk` pair cap one pull as in RocketMQ when an operator sets them. Left unset, a pull
//! returns what the client asks for, up to ringmq's own caps.
//!
//! Hazard: the keys were accepted and printed by `-p` but not applied, so an operator who
//! lowers them to protect a busy broker saw no effect.
//!
//! Method: an in-process broker, pulls of 32 over loopback. Data in the tail cache (8 MiB
//! here) counts as in memory. Data written 12 MiB earlier has been evicted from it and
//! counts as on disk.

mod support;

use support::Broker;

fn fill(broker: &Broker, topic: &str, count: usize, body_bytes: usize) {
    let mut client = broker.client();
    let body = vec![b'x'; body_bytes];
    for _ in 0..count {
        client.send_ok(topic, 0, &body, "");
    }
}

#[test]
fn unset_caps_leave_a_pull_to_the_clients_batch_size() {
    let broker = Broker::start("");
    fill(&broker, "Uncapped", 40, 100);
    let pulled = broker.client().pull("G", "Uncapped", 0, 0);
    assert_eq!(pulled.len(), 32, "a pull of 32 returns 32");
    broker.stop();
}

#[test]
fn in_memory_caps_limit_a_pull_from_the_tail_cache() {
    let broker =
        Broker::start("maxTransferCountOnMessageInMemory=3\nmaxTransferCountOnMessageInDisk=2\n");
    fill(&broker, "Hot", 10, 100);
    let pulled = broker.client().pull("G", "Hot", 0, 0);
    assert_eq!(pulled.len(), 3, "maxTransferCountOnMessageInMemory=3");
    broker.stop();

    let broker = Broker::start("maxTransferBytesOnMessageInMemory=500\n");
    fill(&broker, "HotBytes", 10, 100);
    let pulled = broker.client().pull("G", "HotBytes", 0, 0);
    let stored: usize = pulled
        .iter()
        .map(|m| m.body.len() + m.properties.len())
        .sum();
    assert!(
        (1..10).contains(&pulled.len()),
        "a 500-byte cap returns some but not all of 10 records of about 200 bytes: {}",
        pulled.len()
    );
    assert!(stored < 500, "{stored} bytes of bodies and properties");
    broker.stop();
}

#[test]
fn on_disk_caps_limit_a_pull_of_data_evicted_from_the_tail_cache() {
    let broker =
        Broker::start("maxTransferCountOnMessageInMemory=30\nmaxTransferCountOnMessageInDisk=2\n");
    // 12 MiB through an 8 MiB tail cache: the first messages are only on disk now.
    fill(&broker, "Cold", 120, 100 * 1024);
    let mut client = broker.client();
    let cold = client.pull("G", "Cold", 0, 0);
    assert_eq!(cold.len(), 2, "maxTransferCountOnMessageInDisk=2");
    let hot = client.pull("G", "Cold", 0, 100);
    assert!(
        hot.len() > 2,
        "the newest messages are in memory and get the larger cap: {}",
        hot.len()
    );
    broker.stop();
}
