//! Commands that send messages: `sendMessage` (one message, `SendMessageCommand`) and
//! `clusterRT` (round-trip time of probe messages to every broker, `CLusterSendMsgRTCommand`).
//!
//! `sendMessage` sends to a queue of the topic's route chosen by the clock, or to `-b -i`; a
//! topic the name server does not know is sent along TBW102's route so the broker creates it,
//! as RocketMQ's producer does. `clusterRT` sends to the topic named after each broker on that
//! broker's master, which brokers create at start (writable with `brokerTopicEnable`, the
//! default), so it works with `autoCreateTopicEnable=false`. RocketMQ repeats clusterRT every
//! `-i` seconds forever; ringmq's `--count K` stops after K rounds.

use std::time::Duration;

use ringmq_protocol::body::route::{TopicRouteData, MASTER_ID};
use serde_json::json;

use super::{cluster_info, long_only, named_broker, topic_route, valued, Command};
use crate::admin::client::{AdminError, Session};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;
use crate::admin::produce::{self, Outgoing, Receipt, DEFAULT_TOPIC};
use crate::admin::trace;

/// PermName write bit.
const PERM_WRITE: i32 = 2;
/// Queues of a topic the broker creates on first send (`defaultTopicQueueNums`).
const AUTO_CREATED_QUEUES: i32 = 4;

pub(super) const SEND: Command = Command {
    name: "sendMessage",
    description: "Send a message.",
    options: &[
        valued("t", "topic", true, "Topic name"),
        valued("p", "body", true, "UTF-8 string format of the message body"),
        valued("k", "key", false, "Message keys"),
        valued("c", "tags", false, "Message tags"),
        valued("b", "broker", false, "Send message to target broker"),
        valued("i", "qid", false, "Send message to target queue"),
        valued(
            "m",
            "msgTraceEnable",
            false,
            "Message Trace Enable, Default: false",
        ),
    ],
    run: send,
};

pub(super) const CLUSTER_RT: Command = Command {
    name: "clusterRT",
    description: "List All clusters Message Send RT.",
    options: &[
        valued("a", "amount", false, "message amount | default 100"),
        valued("s", "size", false, "message size | default 128 Byte"),
        valued(
            "c",
            "cluster",
            false,
            "cluster name | default display all cluster",
        ),
        valued("p", "print log", false, "print as tlog | default false"),
        valued(
            "m",
            "machine room",
            false,
            "machine room name | default noname",
        ),
        valued(
            "i",
            "interval",
            false,
            "print interval | default 10 seconds",
        ),
        long_only(
            "count",
            "ringmq: stop after this many rounds (default: repeat until interrupted)",
        ),
    ],
    run: cluster_rt,
};

/// The queue a message goes to.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) broker_name: String,
    pub(crate) address: String,
    pub(crate) queue_id: i32,
}

/// Every writable queue of a route, in broker order; a route borrowed from TBW102 offers only
/// the queues the broker will create.
fn writable_queues(route: &TopicRouteData, borrowed: bool) -> Vec<(String, i32)> {
    let mut queues = Vec::new();
    for queue in &route.queue_datas {
        if queue.perm & PERM_WRITE == 0 {
            continue;
        }
        let count = if borrowed {
            queue.write_queue_nums.min(AUTO_CREATED_QUEUES)
        } else {
            queue.write_queue_nums
        };
        queues.extend((0..count).map(|id| (queue.broker_name.clone(), id)));
    }
    queues
}

