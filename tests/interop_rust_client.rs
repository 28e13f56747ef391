//! Goal: the unmodified `rocketmq-client-rust` 1.0.0 crate (the Rust RocketMQ client on
//! crates.io) works against `ringmq namesrv` + `ringmq broker` processes the way it works
//! against Apache RocketMQ: sync, async, oneway and batch sends are stored and acknowledged;
//! the offsetMsgId of a send decodes to the broker address and VIEW_MESSAGE_BY_ID returns that
//! record; a clustering group of two push consumers gets every message exactly once between
//! them; broadcasting members each get every message; a `TagA || TagB` subscription sees only
//! those tags; committed offsets survive a consumer restart; a failing consumer's messages go
//! through the retry topic into `%DLQ%group` after `maxReconsumeTimes`; and a SYNC_FLUSH broker
//! killed with SIGKILL while producing keeps every message the client saw SEND_OK for, with
//! consumers resuming from their committed offsets.
//! Method: each test starts its own name server and broker on free loopback ports with a
//! temporary store (64 MiB segments, 2 shards), drives them through the client's public API on
//! its own runtime, and checks what was stored with raw pulls from the minimal remoting client
//! in `support`. Push-consumer listeners report every delivery over a channel.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::large_futures,
    reason = "the client library's send futures are large; a test awaits them one at a time"
)]
#![allow(
    clippy::too_many_lines,
    reason = "each test is one end-to-end scenario read top to bottom"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use ringmq_protocol::{record, request_code as code, response_code};
