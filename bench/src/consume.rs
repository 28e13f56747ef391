//! `ringmq bench consume`: RocketMQ's `consumer.sh` workload with a pull loop per queue —
//! one outstanding long-polling PULL_MESSAGE per queue, many queues per connection — printing
//! `consumer.sh`'s report lines (TPS, born→consume and store→consume latency) plus the
//! consumed bytes per second, which is what a backlog drain is judged by.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::record::{self, Scanned};
use ringmq_protocol::{request_code, response_code};

use crate::client::{request, Connection};
use crate::clock;
use crate::options::Options;
use crate::report::{machine, Outcome};
use crate::route::{resolve, Queue};
use crate::stats::{samples_per_report, Counters, Window};

struct Shared {
    options: Options,
    counters: Counters,
    born_ms_total: AtomicU64,
    born_ms_max: AtomicU64,
    stop: AtomicBool,
    /// The first lane's error.
    failure: std::sync::OnceLock<String>,
}

fn offset_request(code: i32, topic: &str, queue_id: i32) -> RemotingCommand {
    request(
        code,
        &[
            ("topic", topic.to_owned()),
            ("queueId", queue_id.to_string()),
        ],
    )
}

fn pull_request(options: &Options, queue_id: i32, offset: u64) -> RemotingCommand {
    request(
        request_code::PULL_MESSAGE,
        &[
            ("consumerGroup", options.group.clone()),
            ("topic", options.topic.clone()),
            ("queueId", queue_id.to_string()),
            ("queueOffset", offset.to_string()),
            ("maxMsgNums", options.pull_batch.to_string()),
            ("sysFlag", "6".to_owned()),
            ("commitOffset", "0".to_owned()),
            ("suspendTimeoutMillis", "5000".to_owned()),
            ("subscription", options.filter.clone()),
            ("subVersion", "0".to_owned()),
            ("expressionType", options.expression_type.clone()),
        ],
    )
}

/// Count the records of a pull body and their latencies (one update of the shared counters
/// per body, not per record).
fn account(shared: &Shared, body: &[u8]) -> u64 {
    let now = i64::try_from(clock::wall_ms()).unwrap_or(i64::MAX);
    let mut rest = body;
    let (mut count, mut bytes) = (0u64, 0u64);
    let (mut store_total, mut store_max) = (0u64, 0u64);
    let (mut born_total, mut born_max) = (0u64, 0u64);
    while let Ok(Scanned::Record(found)) = record::scan(rest, false) {
        let store_to_consume = u64::try_from(now - found.store_timestamp).unwrap_or(0);
        let born_to_consume = u64::try_from(now - found.born_timestamp).unwrap_or(0);
        store_total += store_to_consume;
        store_max = store_max.max(store_to_consume);
        born_total += born_to_consume;
        born_max = born_max.max(born_to_consume);
        bytes += u64::try_from(found.total_size).unwrap_or(0);
        rest = &rest[found.total_size..];
        count += 1;
    }
    if count > 0 {
        shared
            .counters
            .record_many(count, store_total.saturating_mul(1000), store_max, bytes);
        shared
            .born_ms_total
            .fetch_add(born_total, Ordering::Relaxed);
        shared.born_ms_max.fetch_max(born_max, Ordering::Relaxed);
    }
    count
}

