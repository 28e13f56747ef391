//! Append throughput and acknowledgement latency of the storage engine on a real device, and
//! the time to recover a large commitlog after a crash.
//!
//! Append mode is a closed loop, thread-per-core: `--shards S` threads each open their own
//! I/O backend and own one shard plus `appenders / S` logical appenders (the remainder goes to
//! the first shards). An appender has at most one append outstanding: it appends a record,
//! and at the first tick after which `shard.visible()` passes the record's end (durable under
//! SYNC_FLUSH, written under ASYNC_FLUSH) the record is acknowledged and the appender issues
//! the next one. Ack latency runs from just before the append call to the end of that tick
//! and is recorded in an HdrHistogram. Records are RocketMQ messages of exactly `--size`
//! bytes as stored (body sized to fit), each with its own `UNIQ_KEY` as a Java producer sends
//! it, so dispatch to the consume queue and the key index is part of the measured path.
//!
//! Recovery mode (`--recovery-gib G`) appends G GiB of `--size` records, waits for the
//! checkpoint to cover them, and drops the shard without `close` (what a killed process
//! leaves behind: O_DIRECT writes are on the device, nothing more). It then times
//! `Shard::open` three times, each followed by another drop without close: with the fresh
//! checkpoint, with the checkpoint slot torn (CRC fails, so the whole log is scanned and
//! re-dispatched), and with the checkpoint file deleted. `--drop-caches` empties the page
//! cache before each open (root only), since recovery reads the log through it.
//!
//! Run:
//! `cargo run --release -p ringmq-engine --example append_bench -- --appenders 64 --flush sync
//!  --shards 1 --size 1024 --seconds 10 --dir /var/tmp/ringmq-bench`
//! `cargo run --release -p ringmq-engine --example append_bench -- --recovery-gib 1
//!  --size 1024 --drop-caches --dir /var/tmp/ringmq-bench`
//!
//! Every run ends with one line starting with `JSON ` for scripts.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use hdrhistogram::Histogram;
use ringmq_engine::clock::{Clock, SystemClock};
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::constants::COMMIT_BATCH_BYTES_MAX;
use ringmq_engine::error::AppendError;
use ringmq_engine::io::select::{open_backend, BackendChoice};
use ringmq_engine::recovery::RecoveryReport;
use ringmq_engine::shard::{owner_of, Shard, ShardStats};
use ringmq_engine::store::StoreGuard;
use ringmq_engine::types::{QueueId, ShardId};
use ringmq_protocol::record::MessageDraft;

const TOPIC: &str = "BenchmarkTest";
/// Queues of the topic each shard spreads its appenders over.
const QUEUES_PER_SHARD: usize = 8;
/// How long one `Shard::wait` may block for completions.
const WAIT_TIMEOUT: Duration = Duration::from_millis(10);
/// Latencies above this are clamped (the histogram's upper bound), in nanoseconds.
const LATENCY_NS_MAX: u64 = 60_000_000_000;
/// Appends issued per round while building the recovery log (bounded by the buffer pool).
const RECOVERY_APPENDS_PER_ROUND: usize = 4096;
/// Position and length of the counter inside the UNIQ_KEY property (see `Workload::new`).
const UNIQUE_KEY_PREFIX: &str = "UNIQ_KEY\u{1}0A0000050000";
const UNIQUE_KEY_COUNTER_DIGITS: usize = 20;
const PROPERTIES_SUFFIX: &str = "\u{2}WAIT\u{1}true\u{2}";
/// Offset of shard 0's slot in the checkpoint file (see engine/src/checkpoint.rs).
const CHECKPOINT_SLOT_OFFSET: usize = 512;
/// How long a built log may take to become visible and checkpointed.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long appends may be refused as busy before the recovery build gives up.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
struct Options {
    appenders: usize,
    flush: FlushMode,
    shards: u16,
    record_bytes: usize,
    seconds: u64,
    warmup_seconds: u64,
    dir: PathBuf,
    backend: BackendChoice,
    recovery_mib: Option<u64>,
    drop_caches: bool,
    keep: bool,
    /// Overrides `EngineConfig::tail_cache_bytes` (MiB) when set.
    tail_cache_mib: Option<usize>,
    zero_fill_mib: Option<u64>,
}

