//! `ringmq bench produce`: RocketMQ's `producer.sh` workload — `-w` concurrent senders
//! (closed loop: each waits for its answer before sending again), or an open loop at
//! `--rate` messages per second whose latency is measured from each message's intended send
//! time, so a stalled broker cannot hide behind a slowed-down generator.
//!
//! Each connection has a sender thread and a receiver thread; the receiver hands credits back
//! to the sender in closed-loop mode. Report lines follow `producer.sh`; percentiles come from
//! an HDR histogram in microseconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::{batch, properties, request_code, response_code};

use crate::client::{Connection, WriteHalf};
use crate::clock;
use crate::options::{machine, Options};
use crate::route::{resolve, Queue};
use crate::stats::{histogram, percentiles_json, percentiles_line, Counters, Window};

/// Send-response codes meaning "stored" (SEND_OK and the flush/slave variants).
fn stored(code: i32) -> bool {
    matches!(
        code,
        response_code::SUCCESS
            | response_code::FLUSH_DISK_TIMEOUT
            | response_code::FLUSH_SLAVE_TIMEOUT
            | response_code::SLAVE_NOT_AVAILABLE
    )
}

/// What one connection does.
struct Lane {
    broker: String,
    queues: Vec<i32>,
    window: usize,
    rate_per_second: Option<f64>,
    quantity: Option<u64>,
}

struct Shared {
    options: Options,
    counters: Counters,
    stop: AtomicBool,
    issued: AtomicU64,
    body: Vec<u8>,
}

fn build_request(shared: &Shared, queue_id: i32, sequence: u64) -> RemotingCommand {
    let options = &shared.options;
    let mut entries: Vec<(&str, String)> = Vec::new();
    if options.keys {
        entries.push((properties::KEYS, format!("key-{sequence}")));
    }
    if options.tag_count > 0 {
        entries.push((
            properties::TAGS,
            format!("Tag{}", sequence % u64::from(options.tag_count)),
        ));
    }
    entries.push((
        properties::UNIQ_KEY,
        format!("{:016X}{sequence:016X}", std::process::id()),
    ));
    let props = properties::encode(entries.iter().map(|(k, v)| (*k, v.as_str())));
    let code = if options.batch > 1 {
        request_code::SEND_BATCH_MESSAGE
    } else {
        request_code::SEND_MESSAGE_V2
    };
    let mut request = RemotingCommand::request(code);
    for (key, value) in [
        ("a", "benchmark_producer".to_owned()),
        ("b", options.topic.clone()),
        ("c", "TBW102".to_owned()),
        ("d", "4".to_owned()),
        ("e", queue_id.to_string()),
        ("f", "0".to_owned()),
        ("g", clock::wall_ms().to_string()),
        ("h", "0".to_owned()),
        ("i", props.clone()),
    ] {
        request.ext_fields.insert(key.to_owned(), value);
    }
    if options.batch > 1 {
        let mut body = Vec::with_capacity(options.batch * (shared.body.len() + props.len() + 32));
        for _ in 0..options.batch {
            batch::encode_entry(0, &shared.body, &props, &mut body);
        }
        request.body = body.into();
    } else {
        request.body = shared.body.clone().into();
    }
    request
}