use rocketmq_client_rust::{
    ClientConfig, ClientResult, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerConcurrently, TelemetryHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendStatus;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use support::{broker_properties, request, start_broker, start_namesrv, Client, Process};

/// Queues of a topic the client auto-creates (its `defaultTopicQueueNums`).
const QUEUES: i32 = 4;

/// A name server and a broker, as processes.
struct Cluster {
    _directory: tempfile::TempDir,
    _namesrv: Process,
    namesrv: String,
    broker: Option<Process>,
    properties: PathBuf,
    broker_address: String,
}

impl Cluster {
    fn start(extra: &str) -> Self {
        let directory = tempfile::tempdir().expect("tempdir");
        let (namesrv_process, namesrv) = start_namesrv(directory.path());
        let (properties, port) = broker_properties(directory.path(), &namesrv, extra);
        let broker = start_broker(&properties);
        let cluster = Self {
            _directory: directory,
            _namesrv: namesrv_process,
            namesrv,
            broker: Some(broker),
            properties,
            broker_address: format!("127.0.0.1:{port}"),
        };
        cluster.wait_for_route("TBW102");
        cluster
    }

    /// Wait until the name server has a route for `topic` (the broker registered it).
    fn wait_for_route(&self, topic: &str) {
        let mut names = Client::connect(&self.namesrv);
        for _ in 0..100 {
            let reply = names.call(request(code::GET_ROUTEINFO_BY_TOPIC, &[("topic", topic)]));
            if reply.code == response_code::SUCCESS {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no route for {topic}");
    }

    fn raw_client(&self) -> Client {
        Client::connect(&self.broker_address)
    }
}

/// The client library's runtime, owned by one test.
struct ClientSide {
    owner: RuntimeOwner,
    runtime: Arc<ClientRuntime>,
}

impl ClientSide {
    fn new() -> Self {
        let owner = RuntimeOwner::plan(RuntimeConfig {
            thread_name: "interop-client".to_owned(),
            worker_threads: 2,
            ..RuntimeConfig::default()
        })
        .expect("runtime plan")
        .build()
        .expect("runtime");
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .expect("client runtime");
        Self { owner, runtime }
    }

    fn run<F: std::future::Future<Output = ()>>(self, body: impl FnOnce(Arc<ClientRuntime>) -> F) {
        let runtime = Arc::clone(&self.runtime);
        self.owner.block_on(async move {
            body(Arc::clone(&runtime)).await;
            runtime.shutdown().await;
        });
        self.owner
            .shutdown_runtime_blocking()
            .expect("client runtime shuts down");
    }
}

async fn producer(runtime: &Arc<ClientRuntime>, namesrv: &str, group: &str) -> DefaultMQProducer {
    let mut producer = DefaultMQProducer::builder(Arc::clone(runtime))
        .producer_group(group.to_owned())
        .name_server_addr(namesrv.to_owned())
        .send_msg_timeout(5000)
        .build();
    producer.start().await.expect("producer starts");
    producer
}

fn message(topic: &str, tag: Option<&str>, body: &str) -> Message {
    let builder = Message::builder().topic(topic).body_slice(body.as_bytes());
    match tag {
        Some(tag) => builder.tags(tag).build_unchecked(),
        None => builder.build_unchecked(),
    }
}

/// One delivery to a push consumer.
#[derive(Debug, Clone)]
struct Delivery {
    member: usize,
    body: String,
    topic: String,
    tag: Option<String>,
    reconsume_times: i32,
}

/// A listener that reports every delivery and answers success, or always fails.
struct Recorder {
    member: usize,
    deliveries: mpsc::Sender<Delivery>,
    fail: bool,
}

impl MessageListenerConcurrently for Recorder {
    fn consume_message(
        &self,
        messages: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        for message in messages {
            let body = message
                .body()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let _ = self.deliveries.send(Delivery {
                member: self.member,
                body: body.unwrap_or_default(),
                topic: message.topic().to_string(),
                tag: message.get_tags().map(|t| t.to_string()),
                reconsume_times: message.reconsume_times(),
            });
        }
        Ok(if self.fail {
            ConsumeConcurrentlyStatus::ReconsumeLater
        } else {
            ConsumeConcurrentlyStatus::ConsumeSuccess
        })
    }
}

/// How a test wants its push consumer.
struct ConsumerSpec<'a> {
    namesrv: &'a str,
    group: &'a str,
    topic: &'a str,
    expression: &'a str,
    model: MessageModel,
    member: usize,
    fail: bool,
    max_reconsume_times: i32,
}

impl<'a> ConsumerSpec<'a> {
    fn new(namesrv: &'a str, group: &'a str, topic: &'a str) -> Self {
        Self {
            namesrv,
            group,
            topic,
            expression: "*",
            model: MessageModel::Clustering,
            member: 0,
            fail: false,
            max_reconsume_times: 16,
        }
    }
}

async fn push_consumer(
    runtime: &Arc<ClientRuntime>,
    spec: &ConsumerSpec<'_>,
    deliveries: mpsc::Sender<Delivery>,
) -> DefaultMQPushConsumer {
    let mut config = ClientConfig::new();
    config.set_instance_name(format!("member{}-{}", spec.member, std::process::id()).into());
    config.set_persist_consumer_offset_interval(1000);
    // The client's minimum for both (10 s); rebalancing is driven by the broker's
    // NOTIFY_CONSUMER_IDS_CHANGED, not by these periods.
    config.set_heartbeat_broker_interval(10_000);
    config.set_poll_name_server_interval(10_000);
    let mut consumer = DefaultMQPushConsumer::builder(Arc::clone(runtime))
        .client_config(config)
        .name_server_addr(spec.namesrv.to_owned())
        .consumer_group(spec.group.to_owned())
        .message_model(spec.model)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .max_reconsume_times(spec.max_reconsume_times)
        .pull_interval(0)
        .build();
    consumer
        .subscribe(spec.topic, spec.expression)
        .await
        .expect("subscribe");
    consumer.register_message_listener_concurrently(Recorder {
        member: spec.member,
        deliveries,
        fail: spec.fail,
    });
    consumer.start().await.expect("consumer starts");
    consumer
}

/// Deliveries received until `done` holds for them, or `timeout` passes.
async fn collect(
    receiver: &mpsc::Receiver<Delivery>,
    seen: &mut Vec<Delivery>,
    timeout: Duration,
    done: impl Fn(&[Delivery]) -> bool,
) -> bool {
    let rounds = timeout.as_millis() / 50;
    for _ in 0..rounds {
        seen.extend(receiver.try_iter());
        if done(seen) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.extend(receiver.try_iter());
    done(seen)
}

fn bodies_of(deliveries: &[Delivery], topic: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for delivery in deliveries.iter().filter(|d| d.topic == topic) {
        *counts.entry(delivery.body.clone()).or_insert(0) += 1;
    }
    counts
}

/// Every record body stored in `topic`, read with raw pulls from offset 0 of each queue.
fn stored_bodies(client: &mut Client, topic: &str, queues: i32) -> Vec<String> {
    let mut bodies = Vec::new();
    for queue in 0..queues {
        let mut offset = 0_i64;
        loop {
            let pull = client.call(request(
                code::PULL_MESSAGE,
                &[
                    ("consumerGroup", "InteropRawReader"),
                    ("topic", topic),
                    ("queueId", &queue.to_string()),
                    ("queueOffset", &offset.to_string()),
                    ("maxMsgNums", "32"),
                    ("sysFlag", "4"),
                    ("commitOffset", "0"),
                    ("suspendTimeoutMillis", "0"),
                    ("subscription", "*"),
                    ("subVersion", "0"),
                ],
            ));
            if pull.code != response_code::SUCCESS {
                break;
            }
            for stored in record::decode_all(&pull.body).expect("records decode") {
                bodies.push(String::from_utf8_lossy(stored.body).into_owned());
            }
            let next: i64 = pull
                .ext("nextBeginOffset")
                .and_then(|text| text.parse().ok())
                .expect("nextBeginOffset");
            assert!(
                next > offset,
                "a found pull must advance: {offset} -> {next}"
            );
            offset = next;
        }
    }
    bodies
}

/// Send one message so the topic exists and is routable before consumers subscribe.
async fn create_topic(producer: &DefaultMQProducer, cluster: &Cluster, topic: &str) {
    let sent = producer
        .send(message(topic, None, "warm-up"))
        .await
        .expect("warm-up send");
    assert_eq!(sent.expect("result").send_status, SendStatus::SendOk);
    cluster.wait_for_route(topic);
}

#[test]
fn sync_async_oneway_and_batch_sends_are_stored_with_decodable_offset_msg_ids() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    let broker_address = cluster.broker_address.clone();
    let mut raw = cluster.raw_client();
    ClientSide::new().run(|runtime| async move {
        let producer = producer(&runtime, &namesrv, "InteropSendGroup").await;
        let topic = "InteropSends";
        let mut expected = BTreeSet::new();

        for n in 0..10 {
            let body = format!("sync-{n}");
            let result = producer
                .send(message(topic, Some("TagA"), &body))
                .await
                .expect("sync send")
                .expect("sync send result");
            assert_eq!(result.send_status, SendStatus::SendOk);
            let offset_msg_id = result.offset_msg_id.clone().expect("offsetMsgId");
            let (host, offset) =
                record::decode_offset_msg_id(&offset_msg_id).expect("offsetMsgId decodes");
            assert_eq!(
                host.to_string(),
                broker_address,
                "offsetMsgId names the broker"
            );
            let view = raw.call(request(
                code::VIEW_MESSAGE_BY_ID,
                &[("offset", &offset.to_string())],
            ));
            assert_eq!(view.code, response_code::SUCCESS, "{:?}", view.remark);
            let viewed = record::decode(&view.body).expect("viewed record");
            assert_eq!(viewed.body, body.as_bytes());
            assert_eq!(viewed.physical_offset, offset);
            assert_eq!(viewed.offset_msg_id(), offset_msg_id);
            expected.insert(body);
        }

        let (acks, acked) = mpsc::channel();
        for n in 0..10 {
            let body = format!("async-{n}");
            let acks = acks.clone();
            let callback_body = body.clone();
            producer
                .send_with_callback(message(topic, Some("TagB"), &body), move |result, error| {
                    let ok = error.is_none()
                        && result.is_some_and(|r| r.send_status == SendStatus::SendOk);
                    let _ = acks.send((callback_body.clone(), ok));
                })
                .await
                .expect("async send accepted");
            expected.insert(body);
        }
        let mut callbacks = Vec::new();
        for _ in 0..200 {
            callbacks.extend(acked.try_iter());
            if callbacks.len() >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            callbacks.len(),
            10,
            "every async send called back: {callbacks:?}"
        );
        assert!(callbacks.iter().all(|(_, ok)| *ok), "{callbacks:?}");

        for n in 0..10 {
            let body = format!("oneway-{n}");
            producer
                .send_oneway(message(topic, None, &body))
                .await
                .expect("oneway send");
            expected.insert(body);
        }

        let batch: Vec<Message> = (0..10)
            .map(|n| message(topic, Some("TagC"), &format!("batch-{n}")))
            .collect();
        let result = producer.send_batch(batch).await.expect("batch send");
        assert_eq!(result.send_status, SendStatus::SendOk);
        let ids = result.offset_msg_id.clone().expect("batch offsetMsgIds");
        assert_eq!(
            ids.split(',').count(),
            10,
            "one offsetMsgId per batch member: {ids}"
        );
        for id in ids.split(',') {
            let (host, _) = record::decode_offset_msg_id(id).expect("batch offsetMsgId decodes");
            assert_eq!(host.to_string(), broker_address);
        }
        expected.extend((0..10).map(|n| format!("batch-{n}")));

        let mut stored = Vec::new();
        for _ in 0..60 {
            stored = stored_bodies(&mut raw, topic, QUEUES);
            if stored.len() >= expected.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stored_set: BTreeSet<String> = stored.iter().cloned().collect();
        assert_eq!(stored_set, expected, "every send stored");
        assert_eq!(stored.len(), expected.len(), "and stored once");
        let mut producer = producer;
        producer.shutdown().await;
    });
    drop(cluster);
}

#[test]
fn clustering_group_of_two_delivers_every_message_to_exactly_one_member() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropClustering";
        let producer = producer(&runtime, &namesrv, "InteropClusterProducer").await;
        create_topic(&producer, &cluster, topic).await;
        let (sender, receiver) = mpsc::channel();
        let mut members = Vec::new();
        for member in 0..2 {
            let spec = ConsumerSpec {
                member,
                ..ConsumerSpec::new(&namesrv, "InteropClusterGroup", topic)
            };
            members.push(push_consumer(&runtime, &spec, sender.clone()).await);
        }
        // Both members registered and the broker told the first one to rebalance.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let total = 100;
        for n in 0..total {
            let sent = producer
                .send(message(topic, None, &format!("c-{n}")))
                .await
                .expect("send");
            assert_eq!(sent.expect("result").send_status, SendStatus::SendOk);
        }
        let mut seen = Vec::new();
        let complete = collect(&receiver, &mut seen, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic)
                .keys()
                .filter(|b| b.starts_with("c-"))
                .count()
                == total
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen.extend(receiver.try_iter());
        let counts = bodies_of(&seen, topic);
        assert!(
            complete,
            "not every message was delivered: {} of {total}",
            counts.len()
        );
        let duplicates: Vec<_> = counts
            .iter()
            .filter(|(b, c)| b.starts_with("c-") && **c > 1)
            .collect();
        assert!(
            duplicates.is_empty(),
            "delivered more than once: {duplicates:?}"
        );
        for member in 0..2 {
            let mine = seen
                .iter()
                .filter(|d| d.member == member && d.body.starts_with("c-"))
                .count();
            assert!(
                mine > 0,
                "member {member} got no queue; deliveries per member must split"
            );
        }
        for mut consumer in members {
            consumer.shutdown().await;
        }
        let mut producer = producer;
        producer.shutdown().await;
    });
}