/// The records one shard appends: fixed topic, body and properties except the key counter.
struct Workload {
    queue_ids: Vec<i32>,
    body: Vec<u8>,
    properties: Vec<u8>,
    counter_at: usize,
    sequence: u64,
    born_host: SocketAddr,
    store_host: SocketAddr,
}

/// An append waiting to become visible.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    end: u64,
    issued: Duration,
    appender: usize,
}

/// What one shard thread measured over its window.
struct ShardResult {
    latencies: Histogram<u64>,
    acknowledged: u64,
    bytes: u64,
    window: Duration,
    stats: ShardStats,
    busy: u64,
    thread_cpu: Duration,
    backend: String,
}

/// Counters sampled at the start and the end of the measured window.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    stats: ShardStats,
    thread_cpu: Duration,
}

fn main() {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("append_bench: {message}\n\n{}", usage());
            std::process::exit(2);
        }
    };
    let outcome = if options.recovery_mib.is_some() {
        run_recovery(&options)
    } else {
        run_append(&options)
    };
    if let Err(message) = outcome {
        eprintln!("append_bench: {message}");
        std::process::exit(1);
    }
}

fn usage() -> &'static str {
    "usage: append_bench --dir PATH [--appenders N] [--flush sync|async] [--shards S] \
     [--size BYTES] [--seconds S] [--warmup S] [--backend auto|uring|fallback] [--tail-cache-mib M] [--zero-fill-mib M] [--keep]\n       \
     append_bench --dir PATH (--recovery-gib G | --recovery-mib M) [--size BYTES] [--drop-caches] [--tail-cache-mib M] [--keep]"
}

fn parse_options(mut arguments: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        appenders: 64,
        flush: FlushMode::Sync,
        shards: 1,
        record_bytes: 1024,
        seconds: 10,
        warmup_seconds: 2,
        dir: PathBuf::new(),
        backend: BackendChoice::Auto,
        recovery_mib: None,
        drop_caches: false,
        keep: false,
        tail_cache_mib: None,
        zero_fill_mib: None,
    };
    while let Some(flag) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--appenders" => options.appenders = number(&flag, &value()?)?,
            "--shards" => options.shards = number(&flag, &value()?)?,
            "--size" => options.record_bytes = number(&flag, &value()?)?,
            "--seconds" => options.seconds = number(&flag, &value()?)?,
            "--warmup" => options.warmup_seconds = number(&flag, &value()?)?,
            "--recovery-gib" => options.recovery_mib = Some(number::<u64>(&flag, &value()?)? << 10),
            "--recovery-mib" => options.recovery_mib = Some(number(&flag, &value()?)?),
            "--dir" => options.dir = PathBuf::from(value()?),
            "--backend" => options.backend = value()?.parse().map_err(|e| format!("{e}"))?,
            "--flush" => {
                options.flush = match value()?.as_str() {
                    "sync" => FlushMode::Sync,
                    "async" => FlushMode::Async,
                    other => return Err(format!("--flush {other}: expected sync or async")),
                }
            }
            "--tail-cache-mib" => options.tail_cache_mib = Some(number(&flag, &value()?)?),
            "--zero-fill-mib" => options.zero_fill_mib = Some(number(&flag, &value()?)?),
            "--drop-caches" => options.drop_caches = true,
            "--keep" => options.keep = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.dir.as_os_str().is_empty() {
        return Err("--dir is required (a directory on the device under test)".to_owned());
    }
    if options.appenders < usize::from(options.shards) || options.shards == 0 {
        return Err("need at least one shard and one appender per shard".to_owned());
    }
    Ok(options)
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value}: expected a non-negative integer"))
}

fn flush_name(flush: FlushMode) -> &'static str {
    match flush {
        FlushMode::Sync => "sync",
        FlushMode::Async => "async",
    }
}

/// A fresh store directory under `--dir`, unique to this process and purpose.
fn store_root(options: &Options, purpose: &str) -> Result<PathBuf, String> {
    let root = options
        .dir
        .join(format!("ringmq-{purpose}-{}", std::process::id()));
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| format!("remove {}: {e}", root.display()))?;
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    Ok(root)
}

fn remove_store(options: &Options, root: &Path) {
    if options.keep {
        println!("kept store at {}", root.display());
    } else if let Err(error) = std::fs::remove_dir_all(root) {
        eprintln!("append_bench: could not remove {}: {error}", root.display());
    }
}

