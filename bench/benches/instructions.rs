//! Instruction counts of the hot paths, for the CI gate (`bench/scripts/instructions.sh`).
//!
//! Scenarios, each on fixed inputs so its count is deterministic:
//! - `frame_{encode,decode}_send_request_{json,binary}`: one SEND_MESSAGE_V2 frame (1 KiB
//!   body, the Java client's header) with either header encoding;
//! - `frame_{encode,decode}_send_response_json`: the matching send response;
//! - `frame_decode_send_response_json_without_ext`: its decode without extFields, as the load
//!   generator reads responses when it does not verify (`HeaderScope::WithoutExtFields`);
//! - `frame_route_send_request_json`: that request's framing checked and its route (code,
//!   topic, queue) read from the front of its header (`frame::send_route`), what a broker
//!   shard does to hand a send to the queue's owner undecoded;
//! - `header_read_send_request`: the send header read from that request's decoded extFields
//!   (`SendMessageRequestHeader::from_request`, what the broker does next);
//! - `record_encode_1KiB`, `record_scan_crc_1KiB`: the commitlog record codec;
//! - `append_sim_sync_64x1KiB`: 64 appends of 1 KiB records (own UNIQ_KEY each, 8 queues) and
//!   the ticks until SYNC_FLUSH makes them visible, on the simulated disk with zero latency and
//!   a manual clock: encode, group commit, completion, consume-queue and index dispatch.
//!
//! Modes:
//! - `--run NAME`: set the scenario up, run it once untimed (files created, caches warm), then
//!   run `ITERATIONS` iterations inside [`measured`], the only function callgrind counts;
//! - `--check FILE` / `--update FILE` (`--max-growth PCT`): run every scenario under
//!   `valgrind --tool=callgrind` with collection toggled on `measured`, divide by the
//!   iterations, and compare with (or rewrite) the baseline;
//! - no mode (`cargo test --all-targets` runs this binary): every scenario once, natively, so
//!   a broken scenario fails the test suite and not only the gate.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use ringmq_bench::instructions::{self, Baseline};
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::io::sim::{SimConfig, SimDisk, SimStorage};
use ringmq_engine::shard::Shard;
use ringmq_engine::types::{ShardId, TimestampMs};
use ringmq_protocol::command::{RemotingCommand, SerializeType};
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};
use ringmq_protocol::header::send::SendMessageRequestHeader;
use ringmq_protocol::record::{self, MessageDraft, Scanned, StoreStamp};
use ringmq_protocol::samples::{send_request, send_response};
use ringmq_protocol::serialize::HeaderScope;

/// Iterations per measurement; the count reported is per iteration.
const ITERATIONS: u64 = 20;
const RECORD_BYTES: usize = 1024;
const BATCH_RECORDS: usize = 64;
const QUEUES: u64 = 8;
const TICKS_PER_BATCH_MAX: usize = 16;

const SCENARIOS: &[&str] = &[
    "frame_encode_send_request_json",
    "frame_decode_send_request_json",
    "frame_encode_send_request_binary",
    "frame_decode_send_request_binary",
    "frame_encode_send_response_json",
    "frame_decode_send_response_json",
    "frame_decode_send_response_json_without_ext",
    "frame_route_send_request_json",
    "header_read_send_request",
    "record_encode_1KiB",
    "record_scan_crc_1KiB",
    "append_sim_sync_64x1KiB",
];

/// The only code callgrind counts (`--toggle-collect`): never inlined, so its symbol exists.
#[inline(never)]
fn measured(iterations: u64, step: &mut dyn FnMut()) {
    for _ in 0..iterations {
        step();
    }
}

fn encode_step(command: RemotingCommand) -> Box<dyn FnMut()> {
    let mut out = Vec::with_capacity(4096);
    Box::new(move || {
        out.clear();
        frame::encode(black_box(&command), &mut out);
        black_box(out.len());
    })
}