fn sender(
    shared: &Shared,
    lane: &Lane,
    mut writer: WriteHalf,
    credits: &mpsc::Receiver<()>,
    pending: &mpsc::Sender<(i32, Instant)>,
) {
    let start = clock::now();
    let mut sent = 0u64;
    loop {
        if shared.stop.load(Ordering::Relaxed) || lane.quantity.is_some_and(|q| sent >= q) {
            return;
        }
        let intended = match lane.rate_per_second {
            Some(rate) => {
                let at = start + Duration::from_secs_f64(sent as f64 / rate);
                clock::wait_until(at);
                at
            }
            None => loop {
                match credits.recv_timeout(Duration::from_millis(100)) {
                    Ok(()) => break clock::now(),
                    Err(mpsc::RecvTimeoutError::Timeout)
                        if !shared.stop.load(Ordering::Relaxed) => {}
                    Err(_) => return,
                }
            },
        };
        let queue = lane.queues[usize::try_from(sent).unwrap_or(0) % lane.queues.len()];
        let sequence = shared.issued.fetch_add(1, Ordering::Relaxed);
        let Ok(opaque) = writer.send(build_request(shared, queue, sequence)) else {
            shared.counters.send_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if pending.send((opaque, intended)).is_err() {
            return;
        }
        sent += 1;
    }
}

fn receiver(
    shared: &Shared,
    mut reader: Connection,
    pending: &mpsc::Receiver<(i32, Instant)>,
    credits: &mpsc::Sender<()>,
) -> Histogram<u64> {
    let mut latencies = histogram();
    let mut started: HashMap<i32, Instant> = HashMap::new();
    let bytes = u64::try_from(shared.body.len() * shared.options.batch).unwrap_or(0);
    loop {
        for (opaque, at) in pending.try_iter() {
            started.insert(opaque, at);
        }
        if started.is_empty() {
            match pending.recv() {
                Ok((opaque, at)) => {
                    started.insert(opaque, at);
                }
                Err(_) => return latencies,
            }
        }
        let Ok(response) = reader.receive() else {
            shared
                .counters
                .response_failed
                .fetch_add(u64::try_from(started.len()).unwrap_or(0), Ordering::Relaxed);
            return latencies;
        };
        for (opaque, at) in pending.try_iter() {
            started.insert(opaque, at);
        }
        let Some(at) = started.remove(&response.opaque) else {
            continue;
        };
        let micros = u64::try_from(clock::now().saturating_duration_since(at).as_micros())
            .unwrap_or(u64::MAX);
        if stored(response.code) {
            shared.counters.record(micros, bytes);
            let _ = latencies.record(micros.max(1));
        } else {
            let failures = shared
                .counters
                .response_failed
                .fetch_add(1, Ordering::Relaxed);
            if failures == 0 {
                eprintln!(
                    "first failed send: code {} {}",
                    response.code,
                    response.remark.as_deref().unwrap_or("")
                );
            }
        }
        let _ = credits.send(());
    }
}

fn lanes(options: &Options, queues: &[Queue]) -> Vec<Lane> {
    let connections = options
        .connections
        .unwrap_or_else(|| options.threads.clamp(1, 4))
        .min(options.threads);
    let mut lanes: Vec<Lane> = (0..connections)
        .map(|index| Lane {
            broker: queues[index % queues.len()].broker.clone(),
            queues: Vec::new(),
            window: options.threads / connections
                + usize::from(index < options.threads % connections),
            rate_per_second: options.rate.map(|rate| rate as f64 / connections as f64),
            quantity: (options.quantity > 0)
                .then(|| options.quantity / u64::try_from(connections).unwrap_or(1)),
        })
        .collect();
    for (index, queue) in queues.iter().enumerate() {
        let candidates: Vec<usize> = (0..lanes.len())
            .filter(|&l| lanes[l].broker == queue.broker)
            .collect();
        let lane = candidates.get(index % candidates.len().max(1)).copied();
        if let Some(lane) = lane {
            lanes[lane].queues.push(queue.queue_id);
        }
    }
    for lane in &mut lanes {
        if lane.queues.is_empty() {
            lane.queues = queues
                .iter()
                .filter(|q| q.broker == lane.broker)
                .map(|q| q.queue_id)
                .collect();
        }
    }
    lanes
}

fn spawn_lane(
    shared: &Arc<Shared>,
    lane: Lane,
) -> Result<std::thread::JoinHandle<Histogram<u64>>, String> {
    let connection = Connection::connect(&lane.broker, Duration::from_secs(5))
        .map_err(|error| format!("broker {} is unreachable: {error}", lane.broker))?;
    let (writer, reader) = connection.split().map_err(|error| error.to_string())?;
    let (credit_sender, credits) = mpsc::channel();
    for _ in 0..lane.window {
        let _ = credit_sender.send(());
    }
    let (pending_sender, pending) = mpsc::channel();
    let shared_sender = Arc::clone(shared);
    std::thread::spawn(move || sender(&shared_sender, &lane, writer, &credits, &pending_sender));
    let shared_receiver = Arc::clone(shared);
    Ok(std::thread::spawn(move || {
        receiver(&shared_receiver, reader, &pending, &credit_sender)
    }))
}

/// Run the producer benchmark; returns the exit code.
pub(crate) fn run(options: &Options) -> Result<serde_json::Value, String> {
    let queues = resolve(&options.namesrvs, &options.topic, options.queues)?;
    let shared = Arc::new(Shared {
        body: vec![b'a'; options.message_bytes],
        counters: Counters::default(),
        stop: AtomicBool::new(false),
        issued: AtomicU64::new(0),
        options: options.clone(),
    });
    let mut threads = Vec::new();
    for lane in lanes(options, &queues) {
        threads.push(spawn_lane(&shared, lane)?);
    }
    let started = clock::now();
    report_until_done(&shared, &threads, started);
    shared.stop.store(true, Ordering::Relaxed);
    let mut merged = histogram();
    for thread in threads {
        if let Ok(latencies) = thread.join() {
            let _ = merged.add(&latencies);
        }
    }
    let elapsed = clock::now()
        .saturating_duration_since(started)
        .as_secs_f64();
    let success = shared.counters.success.load(Ordering::Relaxed);
    let tps = success as f64 * options.batch as f64 / elapsed.max(0.001);
    println!(
        "[Complete] Send Total: {} | Send TPS: {tps:.0} | Max RT(ms): {} | Send Failed: {} | Response Failed: {}",
        success + shared.counters.send_failed.load(Ordering::Relaxed),
        shared.counters.latency_ms_max.load(Ordering::Relaxed),
        shared.counters.send_failed.load(Ordering::Relaxed),
        shared.counters.response_failed.load(Ordering::Relaxed),
    );
    println!("{}", percentiles_line(&merged));
    Ok(serde_json::json!({
        "kind": "produce",
        "config": {"topic": options.topic, "threads": options.threads, "message_bytes": options.message_bytes, "batch": options.batch, "rate": options.rate, "queues": queues.len()},
        "machine": machine(),
        "seconds": elapsed,
        "messages": success * u64::try_from(options.batch).unwrap_or(1),
        "messages_per_second": tps,
        "megabytes_per_second": tps * options.message_bytes as f64 / 1e6,
        "send_failed": shared.counters.send_failed.load(Ordering::Relaxed),
        "response_failed": shared.counters.response_failed.load(Ordering::Relaxed),
        "latency": percentiles_json(&merged),
    }))
}

/// Print a report line every interval until the duration or quantity is reached.
fn report_until_done(
    shared: &Shared,
    threads: &[std::thread::JoinHandle<Histogram<u64>>],
    started: Instant,
) {
    let options = &shared.options;
    let mut window = Window::default();
    let mut next_report = started + options.report_interval;
    let mut tick = started;
    loop {
        tick += Duration::from_secs(1).min(options.report_interval);
        clock::wait_until(tick);
        window.sample(&shared.counters, clock::wall_ms());
        let now = clock::now();
        if now >= next_report {
            next_report += options.report_interval;
            let rates = window.rates();
            println!(
                "Current Time: {} | Send TPS: {} | Max RT(ms): {} | Average RT(ms): {:7.3} | Send Failed: {} | Response Failed: {}",
                clock::human(clock::wall_ms()),
                rates.tps * u64::try_from(options.batch).unwrap_or(1),
                shared.counters.latency_ms_max.load(Ordering::Relaxed),
                rates.average_ms,
                rates.send_failed,
                rates.response_failed,
            );
        }
        let out_of_time = options
            .duration
            .is_some_and(|d| now.saturating_duration_since(started) >= d);
        let finished = threads.iter().all(std::thread::JoinHandle::is_finished);
        if out_of_time || finished {
            return;
        }
    }
}