/// The route a producer sends `topic` along: the topic's own, else TBW102's, whose broker
/// then creates the topic; and whether it is TBW102's.
fn send_route(namesrv: &[String], topic: &str) -> Result<(TopicRouteData, bool), AdminError> {
    match topic_route(namesrv, topic) {
        Ok(route) => Ok((route, false)),
        Err(AdminError::TopicNotExist(_)) => match topic_route(namesrv, DEFAULT_TOPIC) {
            Ok(route) => Ok((route, true)),
            Err(AdminError::TopicNotExist(_)) => Err(AdminError::TopicNotExist(topic.to_owned())),
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    }
}

/// A writable queue of `topic` picked by the clock, as a producer spreads its sends.
pub(crate) fn any_queue(namesrv: &[String], topic: &str) -> Result<Target, AdminError> {
    let (route, borrowed) = send_route(namesrv, topic)?;
    let queues = writable_queues(&route, borrowed);
    if queues.is_empty() {
        return Err(AdminError::NoBroker(format!(
            "a writable queue of topic [{topic}] (wipeWritePerm or perm 4?)"
        )));
    }
    let pick = usize::try_from(clock::now_ms()).unwrap_or(0) % queues.len();
    let (broker_name, queue_id) = queues[pick].clone();
    Ok(Target {
        address: named_broker(&route, topic, &broker_name)?,
        broker_name,
        queue_id,
    })
}

fn target(invocation: &Invocation, topic: &str) -> Result<Target, AdminError> {
    let namesrv = invocation.namesrv()?;
    let Some(queue) = invocation.value("qid") else {
        return any_queue(&namesrv, topic);
    };
    let (route, _) = send_route(&namesrv, topic)?;
    let Some(broker_name) = invocation.value("broker") else {
        return Err(AdminError::Usage(
            "Broker name must be set if the queue is chosen!".to_owned(),
        ));
    };
    let queue_id = queue
        .trim()
        .parse()
        .map_err(|_| AdminError::Usage(format!("--qid takes a number, not '{queue}'")))?;
    Ok(Target {
        address: named_broker(&route, topic, broker_name)?,
        broker_name: broker_name.to_owned(),
        queue_id,
    })
}

fn send(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?.trim();
    let body = invocation.required("body")?.trim();
    let target = target(invocation, topic)?;
    let group = clock::now_ms().to_string();
    let mut session = Session::open("broker", &target.address)?;
    let (tags, keys) = (
        invocation.value("tags").map(str::trim),
        invocation.value("key").map(str::trim),
    );
    let started_ms = clock::now_ms();
    let receipt = produce::send(
        &mut session,
        &Outgoing {
            producer_group: &group,
            topic,
            broker_name: &target.broker_name,
            queue_id: target.queue_id,
            tags,
            keys,
            body: body.as_bytes(),
            stored: None,
        },
    )?;
    if invocation.boolean("msgTraceEnable", false) {
        let traced = trace::TracedSend {
            producer_group: &group,
            topic,
            tags,
            keys,
            body_len: body.len(),
            broker_address: &target.address,
            started_ms,
            receipt: &receipt,
        };
        if let Err(error) = trace::record(&invocation.namesrv()?, &traced) {
            eprintln!("sendMessage: the message was sent, its trace record was not: {error}");
        }
    }
    match format {
        Format::Text => {
            let line = |cells: [&str; 4]| {
                println!(
                    "{:<32}  {:<4}  {:<20}    {}",
                    cells[0], cells[1], cells[2], cells[3]
                );
            };
            line(["#Broker Name", "#QID", "#Send Result", "#MsgId"]);
            let queue_id = receipt.queue_id.to_string();
            line([
                &target.broker_name,
                &queue_id,
                receipt.status,
                &receipt.msg_id,
            ]);
        }
        Format::Json => json::print(&json!({
            "brokerName": target.broker_name,
            "queueId": receipt.queue_id,
            "sendStatus": receipt.status,
            "msgId": receipt.msg_id,
            "offsetMsgId": receipt.offset_msg_id,
            "queueOffset": receipt.queue_offset,
        })),
    }
    Ok(())
}

/// One clusterRT row.
#[derive(Debug)]
struct Probe {
    cluster: String,
    broker_name: String,
    rt_ms: f64,
    successes: u64,
    failures: u64,
}

/// Send `amount` messages of `size` bytes to the master of `broker_name`, timing each.
fn probe(
    cluster: &str,
    broker_name: &str,
    master: Option<&str>,
    amount: u64,
    size: usize,
) -> Probe {
    let mut row = Probe {
        cluster: cluster.to_owned(),
        broker_name: broker_name.to_owned(),
        rt_ms: 0.0,
        successes: 0,
        failures: 0,
    };
    let session = master
        .ok_or_else(|| AdminError::NoBroker(format!("a master of broker [{broker_name}]")))
        .and_then(|address| Session::open("broker", address));
    let mut session = match session {
        Ok(session) => session,
        Err(error) => {
            eprintln!("clusterRT: {error}");
            row.failures = amount;
            return row;
        }
    };
    let body = vec![b'a'; size];
    let group = clock::now_ms().to_string();
    let outgoing = Outgoing {
        producer_group: &group,
        topic: broker_name,
        broker_name,
        queue_id: -1,
        tags: None,
        keys: None,
        body: &body,
        stored: None,
    };
    let mut elapsed = Duration::ZERO;
    let mut reported = false;
    for index in 0..amount {
        let start = clock::monotonic();
        let sent: Result<Receipt, AdminError> = produce::send(&mut session, &outgoing);
        // The first send pays for warming the connection; RocketMQ leaves it out too.
        if index > 0 {
            elapsed += start.elapsed();
        }
        match sent {
            Ok(_) => row.successes += 1,
            Err(error) => {
                row.failures += 1;
                if !reported {
                    eprintln!("clusterRT: {error}");
                    reported = true;
                }
            }
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a probe count for an average")]
    let timed = amount.saturating_sub(1).max(1) as f64;
    row.rt_ms = elapsed.as_secs_f64() * 1000.0 / timed;
    row
}

fn cluster_rt(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let amount: u64 = invocation.number("amount", 100)?;
    let size: usize = invocation.number("size", 128)?;
    let interval: u64 = invocation.number("interval", 10)?;
    let rounds: Option<u64> = invocation
        .value("count")
        .map(|_| invocation.number("count", 1))
        .transpose()?;
    let as_log = invocation.boolean("print log", false);
    let room = invocation.value("machine room").unwrap_or("noname").trim();
    let namesrv = invocation.namesrv()?;
    let info = cluster_info(&namesrv)?;
    let clusters: Vec<String> = match invocation.value("cluster") {
        Some(cluster) => vec![cluster.trim().to_owned()],
        None => info.cluster_addr_table.keys().cloned().collect(),
    };
    if format == Format::Text && !as_log {
        println!(
            "{:<24}  {:<24}  {:<4}  {:<8}  {:<8}",
            "#Cluster Name", "#Broker Name", "#RT", "#successCount", "#failCount"
        );
    }
    let mut round = 0_u64;
    while rounds.is_none_or(|rounds| round < rounds) {
        if round > 0 {
            clock::pause(Duration::from_secs(interval));
        }
        let mut probes = Vec::new();
        for cluster in &clusters {
            let Some(names) = info.cluster_addr_table.get(cluster) else {
                return Err(AdminError::NoBroker(format!(
                    "cluster [{cluster}] (cluster [{cluster}] not exist)"
                )));
            };
            for name in names {
                let master = info
                    .broker_addr_table
                    .get(name)
                    .and_then(|data| data.broker_addrs.get(&MASTER_ID))
                    .map(String::as_str);
                probes.push(probe(cluster, name, master, amount, size));
            }
        }
        print_probes(&probes, format, as_log, room);
        round += 1;
    }
    Ok(())
}

fn print_probes(probes: &[Probe], format: Format, as_log: bool, room: &str) {
    match format {
        Format::Text if as_log => {
            let now = clock::gmt8_seconds_text(clock::now_ms());
            for probe in probes {
                println!(
                    "{now}|{room}|{}|{}|{:.0}",
                    probe.cluster,
                    probe.broker_name,
                    probe.rt_ms.round()
                );
            }
        }
        Format::Text => {
            for probe in probes {
                println!(
                    "{:<24}  {:<24}  {:<8}  {:<16}  {:<16}",
                    probe.cluster,
                    probe.broker_name,
                    format!("{:.2}", probe.rt_ms),
                    probe.successes,
                    probe.failures
                );
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = probes
                .iter()
                .map(|probe| {
                    json!({
                        "cluster": probe.cluster,
                        "brokerName": probe.broker_name,
                        "rtMs": probe.rt_ms,
                        "successCount": probe.successes,
                        "failCount": probe.failures,
                    })
                })
                .collect();
            json::print(&json!({ "brokers": rows }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_protocol::body::route::QueueData;

    #[test]
    fn only_writable_queues_are_offered_and_a_borrowed_route_is_capped() {
        let queue = |broker: &str, perm, count| QueueData {
            broker_name: broker.to_owned(),
            perm,
            read_queue_nums: count,
            write_queue_nums: count,
            topic_sys_flag: 0,
        };
        let route = TopicRouteData {
            queue_datas: vec![queue("a", 6, 8), queue("b", 4, 8)],
            ..TopicRouteData::default()
        };
        assert_eq!(writable_queues(&route, false).len(), 8);
        let borrowed = writable_queues(&route, true);
        assert_eq!(borrowed.len(), 4);
        assert!(borrowed.iter().all(|(broker, _)| broker == "a"));
    }
}