#[test]
fn broadcasting_members_each_receive_every_message() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropBroadcast";
        let producer = producer(&runtime, &namesrv, "InteropBroadcastProducer").await;
        create_topic(&producer, &cluster, topic).await;
        let (sender, receiver) = mpsc::channel();
        let mut members = Vec::new();
        for member in 0..2 {
            let spec = ConsumerSpec {
                member,
                model: MessageModel::Broadcasting,
                ..ConsumerSpec::new(&namesrv, "InteropBroadcastGroup", topic)
            };
            members.push(push_consumer(&runtime, &spec, sender.clone()).await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let total = 40;
        for n in 0..total {
            let sent = producer
                .send(message(topic, None, &format!("b-{n}")))
                .await
                .expect("send");
            assert_eq!(sent.expect("result").send_status, SendStatus::SendOk);
        }
        let per_member = |seen: &[Delivery], member: usize| -> BTreeSet<String> {
            seen.iter()
                .filter(|d| d.member == member && d.body.starts_with("b-"))
                .map(|d| d.body.clone())
                .collect()
        };
        let mut seen = Vec::new();
        let complete = collect(&receiver, &mut seen, Duration::from_secs(30), |seen| {
            per_member(seen, 0).len() == total && per_member(seen, 1).len() == total
        })
        .await;
        assert!(
            complete,
            "each member gets every message: member 0 has {}, member 1 has {} of {total}",
            per_member(&seen, 0).len(),
            per_member(&seen, 1).len()
        );
        for mut consumer in members {
            consumer.shutdown().await;
        }
        let mut producer = producer;
        producer.shutdown().await;
    });
}