fn decode_step(command: &RemotingCommand) -> Box<dyn FnMut()> {
    let mut encoded = Vec::new();
    frame::encode(command, &mut encoded);
    Box::new(move || {
        let decoded = frame::decode(black_box(&encoded), FRAME_BYTES_MAX_DEFAULT);
        assert!(matches!(decoded, Ok(Some(_))), "the frame decodes");
        black_box(decoded.ok());
    })
}

fn decode_without_ext_step(command: &RemotingCommand) -> Box<dyn FnMut()> {
    let mut encoded = Vec::new();
    frame::encode(command, &mut encoded);
    Box::new(move || {
        let decoded = frame::decode_in_place_scoped(
            black_box(&encoded),
            FRAME_BYTES_MAX_DEFAULT,
            HeaderScope::WithoutExtFields,
        );
        assert!(matches!(decoded, Ok(Some(_))), "the frame decodes");
        black_box(decoded.ok());
    })
}

fn route_step(command: &RemotingCommand) -> Box<dyn FnMut()> {
    let mut encoded = Vec::new();
    frame::encode(command, &mut encoded);
    Box::new(move || {
        let raw = frame::split(black_box(&encoded), FRAME_BYTES_MAX_DEFAULT);
        let route = raw.ok().flatten().and_then(|raw| frame::send_route(&raw));
        assert!(route.is_some(), "the frame routes");
        black_box(route);
    })
}

fn header_step() -> Box<dyn FnMut()> {
    let mut encoded = Vec::new();
    frame::encode(&send_request(SerializeType::Json), &mut encoded);
    let command = match frame::decode(&encoded, FRAME_BYTES_MAX_DEFAULT) {
        Ok(Some((command, _))) => command,
        other => panic!("the sample request decodes: {other:?}"),
    };
    Box::new(move || {
        let header = SendMessageRequestHeader::from_request(black_box(&command));
        assert!(header.is_ok(), "the sample header reads");
        black_box(header.ok());
    })
}

/// 1 KiB records with a fixed body and a UNIQ_KEY that changes per record.
struct Records {
    body: Vec<u8>,
    sequence: u64,
}

impl Records {
    fn properties(sequence: u64) -> String {
        format!("UNIQ_KEY\u{1}0A0000050000{sequence:020X}\u{2}WAIT\u{1}true\u{2}")
    }

    fn new() -> Self {
        let mut records = Self {
            body: Vec::new(),
            sequence: 0,
        };
        let properties = Self::properties(0);
        let header = records
            .draft(0, &properties)
            .encoded_len()
            .expect("a small draft encodes");
        records.body = (0..RECORD_BYTES - header)
            .map(|index| b'a' + u8::try_from(index % 26).expect("below 26"))
            .collect();
        records
    }