fn engine_config(root: &Path, options: &Options) -> EngineConfig {
    let mut config = EngineConfig::new(root);
    config.flush_mode = options.flush;
    config.shard_count = options.shards;
    if let Some(mib) = options.tail_cache_mib {
        config.tail_cache_bytes = mib << 20;
    }
    if let Some(mib) = options.zero_fill_mib {
        config.zero_fill_ahead_bytes = mib << 20;
    }
    config
}

/// Open shard `id` on the calling thread with its own backend, as a broker's core does.
fn open_shard(
    id: ShardId,
    config: &EngineConfig,
    choice: BackendChoice,
) -> Result<(Shard, RecoveryReport, String), String> {
    let (storage, backend) = open_backend(choice, config.buffer_pool_bytes, COMMIT_BATCH_BYTES_MAX)
        .map_err(|error| format!("open the I/O backend: {error}"))?;
    let mut log = |line: &str| eprintln!("shard {}: {line}", id.0);
    let (shard, report) = Shard::open(
        id,
        config.clone(),
        storage,
        Box::new(SystemClock::new()),
        &mut log,
    )
    .map_err(|error| format!("open shard {}: {error}", id.0))?;
    Ok((shard, report, backend))
}

impl Workload {
    fn new(shard: ShardId, shard_count: u16, record_bytes: usize) -> Result<Self, String> {
        let queue_ids: Vec<i32> = (0..u32::MAX)
            .filter(|queue| owner_of(TOPIC, QueueId(*queue), shard_count) == shard)
            .take(QUEUES_PER_SHARD)
            .map(|queue| i32::try_from(queue).expect("small queue ids"))
            .collect();
        let mut properties = String::from(UNIQUE_KEY_PREFIX);
        let counter_at = properties.len();
        properties.extend(std::iter::repeat_n('0', UNIQUE_KEY_COUNTER_DIGITS));
        properties.push_str(PROPERTIES_SUFFIX);
        let mut workload = Self {
            queue_ids,
            body: Vec::new(),
            properties: properties.into_bytes(),
            counter_at,
            sequence: u64::from(shard.0) << 48,
            born_host: SocketAddr::from(([10, 0, 0, 5], 50_000)),
            store_host: SocketAddr::from(([127, 0, 0, 1], 10_911)),
        };
        let header = workload
            .draft(0, 0)
            .encoded_len()
            .map_err(|error| format!("encode a draft: {error}"))?;
        if record_bytes <= header {
            return Err(format!(
                "--size {record_bytes}: records need more than {header} bytes of headers"
            ));
        }
        workload.body = (0..record_bytes - header)
            .map(|index| b'a' + u8::try_from(index % 26).expect("below 26"))
            .collect();
        Ok(workload)
    }

    fn draft(&self, appender: usize, born_timestamp: i64) -> MessageDraft<'_> {
        MessageDraft {
            topic: TOPIC,
            queue_id: self.queue_ids[appender % self.queue_ids.len()],
            flag: 0,
            body: &self.body,
            properties: std::str::from_utf8(&self.properties).expect("properties are ASCII"),
            sys_flag: 0,
            born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// The next record of `appender`, with a fresh UNIQ_KEY (hex counter written in place).
    fn next(&mut self, appender: usize, born_timestamp: i64) -> MessageDraft<'_> {
        self.sequence += 1;
        let digits =
            &mut self.properties[self.counter_at..self.counter_at + UNIQUE_KEY_COUNTER_DIGITS];
        let mut value = self.sequence;
        for digit in digits.iter_mut().rev() {
            *digit = b"0123456789ABCDEF"[usize::try_from(value % 16).expect("below 16")];
            value /= 16;
        }
        self.draft(appender, born_timestamp)
    }
}

/// User plus system CPU time of the calling thread (`/proc/thread-self/stat`, in ticks).
fn thread_cpu() -> Duration {
    cpu_from_stat("/proc/thread-self/stat")
}

/// User plus system CPU time of the whole process, io_uring workers included.
fn process_cpu() -> Duration {
    cpu_from_stat("/proc/self/stat")
}

fn cpu_from_stat(path: &str) -> Duration {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    let Some((_, after_name)) = text.rsplit_once(')') else {
        return Duration::ZERO;
    };
    // After the command name come state (field 3) … utime (field 14) and stime (field 15).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on every Linux ABI this runs on.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn sample(shard: &Shard, clock: &SystemClock) -> Sample {
    Sample {
        at: clock.monotonic(),
        stats: shard.stats(),
        thread_cpu: thread_cpu(),
    }
}