#[test]
fn tag_subscription_sees_only_the_tags_it_names() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropTags";
        let producer = producer(&runtime, &namesrv, "InteropTagProducer").await;
        create_topic(&producer, &cluster, topic).await;
        let (sender, receiver) = mpsc::channel();
        let spec = ConsumerSpec {
            expression: "TagA || TagB",
            ..ConsumerSpec::new(&namesrv, "InteropTagGroup", topic)
        };
        let mut consumer = push_consumer(&runtime, &spec, sender).await;
        let tags = [
            Some("TagA"),
            Some("TagB"),
            Some("TagC"),
            None,
            Some("TagAB"),
        ];
        for n in 0..40 {
            let tag = tags[n % tags.len()];
            let body = format!("{}-{n}", tag.unwrap_or("untagged"));
            let sent = producer
                .send(message(topic, tag, &body))
                .await
                .expect("send");
            assert_eq!(sent.expect("result").send_status, SendStatus::SendOk);
        }
        let mut seen = Vec::new();
        let complete = collect(&receiver, &mut seen, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic).len() == 16
        })
        .await;
        // Give filtered-out messages time to show up if the filter were broken.
        tokio::time::sleep(Duration::from_secs(1)).await;
        seen.extend(receiver.try_iter());
        let unexpected: Vec<_> = seen
            .iter()
            .filter(|d| !matches!(d.tag.as_deref(), Some("TagA" | "TagB")))
            .map(|d| (d.body.clone(), d.tag.clone()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "delivered outside the subscription: {unexpected:?}"
        );
        assert!(
            complete,
            "every TagA/TagB message arrives: {:?}",
            bodies_of(&seen, topic)
        );
        consumer.shutdown().await;
        let mut producer = producer;
        producer.shutdown().await;
    });
}