    fn draft<'a>(&'a self, queue_id: i32, properties: &'a str) -> MessageDraft<'a> {
        MessageDraft {
            topic: "BenchmarkTest",
            queue_id,
            flag: 0,
            body: &self.body,
            properties,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: SocketAddr::from(([10, 0, 0, 5], 50_000)),
            store_host: SocketAddr::from(([127, 0, 0, 1], 10_911)),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// The next record's queue and properties.
    fn next(&mut self) -> (i32, String) {
        self.sequence += 1;
        let queue = i32::try_from(self.sequence % QUEUES).expect("below 8");
        (queue, Self::properties(self.sequence))
    }
}

fn record_step(scan: bool) -> Box<dyn FnMut()> {
    let mut records = Records::new();
    let stamp = StoreStamp {
        queue_offset: 42,
        physical_offset: 1 << 30,
        store_timestamp: 1_700_000_000_123,
    };
    let mut encoded = vec![0u8; RECORD_BYTES];
    let (queue, properties) = records.next();
    let draft = records.draft(queue, &properties);
    draft.encode(stamp, &mut encoded).expect("sized to fit");
    if scan {
        return Box::new(move || {
            let scanned = record::scan(black_box(&encoded), true);
            assert!(
                matches!(scanned, Ok(Scanned::Record(_))),
                "the record scans"
            );
        });
    }
    let properties = properties.clone();
    Box::new(move || {
        let draft = records.draft(queue, &properties);
        draft
            .encode(black_box(stamp), black_box(&mut encoded))
            .expect("sized by encoded_len");
    })
}

/// A SYNC_FLUSH shard on a fresh simulated disk; each step appends one batch and ticks until
/// it is visible.
fn append_step() -> Box<dyn FnMut()> {
    let mut config = EngineConfig::new(Path::new("/sim/bench"));
    config.flush_mode = FlushMode::Sync;
    config.segment_bytes = 64 << 20;
    config.index_hash_slots = 1 << 16;
    config.index_entries_max = 1 << 19;
    // Zero writes ahead of the writer are device work: a syscall per MiB on a real backend,
    // but a 1 MiB copy into the simulated disk here, which would swamp the engine's own count.
    config.zero_fill_ahead_bytes = 0;
    let sim = SimConfig {
        chunk_bytes: 1 << 20,
        chunk_count: 32,
        ..SimConfig::default()
    };
    let clock = ManualClock::new(TimestampMs(1_700_000_000_000));
    let storage = SimStorage::new(SimDisk::new(), sim);
    let (mut shard, _) = Shard::open(
        ShardId(0),
        config,
        Box::new(storage),
        Box::new(clock.clone()),
        &mut |_| {},
    )
    .expect("a shard opens on an empty simulated disk");
    let mut records = Records::new();
    Box::new(move || {
        let mut end = shard.visible();
        for _ in 0..BATCH_RECORDS {
            let (queue, properties) = records.next();
            let outcome = shard
                .append(&records.draft(queue, &properties))
                .expect("append");
            end = outcome.appended.end;
        }
        for _ in 0..TICKS_PER_BATCH_MAX {
            shard.tick().expect("tick");
            if shard.visible() >= end {
                clock.advance(Duration::from_millis(1));
                return;
            }
        }
        panic!("a batch did not become visible within {TICKS_PER_BATCH_MAX} ticks");
    })
}

fn scenario(name: &str) -> Option<Box<dyn FnMut()>> {
    Some(match name {
        "frame_encode_send_request_json" => encode_step(send_request(SerializeType::Json)),
        "frame_decode_send_request_json" => decode_step(&send_request(SerializeType::Json)),
        "frame_encode_send_request_binary" => encode_step(send_request(SerializeType::RocketMq)),
        "frame_decode_send_request_binary" => decode_step(&send_request(SerializeType::RocketMq)),
        "frame_encode_send_response_json" => encode_step(send_response(SerializeType::Json)),
        "frame_decode_send_response_json" => decode_step(&send_response(SerializeType::Json)),
        "frame_decode_send_response_json_without_ext" => {
            decode_without_ext_step(&send_response(SerializeType::Json))
        }
        "frame_route_send_request_json" => route_step(&send_request(SerializeType::Json)),
        "header_read_send_request" => header_step(),
        "record_encode_1KiB" => record_step(false),
        "record_scan_crc_1KiB" => record_step(true),
        "append_sim_sync_64x1KiB" => append_step(),
        _ => return None,
    })
}

/// Run one scenario: setup and one warm-up step untimed, then the counted iterations.
fn run_scenario(name: &str, iterations: u64) -> Result<(), String> {
    let mut step = scenario(name).ok_or_else(|| format!("unknown scenario {name}"))?;
    step();
    measured(iterations, &mut *step);
    Ok(())
}

fn toolchain() -> Option<String> {
    let output = Command::new("rustc").arg("-V").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Instructions per iteration of `name`, counted by callgrind.
fn count(name: &str, scratch: &Path) -> Result<u64, String> {
    let executable = std::env::current_exe().map_err(|error| error.to_string())?;
    let output_file = scratch.join(format!("{name}.callgrind"));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--quiet")
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*measured*")
        .arg(format!("--callgrind-out-file={}", output_file.display()))
        .arg(&executable)
        .args(["--run", name])
        .status()
        .map_err(|error| {
            format!("cannot start valgrind ({error}); scripts/install-deps.sh installs it")
        })?;
    if !status.success() {
        return Err(format!("valgrind --run {name} failed: {status}"));
    }
    let text = std::fs::read_to_string(&output_file)
        .map_err(|error| format!("cannot read {}: {error}", output_file.display()))?;
    let total = instructions::callgrind_total(&text)
        .ok_or_else(|| format!("{} has no totals line", output_file.display()))?;
    if total == 0 {
        return Err(format!(
            "{name}: callgrind counted nothing; is `measured` inlined?"
        ));
    }
    Ok(total / ITERATIONS)
}

struct Arguments {
    mode: String,
    target: Option<String>,
    max_growth_percent: f64,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let mut parsed = Arguments {
        mode: String::new(),
        target: None,
        max_growth_percent: instructions::MAX_GROWTH_PERCENT_DEFAULT,
    };
    let mut iterator = args.iter();
    while let Some(argument) = iterator.next() {
        match argument.as_str() {
            // What `cargo bench` passes; meaningless here.
            "--bench" => {}
            "--run" | "--check" | "--update" => {
                argument.clone_into(&mut parsed.mode);
                parsed.target = Some(iterator.next().ok_or("a value is missing")?.clone());
            }
            "--max-growth" => {
                let value = iterator.next().ok_or("--max-growth needs a percentage")?;
                parsed.max_growth_percent = value
                    .parse()
                    .map_err(|_| format!("--max-growth {value}: expected a number"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn measure_all() -> Result<BTreeMap<String, u64>, String> {
    let scratch = std::env::temp_dir().join(format!("ringmq-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|error| error.to_string())?;
    let mut counts = BTreeMap::new();
    for name in SCENARIOS {
        let result = count(name, &scratch);
        if let Ok(count) = &result {
            println!("{name}: {count} instructions per iteration");
        }
        counts.insert((*name).to_owned(), result?);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(counts)
}

fn gate(path: &PathBuf, max_growth_percent: f64) -> Result<bool, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the baseline {}: {error}", path.display()))?;
    let baseline =
        Baseline::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let rows = instructions::check(&baseline, &measure_all()?, max_growth_percent);
    print!("{}", instructions::table(&rows, max_growth_percent));
    let failed = rows.iter().any(instructions::Row::fails);
    if failed {
        let now = toolchain();
        if baseline.toolchain.is_some() && baseline.toolchain != now {
            println!(
                "note: the baseline was taken with {}, this build uses {}: counts change with the compiler",
                baseline.toolchain.as_deref().unwrap_or("?"),
                now.as_deref().unwrap_or("?")
            );
        }
        println!(
            "FAILED. If the change is intended, refresh the baseline with \
             `bench/scripts/instructions.sh --update` and commit it with the reason."
        );
    }
    Ok(!failed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result =
        parse(&args).and_then(
            |arguments| match (arguments.mode.as_str(), arguments.target) {
                ("--run", Some(name)) => run_scenario(&name, ITERATIONS).map(|()| true),
                ("--check", Some(path)) => gate(&PathBuf::from(path), arguments.max_growth_percent),
                ("--update", Some(path)) => {
                    let baseline = Baseline {
                        toolchain: toolchain(),
                        counts: measure_all()?,
                    };
                    std::fs::write(&path, baseline.render())
                        .map_err(|error| format!("{path}: {error}"))?;
                    println!("wrote {path}");
                    Ok(true)
                }
                _ => SCENARIOS
                    .iter()
                    .try_for_each(|name| run_scenario(name, 1))
                    .map(|()| true),
            },
        );
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("instructions: {message}");
            ExitCode::from(2)
        }
    }
}