fn run_append(options: &Options) -> Result<(), String> {
    let root = store_root(options, "append")?;
    let config = engine_config(&root, options);
    let guard = StoreGuard::acquire(&config).map_err(|error| format!("lock the store: {error}"))?;
    let process_cpu_before = process_cpu();
    let barrier = Arc::new(Barrier::new(usize::from(options.shards)));
    let mut threads = Vec::new();
    for index in 0..options.shards {
        let shards = usize::from(options.shards);
        let position = usize::from(index);
        let appenders =
            options.appenders / shards + usize::from(position < options.appenders % shards);
        let (config, options, barrier) = (config.clone(), options.clone(), Arc::clone(&barrier));
        let thread = std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || run_shard(ShardId(index), &config, &options, appenders, &barrier))
            .map_err(|error| format!("spawn a shard thread: {error}"))?;
        threads.push(thread);
    }
    let mut results = Vec::new();
    for thread in threads {
        results.push(
            thread
                .join()
                .map_err(|_| "a shard thread panicked".to_owned())??,
        );
    }
    let process_cpu_used = process_cpu().saturating_sub(process_cpu_before);
    guard
        .close_clean()
        .map_err(|error| format!("release the store: {error}"))?;
    remove_store(options, &root);
    report_append(options, &results, process_cpu_used)
}

fn run_shard(
    id: ShardId,
    config: &EngineConfig,
    options: &Options,
    appenders: usize,
    barrier: &Barrier,
) -> Result<ShardResult, String> {
    let (mut shard, _, backend) = open_shard(id, config, options.backend)?;
    let mut workload = Workload::new(id, options.shards, options.record_bytes)?;
    barrier.wait();
    let clock = SystemClock::new();
    let warmup_end = clock.monotonic() + Duration::from_secs(options.warmup_seconds);
    let window_end = warmup_end + Duration::from_secs(options.seconds);
    let mut idle: Vec<usize> = (0..appenders).rev().collect();
    let mut outstanding = VecDeque::with_capacity(appenders);
    let mut latencies = Histogram::<u64>::new_with_bounds(1, LATENCY_NS_MAX, 3)
        .map_err(|error| format!("histogram: {error}"))?;
    let mut first: Option<Sample> = None;
    let (mut acknowledged, mut busy) = (0u64, 0u64);
    loop {
        let now = clock.monotonic();
        if first.is_none() && now >= warmup_end {
            first = Some(sample(&shard, &clock));
        }
        if now >= window_end {
            break;
        }
        busy += issue(
            &mut shard,
            &mut workload,
            &clock,
            &mut idle,
            &mut outstanding,
        )?;
        shard
            .wait(WAIT_TIMEOUT)
            .map_err(|error| format!("shard tick: {error}"))?;
        let acked_at = clock.monotonic();
        let visible = shard.visible().0;
        while let Some(record) = outstanding.front().copied().filter(|o| o.end <= visible) {
            outstanding.pop_front();
            idle.push(record.appender);
            if first.is_some() {
                acknowledged += 1;
                let nanos = u64::try_from(acked_at.saturating_sub(record.issued).as_nanos())
                    .unwrap_or(u64::MAX);
                latencies.saturating_record(nanos.clamp(1, LATENCY_NS_MAX));
            }
        }
        if let Some(latch) = shard.latch() {
            return Err(format!("the commitlog latched read-only: {latch}"));
        }
    }
    let last = sample(&shard, &clock);
    let first = first.unwrap_or(last);
    drain_and_close(shard, &mut outstanding)?;
    let stats = difference(&last.stats, &first.stats);
    Ok(ShardResult {
        latencies,
        acknowledged,
        bytes: acknowledged * u64::try_from(options.record_bytes).expect("fits"),
        window: last.at.saturating_sub(first.at),
        stats,
        busy,
        thread_cpu: last.thread_cpu.saturating_sub(first.thread_cpu),
        backend,
    })
}

/// Let every idle appender append its next record; returns how many were refused as busy.
fn issue(
    shard: &mut Shard,
    workload: &mut Workload,
    clock: &SystemClock,
    idle: &mut Vec<usize>,
    outstanding: &mut VecDeque<Outstanding>,
) -> Result<u64, String> {
    while let Some(&appender) = idle.last() {
        let issued = clock.monotonic();
        let born = clock.wall().as_i64();
        match shard.append(&workload.next(appender, born)) {
            Ok(outcome) => {
                idle.pop();
                outstanding.push_back(Outstanding {
                    end: outcome.appended.end.0,
                    issued,
                    appender,
                });
            }
            Err(AppendError::Busy) => return Ok(1),
            Err(error) => return Err(format!("append: {error}")),
        }
    }
    Ok(0)
}