#[test]
fn committed_offsets_survive_a_consumer_restart() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropRestart";
        let group = "InteropRestartGroup";
        let producer = producer(&runtime, &namesrv, "InteropRestartProducer").await;
        create_topic(&producer, &cluster, topic).await;
        for n in 0..50 {
            producer
                .send(message(topic, None, &format!("first-{n}")))
                .await
                .expect("send");
        }
        let (sender, receiver) = mpsc::channel();
        let spec = ConsumerSpec::new(&namesrv, group, topic);
        let mut consumer = push_consumer(&runtime, &spec, sender.clone()).await;
        let mut first = Vec::new();
        let complete = collect(&receiver, &mut first, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic)
                .keys()
                .filter(|b| b.starts_with("first-"))
                .count()
                == 50
        })
        .await;
        assert!(complete, "the first consumer got every message");
        // Shutdown persists the consumed offsets to the broker.
        consumer.shutdown().await;

        for n in 0..50 {
            producer
                .send(message(topic, None, &format!("second-{n}")))
                .await
                .expect("send");
        }
        let spec = ConsumerSpec {
            member: 1,
            ..ConsumerSpec::new(&namesrv, group, topic)
        };
        let mut consumer = push_consumer(&runtime, &spec, sender).await;
        let mut second = Vec::new();
        let complete = collect(&receiver, &mut second, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic)
                .keys()
                .filter(|b| b.starts_with("second-"))
                .count()
                == 50
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        second.extend(receiver.try_iter());
        assert!(complete, "the restarted consumer got every new message");
        let redelivered: Vec<_> = second
            .iter()
            .filter(|d| !d.body.starts_with("second-"))
            .map(|d| d.body.clone())
            .collect();
        // A clean shutdown commits everything; allow a small window, and say how big it was.
        eprintln!(
            "redelivered after a clean consumer restart: {} {redelivered:?}",
            redelivered.len()
        );
        assert!(
            redelivered.len() <= 4,
            "resumed from the committed offsets, not from 0: {redelivered:?}"
        );
        consumer.shutdown().await;
        let mut producer = producer;
        producer.shutdown().await;
    });
}