/// The next pull of the queue a response answers (`None` for an unknown opaque), after
/// accounting for the messages it carried.
fn answer(
    shared: &Shared,
    in_flight: &mut HashMap<i32, i32>,
    response: &RemotingCommand,
    body: &[u8],
) -> Option<(i32, u64)> {
    let queue = in_flight.remove(&response.opaque)?;
    let next: u64 = response
        .ext("nextBeginOffset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    match response.code {
        response_code::SUCCESS => {
            account(shared, body);
        }
        response_code::PULL_NOT_FOUND
        | response_code::PULL_RETRY_IMMEDIATELY
        | response_code::PULL_OFFSET_MOVED => {}
        _ => {
            shared
                .counters
                .response_failed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    Some((queue, next))
}

fn lane(shared: &Shared, broker: &str, queues: &[i32]) -> Result<(), String> {
    let options = &shared.options;
    let mut connection = Connection::connect(broker, Duration::from_secs(5))
        .map_err(|e| format!("broker {broker}: {e}"))?;
    // All start offsets first: a `call` would swallow the response of a pull already sent.
    let mut starts = Vec::with_capacity(queues.len());
    for &queue in queues {
        let code = if options.from_start {
            request_code::GET_MIN_OFFSET
        } else {
            request_code::GET_MAX_OFFSET
        };
        let answer = connection
            .call(offset_request(code, &options.topic, queue))
            .map_err(|e| e.to_string())?;
        starts.push((
            queue,
            answer
                .ext("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0),
        ));
    }
    let mut in_flight: HashMap<i32, i32> = HashMap::new();
    for (queue, offset) in starts {
        let opaque = connection.queue(pull_request(options, queue, offset));
        in_flight.insert(opaque, queue);
    }
    connection.flush_queued().map_err(|e| e.to_string())?;
    while !shared.stop.load(Ordering::Relaxed) {
        // Wait for one answer, take every other one already read, and send all their next
        // pulls in one write. Bodies are scanned where they were read, never copied.
        let mut wait = true;
        while let Some(next) = connection
            .receive_in_place(wait, |response, body| {
                answer(shared, &mut in_flight, &response, body)
            })
            .map_err(|e| e.to_string())?
        {
            wait = false;
            if let Some((queue, offset)) = next {
                let opaque = connection.queue(pull_request(options, queue, offset));
                in_flight.insert(opaque, queue);
            }
        }
        connection.flush_queued().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Which queues each lane pulls: every broker's queues spread over up to `connections`
/// lanes of their own, since a lane talks to one broker.
fn lane_plan(queues: &[Queue], connections: usize) -> Vec<(String, Vec<i32>)> {
    let mut by_broker: Vec<(String, Vec<i32>)> = Vec::new();
    for Queue { broker, queue_id } in queues {
        match by_broker.iter_mut().find(|(name, _)| name == broker) {
            Some((_, ids)) => ids.push(*queue_id),
            None => by_broker.push((broker.clone(), vec![*queue_id])),
        }
    }
    let mut plan = Vec::new();
    for (broker, ids) in by_broker {
        let lanes = connections.clamp(1, ids.len());
        let mut split: Vec<Vec<i32>> = vec![Vec::new(); lanes];
        for (index, id) in ids.into_iter().enumerate() {
            split[index % lanes].push(id);
        }
        plan.extend(split.into_iter().map(|ids| (broker.clone(), ids)));
    }
    plan
}

/// Run the consumer benchmark.
pub(crate) fn run(options: &Options) -> Result<Outcome, String> {
    let queues = resolve(&options.namesrvs, &options.topic, options.queues)?;
    let shared = Arc::new(Shared {
        options: options.clone(),
        counters: Counters::default(),
        born_ms_total: AtomicU64::new(0),
        born_ms_max: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failure: std::sync::OnceLock::new(),
    });
    let connections = options.threads.clamp(1, 4).min(queues.len());
    let threads: Vec<_> = lane_plan(&queues, connections)
        .into_iter()
        .map(|(broker, ids)| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                if let Err(error) = lane(&shared, &broker, &ids) {
                    // The first failure ends the run; the command reports it and fails.
                    let _ = shared.failure.set(format!("broker {broker}: {error}"));
                }
            })
        })
        .collect();
    let started = clock::now();
    let summary = report_until_done(&shared, started);
    shared.stop.store(true, Ordering::Relaxed);
    drop(threads);
    if let Some(failure) = shared.failure.get() {
        return Err(format!("consume failed: {failure}"));
    }
    let elapsed = clock::now()
        .saturating_duration_since(started)
        .as_secs_f64();
    let consumed = shared.counters.success.load(Ordering::Relaxed);
    let bytes = shared.counters.bytes.load(Ordering::Relaxed);
    let (tps, megabytes) = (
        consumed as f64 / elapsed.max(0.001),
        bytes as f64 / 1e6 / elapsed.max(0.001),
    );
    let born_ms_average =
        shared.born_ms_total.load(Ordering::Relaxed) as f64 / consumed.max(1) as f64;
    let store_ms_average = shared.counters.latency_us_total.load(Ordering::Relaxed) as f64
        / 1000.0
        / consumed.max(1) as f64;
    println!("[Complete] Consume Total: {consumed} | Consume TPS: {tps:.0} | AVG(B2C) RT(ms): {born_ms_average:7.3} | AVG(S2C) RT(ms): {store_ms_average:7.3} | Consume MB/s: {megabytes:.1}");
    let mut config = options.to_json();
    config["connections"] = connections.into();
    config["queues"] = queues.len().into();
    let report = serde_json::json!({
        "kind": "consume",
        "config": config,
        "machine": machine(),
        "seconds": elapsed,
        "messages": consumed,
        "messages_per_second": tps,
        "megabytes_per_second": megabytes,
        "peak_window_messages_per_second": summary,
        "born_to_consume_ms_average": born_ms_average,
        "store_to_consume_ms_average": store_ms_average,
        "response_failed": shared.counters.response_failed.load(Ordering::Relaxed),
    });
    Ok(Outcome {
        report,
        passed: true,
    })
}

/// How often the report loop checks whether `-q` messages were consumed.
const COMPLETION_POLL: Duration = Duration::from_millis(5);

/// Whether `-q` messages were consumed (or a lane failed, which also ends the run).
fn enough(shared: &Shared) -> bool {
    shared.failure.get().is_some()
        || shared.options.quantity > 0
            && shared.counters.success.load(Ordering::Relaxed) >= shared.options.quantity
}

/// Report every interval; stop at the duration or once `-q` messages were consumed.
fn report_until_done(shared: &Shared, started: std::time::Instant) -> u64 {
    let options = &shared.options;
    let samples = samples_per_report(options.report_interval);
    let mut window = Window::new(&shared.counters, clock::wall_ms(), samples);
    let mut next_report = started + options.report_interval;
    let mut tick = started;
    let mut peak = 0;
    let mut previous_born = (0u64, 0u64);
    loop {
        tick += Duration::from_secs(1).min(options.report_interval);
        // The backlog may be drained well inside a second: look every few milliseconds, so
        // the elapsed time (and the rate) is not rounded up to the next whole second.
        while clock::now() < tick {
            if enough(shared) {
                return peak;
            }
            clock::wait_until((clock::now() + COMPLETION_POLL).min(tick));
        }
        window.sample(&shared.counters, clock::wall_ms());
        let rates = window.rates();
        peak = peak.max(rates.tps);
        let now = clock::now();
        if now >= next_report {
            next_report += options.report_interval;
            let consumed = shared.counters.success.load(Ordering::Relaxed);
            let born_total = shared.born_ms_total.load(Ordering::Relaxed);
            let born_average =
                (born_total - previous_born.1) as f64 / (consumed - previous_born.0).max(1) as f64;
            previous_born = (consumed, born_total);
            println!(
                "Current Time: {} | Consume TPS: {} | AVG(B2C) RT(ms): {born_average:7.3} | AVG(S2C) RT(ms): {:7.3} | MAX(B2C) RT(ms): {} | MAX(S2C) RT(ms): {} | Consume Fail: {} | Consume MB/s: {:.1}",
                clock::human(clock::wall_ms()),
                rates.tps,
                rates.average_ms,
                shared.born_ms_max.swap(0, Ordering::Relaxed),
                shared.counters.latency_ms_max.swap(0, Ordering::Relaxed),
                rates.response_failed,
                { rates.bytes_per_second as f64 / 1e6 },
            );
        }
        let out_of_time = options
            .duration
            .is_some_and(|d| now.saturating_duration_since(started) >= d);
        if out_of_time || enough(shared) {
            return peak;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: a lane connects to one broker; queues of two brokers dealt out by position
    // alone put a queue of broker B on a lane connected to broker A, which then pulls a
    // queue that broker does not have.
    #[test]
    fn every_lane_pulls_only_queues_of_its_own_broker() {
        let queue = |broker: &str, queue_id| Queue {
            broker: broker.to_owned(),
            queue_id,
        };
        let queues = vec![
            queue("a:1", 0),
            queue("b:1", 0),
            queue("a:1", 1),
            queue("b:1", 1),
            queue("a:1", 2),
        ];
        let plan = lane_plan(&queues, 2);
        assert_eq!(
            plan,
            vec![
                ("a:1".to_owned(), vec![0, 2]),
                ("a:1".to_owned(), vec![1]),
                ("b:1".to_owned(), vec![0]),
                ("b:1".to_owned(), vec![1]),
            ]
        );
    }
}