fn drain_and_close(
    mut shard: Shard,
    outstanding: &mut VecDeque<Outstanding>,
) -> Result<(), String> {
    let end = outstanding.back().map_or(0, |record| record.end);
    for _ in 0..30_000 {
        if shard.visible().0 >= end {
            outstanding.clear();
            return shard
                .close()
                .map_err(|error| format!("close the shard: {error}"));
        }
        shard
            .wait(WAIT_TIMEOUT)
            .map_err(|error| format!("shard tick: {error}"))?;
    }
    Err("outstanding appends did not become visible within 5 minutes".to_owned())
}

fn difference(last: &ShardStats, first: &ShardStats) -> ShardStats {
    let mut stats = *last;
    stats.commitlog.records_appended -= first.commitlog.records_appended;
    stats.commitlog.bytes_appended -= first.commitlog.bytes_appended;
    stats.commitlog.chains_submitted -= first.commitlog.chains_submitted;
    stats.commitlog.fdatasyncs -= first.commitlog.fdatasyncs;
    stats.commitlog.busy_rejections -= first.commitlog.busy_rejections;
    stats.records_dispatched -= first.records_dispatched;
    stats.checkpoints -= first.checkpoints;
    stats
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counters far below 2^52; report only"
)]
fn per_second(count: u64, window: Duration) -> f64 {
    let seconds = window.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counters far below 2^52; report only"
)]
fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "latencies far below 2^52 ns; report only"
)]
fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

fn report_append(
    options: &Options,
    results: &[ShardResult],
    process_cpu_used: Duration,
) -> Result<(), String> {
    let mut latencies = Histogram::<u64>::new_with_bounds(1, LATENCY_NS_MAX, 3)
        .map_err(|error| format!("histogram: {error}"))?;
    let (mut messages, mut bytes, mut fsyncs_per_second) = (0.0, 0.0, 0.0);
    let (mut acknowledged, mut fsyncs, mut chains, mut busy) = (0u64, 0u64, 0u64, 0u64);
    let mut thread_cpu = 0.0;
    let mut window = Duration::ZERO;
    for result in results {
        latencies
            .add(&result.latencies)
            .map_err(|error| format!("merge histograms: {error}"))?;
        messages += per_second(result.acknowledged, result.window);
        bytes += per_second(result.bytes, result.window);
        fsyncs_per_second += per_second(result.stats.commitlog.fdatasyncs, result.window);
        acknowledged += result.acknowledged;
        fsyncs += result.stats.commitlog.fdatasyncs;
        chains += result.stats.commitlog.chains_submitted;
        busy += result.busy + result.stats.commitlog.busy_rejections;
        thread_cpu += ratio(
            u64::try_from(result.thread_cpu.as_millis()).unwrap_or(0),
            u64::try_from(result.window.as_millis()).unwrap_or(0),
        );
        window = window.max(result.window);
    }
    let process_cpu = ratio(
        u64::try_from(process_cpu_used.as_millis()).unwrap_or(0),
        u64::try_from(window.as_millis()).unwrap_or(0),
    );
    let quantile = |q: f64| micros(latencies.value_at_quantile(q));
    let (p50, p99, p999, max) = (
        quantile(0.5),
        quantile(0.99),
        quantile(0.999),
        micros(latencies.max()),
    );
    let backend = results.first().map_or("?", |r| r.backend.as_str());
    println!(
        "append_bench flush={} shards={} appenders={} record={} B window={:.1} s",
        flush_name(options.flush),
        options.shards,
        options.appenders,
        options.record_bytes,
        window.as_secs_f64()
    );
    println!("  {backend}");
    println!(
        "  throughput   {messages:.0} msg/s, {:.2} MB/s (10^6 B of stored records)",
        bytes / 1e6
    );
    println!("  ack latency  p50 {p50:.0} us, p99 {p99:.0} us, p99.9 {p999:.0} us, max {max:.0} us ({} acks)", latencies.len());
    println!("  commit       {fsyncs_per_second:.0} fdatasync/s, {:.1} records per fdatasync, {:.1} records per chain, {busy} busy", ratio(acknowledged, fsyncs), ratio(acknowledged, chains));
    println!("  cpu          shard threads {:.0}% of a core (summed), process {:.0}% (incl. io-wq workers)", thread_cpu * 100.0, process_cpu * 100.0);
    let mut json = String::new();
    write!(
        json,
        "{{\"bench\":\"append\",\"flush\":\"{}\",\"shards\":{},\"appenders\":{},\"record_bytes\":{},\"window_s\":{:.3},\"msgs_per_s\":{messages:.1},\"mb_per_s\":{:.3},\"p50_us\":{p50:.1},\"p99_us\":{p99:.1},\"p999_us\":{p999:.1},\"max_us\":{max:.1},\"fdatasyncs_per_s\":{fsyncs_per_second:.1},\"records_per_fdatasync\":{:.2},\"records_per_chain\":{:.2},\"busy\":{busy},\"shard_cpu\":{thread_cpu:.3},\"process_cpu\":{process_cpu:.3}}}",
        flush_name(options.flush),
        options.shards,
        options.appenders,
        options.record_bytes,
        window.as_secs_f64(),
        bytes / 1e6,
        ratio(acknowledged, fsyncs),
        ratio(acknowledged, chains),
    )
    .map_err(|error| error.to_string())?;
    println!("JSON {json}");
    Ok(())
}