#[test]
fn failing_consumer_messages_go_through_retry_into_the_dead_letter_queue() {
    let delay_levels = "messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s\n";
    let cluster = Cluster::start(delay_levels);
    let namesrv = cluster.namesrv.clone();
    let mut raw = cluster.raw_client();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropRetry";
        let group = "InteropRetryGroup";
        let producer = producer(&runtime, &namesrv, "InteropRetryProducer").await;
        create_topic(&producer, &cluster, topic).await;
        let (sender, receiver) = mpsc::channel();
        let spec = ConsumerSpec {
            fail: true,
            max_reconsume_times: 2,
            ..ConsumerSpec::new(&namesrv, group, topic)
        };
        let mut consumer = push_consumer(&runtime, &spec, sender).await;
        let total = 5;
        for n in 0..total {
            producer
                .send(message(topic, Some("TagR"), &format!("r-{n}")))
                .await
                .expect("send");
        }
        // Delivered with reconsumeTimes 0, 1 and 2, then the third failure sends it to the DLQ.
        let mut seen = Vec::new();
        let complete = collect(&receiver, &mut seen, Duration::from_secs(40), |seen| {
            (0..total).all(|n| {
                let body = format!("r-{n}");
                seen.iter().filter(|d| d.body == body).count() >= 3
            })
        })
        .await;
        let attempts: BTreeMap<String, Vec<i32>> =
            seen.iter().fold(BTreeMap::new(), |mut map, d| {
                map.entry(d.body.clone())
                    .or_default()
                    .push(d.reconsume_times);
                map
            });
        assert!(
            complete,
            "every failed message is redelivered twice: {attempts:?}"
        );
        let dlq = format!("%DLQ%{group}");
        let mut dead = Vec::new();
        for _ in 0..100 {
            dead = stored_bodies(&mut raw, &dlq, 1);
            if dead.iter().filter(|b| b.starts_with("r-")).count() >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let dead: BTreeSet<String> = dead.into_iter().filter(|b| b.starts_with("r-")).collect();
        let expected: BTreeSet<String> = (0..total).map(|n| format!("r-{n}")).collect();
        assert_eq!(
            dead, expected,
            "every message ends in {dlq}; attempts {attempts:?}"
        );
        for (body, times) in &attempts {
            if body.starts_with("r-") {
                let mut sorted = times.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted, vec![0, 1, 2], "{body} attempts {times:?}");
            }
        }
        consumer.shutdown().await;
        let mut producer = producer;
        producer.shutdown().await;
    });
}

/// Sum of the broker's committed offsets for `group` on `topic`, and per queue.
fn committed_offsets(client: &mut Client, group: &str, topic: &str) -> Vec<i64> {
    (0..QUEUES)
        .map(|queue| {
            let reply = client.call(request(
                code::QUERY_CONSUMER_OFFSET,
                &[
                    ("consumerGroup", group),
                    ("topic", topic),
                    ("queueId", &queue.to_string()),
                ],
            ));
            if reply.code == response_code::SUCCESS {
                reply
                    .ext("offset")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(-1)
            } else {
                -1
            }
        })
        .collect()
}