fn run_recovery(options: &Options) -> Result<(), String> {
    let mib = options.recovery_mib.expect("recovery mode");
    let root = store_root(options, "recovery")?;
    let mut options = options.clone();
    options.shards = 1;
    options.flush = FlushMode::Async;
    let config = engine_config(&root, &options);
    let built = build_log(&config, &options, mib << 20)?;
    println!(
        "recovery_bench built {:.2} GiB ({} records of {} B) in {:.1} s",
        ratio(built.bytes, 1 << 30),
        built.records,
        options.record_bytes,
        built.elapsed.as_secs_f64()
    );
    let mut lines = Vec::new();
    for case in ["fresh_checkpoint", "torn_checkpoint", "deleted_checkpoint"] {
        match case {
            "torn_checkpoint" => tear_checkpoint(&config.paths.checkpoint)?,
            "deleted_checkpoint" => std::fs::remove_file(&config.paths.checkpoint)
                .map_err(|error| format!("delete the checkpoint: {error}"))?,
            _ => {}
        }
        let cache = if options.drop_caches {
            drop_page_cache()
        } else {
            "warm"
        };
        let (report, open_time) = timed_open(&config, options.backend)?;
        let intact = report.valid_end == built.end;
        println!(
            "  {case:<19} open {:.3} s (recovery {:.3} s), scanned {:.1} MiB, re-dispatched {} records, log end intact: {intact}, page cache {cache}",
            open_time.as_secs_f64(),
            report.elapsed.as_secs_f64(),
            ratio(report.bytes_scanned, 1 << 20),
            report.records_redispatched,
        );
        lines.push(format!(
            "{{\"case\":\"{case}\",\"open_s\":{:.4},\"recovery_s\":{:.4},\"bytes_scanned\":{},\"records_redispatched\":{},\"intact\":{intact},\"page_cache\":\"{cache}\"}}",
            open_time.as_secs_f64(),
            report.elapsed.as_secs_f64(),
            report.bytes_scanned,
            report.records_redispatched,
        ));
        if !intact {
            return Err(format!(
                "recovery lost data: valid end {} but {} was acknowledged ({report:?})",
                report.valid_end, built.end
            ));
        }
    }
    remove_store(&options, &root);
    println!(
        "JSON {{\"bench\":\"recovery\",\"log_bytes\":{},\"records\":{},\"record_bytes\":{},\"cases\":[{}]}}",
        built.bytes,
        built.records,
        options.record_bytes,
        lines.join(",")
    );
    Ok(())
}

/// A log built for the recovery benchmark.
struct BuiltLog {
    bytes: u64,
    records: u64,
    end: u64,
    elapsed: Duration,
}