#[test]
fn sync_flush_broker_killed_while_producing_keeps_every_acknowledged_message() {
    let mut cluster = Cluster::start("flushDiskType=SYNC_FLUSH\n");
    let namesrv = cluster.namesrv.clone();
    let properties = cluster.properties.clone();
    let broker_address = cluster.broker_address.clone();
    let broker = cluster.broker.take().expect("broker");
    let runtime_side = ClientSide::new();
    runtime_side.run(|runtime| async move {
        let topic = "InteropCrash";
        let group = "InteropCrashGroup";
        let producer = Arc::new(producer(&runtime, &namesrv, "InteropCrashProducer").await);
        create_topic(&producer, &cluster, topic).await;

        // Phase 1: consume 100 messages and let the broker persist the committed offsets.
        for n in 0..100 {
            producer
                .send(message(topic, None, &format!("before-{n}")))
                .await
                .expect("send");
        }
        let (sender, receiver) = mpsc::channel();
        let spec = ConsumerSpec::new(&namesrv, group, topic);
        let mut consumer = push_consumer(&runtime, &spec, sender.clone()).await;
        let mut first = Vec::new();
        let complete = collect(&receiver, &mut first, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic)
                .keys()
                .filter(|b| b.starts_with("before-"))
                .count()
                == 100
        })
        .await;
        assert!(complete, "phase 1 consumed");
        consumer.shutdown().await;
        let mut raw = Client::connect(&broker_address);
        let committed: Vec<i64> = committed_offsets(&mut raw, group, topic);
        assert_eq!(
            committed.iter().sum::<i64>(),
            101,
            "all 101 (with warm-up) committed: {committed:?}"
        );
        // The broker writes consumerOffset.json every 5 s.
        tokio::time::sleep(Duration::from_secs(6)).await;

        // Phase 2: produce continuously and SIGKILL the broker in the middle.
        let acked_count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let producer = Arc::clone(&producer);
            let acked_count = Arc::clone(&acked_count);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    let body = format!("during-{n}");
                    n += 1;
                    let result = producer
                        .send_with_timeout(message(topic, None, &body), 1000)
                        .await;
                    if let Ok(Some(result)) = result {
                        if result.send_status == SendStatus::SendOk {
                            acked.push(body);
                            acked_count.fetch_add(1, Ordering::AcqRel);
                        }
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                acked
            })
        };
        for _ in 0..3000 {
            if acked_count.load(Ordering::Acquire) >= 150 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let acked_before_kill = acked_count.load(Ordering::Acquire);
        assert!(
            acked_before_kill >= 150,
            "only {acked_before_kill} SEND_OK in 30 s"
        );
        broker.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Release);
        let acked = task.await.expect("producer task");
        assert!(acked.len() >= 150);

        let restarted = start_broker(&properties);
        let mut raw = Client::connect(&broker_address);
        let stored: BTreeSet<String> = stored_bodies(&mut raw, topic, QUEUES).into_iter().collect();
        let lost: Vec<&String> = acked.iter().filter(|b| !stored.contains(*b)).collect();
        assert!(
            lost.is_empty(),
            "acknowledged (SEND_OK) but lost after SIGKILL: {lost:?}"
        );
        let committed_after: Vec<i64> = committed_offsets(&mut raw, group, topic);
        assert_eq!(
            committed_after, committed,
            "committed offsets survive the crash"
        );

        let spec = ConsumerSpec {
            member: 1,
            ..ConsumerSpec::new(&namesrv, group, topic)
        };
        let mut consumer = push_consumer(&runtime, &spec, sender).await;
        let mut second = Vec::new();
        let acked_set: BTreeSet<String> = acked.iter().cloned().collect();
        let complete = collect(&receiver, &mut second, Duration::from_secs(30), |seen| {
            let got: BTreeSet<String> = seen.iter().map(|d| d.body.clone()).collect();
            acked_set.is_subset(&got)
        })
        .await;
        assert!(
            complete,
            "the consumer resumed and got every acknowledged message"
        );
        let replayed: Vec<&String> = second
            .iter()
            .map(|d| &d.body)
            .filter(|b| b.starts_with("before-"))
            .collect();
        assert!(
            replayed.is_empty(),
            "resumed from the committed offsets: {replayed:?}"
        );
        consumer.shutdown().await;
        drop(restarted);
        drop(cluster);
    });
}

#[test]
fn view_message_by_id_right_after_send_ok_returns_the_record() {
    // RocketMQ serves a record by offset as soon as the send returned SEND_OK (it is in the
    // page cache). Raw sends, so nothing but the broker's own timing is involved.
    let cluster = Cluster::start("");
    let mut raw = cluster.raw_client();
    for n in 0..200 {
        let body = format!("view-{n}");
        let mut send = request(
            code::SEND_MESSAGE_V2,
            &[
                ("a", "InteropViewProducer"),
                ("b", "InteropView"),
                ("c", "TBW102"),
                ("d", "4"),
                ("e", &(n % QUEUES).to_string()),
                ("f", "0"),
                ("g", "1700000000000"),
                ("h", "0"),
                ("i", "WAIT\u{1}true\u{2}"),
            ],
        );
        send.body = body.clone().into_bytes().into();
        let sent = raw.call(send);
        assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
        let (_, offset) = record::decode_offset_msg_id(sent.ext("msgId").expect("msgId"))
            .expect("offsetMsgId decodes");
        let view = raw.call(request(
            code::VIEW_MESSAGE_BY_ID,
            &[("offset", &offset.to_string())],
        ));
        assert_eq!(
            view.code,
            response_code::SUCCESS,
            "send {n} was acknowledged but its record is not readable yet: {:?}",
            view.remark
        );
        assert_eq!(
            record::decode(&view.body).expect("record").body,
            body.as_bytes()
        );
    }
}

/// `ringmq admin <args> -n <namesrv>` run off the client runtime's threads; (success, stdout,
/// stderr).
async fn admin_off_runtime(namesrv: &str, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    all.extend(["-n".to_owned(), namesrv.to_owned()]);
    tokio::task::spawn_blocking(move || {
        let borrowed: Vec<&str> = all.iter().map(String::as_str).collect();
        let output = support::admin(&borrowed);
        (
            output.status.success(),
            support::stdout(&output),
            support::stderr(&output),
        )
    })
    .await
    .expect("admin thread")
}

/// The #Client IP cell of each row of `topic` in `consumerProgress -s true` output.
fn client_ip_cells(progress: &str, topic: &str) -> Vec<String> {
    progress
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() >= 8 && cells[0] == topic)
        .map(|cells| cells[5].to_owned())
        .collect()
}

// Hazard: `consumerProgress -s true` and `queryMsgById -g -d` need the broker to pass
// GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309) to the consumer client
// on its own connection and the client's answer back under the tool's opaque; without the
// relay every queue shows N/A and no message can be pushed to a client. The client is the
// unmodified rocketmq-client-rust, which answers both codes itself.
#[test]
fn admin_reaches_a_push_consumer_through_the_broker_for_its_queues_and_a_direct_push() {
    let cluster = Cluster::start("");
    let namesrv = cluster.namesrv.clone();
    ClientSide::new().run(|runtime| async move {
        let topic = "InteropAdminRelay";
        let group = "InteropAdminRelayGroup";
        let producer = producer(&runtime, &namesrv, "InteropAdminRelayProducer").await;
        create_topic(&producer, &cluster, topic).await;
        let (sender, receiver) = mpsc::channel();
        let spec = ConsumerSpec::new(&namesrv, group, topic);
        let mut consumer = push_consumer(&runtime, &spec, sender).await;
        let sent = producer
            .send(message(topic, None, "direct-me"))
            .await
            .expect("send")
            .expect("send result");
        let unique_key = sent.msg_id.clone().expect("msgId").to_string();
        let mut seen = Vec::new();
        let delivered = collect(&receiver, &mut seen, Duration::from_secs(30), |seen| {
            bodies_of(seen, topic).contains_key("direct-me")
        })
        .await;
        assert!(delivered, "the consumer never got the message: {seen:?}");

        let (ok, members, errors) =
            admin_off_runtime(&namesrv, &["consumerConnection", "-g", group, "-F", "json"]).await;
        assert!(ok, "consumerConnection: {errors}");
        let members: serde_json::Value = serde_json::from_str(&members).expect("json");
        let client_id = members["connectionSet"][0]["clientId"]
            .as_str()
            .expect("clientId")
            .to_owned();
        let ip = client_id.split('@').next().expect("ip").to_owned();

        // The consumer commits offsets every second; wait until every queue has a row.
        let mut cells = Vec::new();
        for _ in 0..40 {
            let (ok, progress, errors) =
                admin_off_runtime(&namesrv, &["consumerProgress", "-g", group, "-s", "true"]).await;
            cells = if ok {
                client_ip_cells(&progress, topic)
            } else {
                Vec::new()
            };
            if cells.len() == usize::try_from(QUEUES).expect("small") {
                assert!(
                    cells.iter().all(|cell| *cell == ip),
                    "every queue is held by {ip}:\n{progress}\n{errors}"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(cells.len(), 4, "consumerProgress never listed the queues");

        let (ok, pushed, errors) = admin_off_runtime(
            &namesrv,
            &[
                "queryMsgById",
                "-t",
                topic,
                "-i",
                &unique_key,
                "-g",
                group,
                "-d",
                &client_id,
            ],
        )
        .await;
        assert!(ok, "queryMsgById -g -d: {pushed}\n{errors}");
        assert!(
            pushed.starts_with(
                "ConsumeMessageDirectlyResult [order=false, autoCommit=true, \
                 consumeResult=CR_SUCCESS"
            ),
            "{pushed}"
        );
        let again = collect(&receiver, &mut seen, Duration::from_secs(10), |seen| {
            bodies_of(seen, topic).get("direct-me").copied() == Some(2)
        })
        .await;
        assert!(
            again,
            "the direct push did not reach the listener: {seen:?}"
        );

        let (ok, _, errors) = admin_off_runtime(
            &namesrv,
            &[
                "queryMsgById",
                "-t",
                topic,
                "-i",
                &unique_key,
                "-g",
                group,
                "-d",
                "nobody@1",
            ],
        )
        .await;
        assert!(!ok, "a client that is not online must fail the command");
        assert!(
            errors.contains(&format!("The Consumer <{group}> <nobody@1> not online")),
            "{errors}"
        );
        consumer.shutdown().await;
        let mut producer = producer;
        producer.shutdown().await;
    });
}