/// Append `target` bytes, wait until they are written and covered by a checkpoint, then drop
/// the shard and the store guard without closing either: a crashed process.
fn build_log(config: &EngineConfig, options: &Options, target: u64) -> Result<BuiltLog, String> {
    let guard = StoreGuard::acquire(config).map_err(|error| format!("lock the store: {error}"))?;
    let (mut shard, _, _) = open_shard(ShardId(0), config, options.backend)?;
    let mut workload = Workload::new(ShardId(0), 1, options.record_bytes)?;
    let clock = SystemClock::new();
    let started = clock.monotonic();
    let records = fill(&mut shard, &mut workload, &clock, target)?;
    let end = shard.appended().local();
    let settle_deadline = clock.monotonic() + SETTLE_TIMEOUT;
    while shard.visible().local() < end || shard.checkpointed().queues_dispatched < end {
        shard
            .wait(WAIT_TIMEOUT)
            .map_err(|error| format!("shard tick: {error}"))?;
        if let Some(latch) = shard.latch() {
            return Err(format!("the commitlog latched read-only: {latch}"));
        }
        if clock.monotonic() > settle_deadline {
            return Err(format!(
                "the log did not settle within {SETTLE_TIMEOUT:?}: appended end {end}, visible {}, \
                 durable {}, checkpoint {:?}, checkpoint failure {:?}, {:?}",
                shard.visible().local(),
                shard.durable().local(),
                shard.checkpointed(),
                shard.checkpoint_failure(),
                shard.stats()
            ));
        }
    }
    let elapsed = clock.monotonic().saturating_sub(started);
    let bytes = shard.stats().commitlog.bytes_appended;
    drop(shard);
    drop(guard);
    Ok(BuiltLog {
        bytes,
        records,
        end,
        elapsed,
    })
}

/// Append records until the log reaches `target` bytes; fails when appends stay refused.
fn fill(
    shard: &mut Shard,
    workload: &mut Workload,
    clock: &SystemClock,
    target: u64,
) -> Result<u64, String> {
    let mut records = 0u64;
    let mut progress = (shard.appended().local(), clock.monotonic());
    while shard.appended().local() < target {
        for appender in 0..RECOVERY_APPENDS_PER_ROUND {
            match shard.append(&workload.next(appender, clock.wall().as_i64())) {
                Ok(_) => records += 1,
                Err(AppendError::Busy) => break,
                Err(error) => return Err(format!("append: {error}")),
            }
        }
        shard
            .wait(WAIT_TIMEOUT)
            .map_err(|error| format!("shard tick: {error}"))?;
        let now = clock.monotonic();
        if shard.appended().local() != progress.0 {
            progress = (shard.appended().local(), now);
        } else if now.saturating_sub(progress.1) > STALL_TIMEOUT {
            return Err(format!(
                "appends were refused as busy for {STALL_TIMEOUT:?} with the log at {} \
                 (visible {}, tail cache {} MiB, buffer pool {} MiB): {:?}",
                progress.0,
                shard.visible().local(),
                shard.config().tail_cache_bytes >> 20,
                shard.config().buffer_pool_bytes >> 20,
                shard.stats()
            ));
        }
    }
    Ok(records)
}

/// Open the store after a crash and crash again right away; returns recovery's report and
/// the wall time of `Shard::open`.
fn timed_open(
    config: &EngineConfig,
    choice: BackendChoice,
) -> Result<(RecoveryReport, Duration), String> {
    let guard = StoreGuard::acquire(config).map_err(|error| format!("lock the store: {error}"))?;
    let clock = SystemClock::new();
    let started = clock.monotonic();
    let (shard, report, _) = open_shard(ShardId(0), config, choice)?;
    let elapsed = clock.monotonic().saturating_sub(started);
    drop(shard);
    drop(guard);
    Ok((report, elapsed))
}

/// Flip a byte of shard 0's checkpoint slot so its CRC fails, as a torn sector would.
fn tear_checkpoint(path: &Path) -> Result<(), String> {
    let mut bytes = std::fs::read(path).map_err(|error| format!("read the checkpoint: {error}"))?;
    let at = CHECKPOINT_SLOT_OFFSET + 20;
    let byte = bytes
        .get_mut(at)
        .ok_or("the checkpoint file has no slot for shard 0")?;
    *byte ^= 0xFF;
    std::fs::write(path, &bytes).map_err(|error| format!("write the checkpoint: {error}"))
}

/// Write back dirty pages and drop the page cache, so recovery reads from the device.
fn drop_page_cache() -> &'static str {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|status| status.success());
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok();
    if synced && dropped {
        "dropped"
    } else {
        eprintln!(
            "append_bench: could not drop the page cache (needs root); recovery reads may hit it"
        );
        "warm"
    }
}
