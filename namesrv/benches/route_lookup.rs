//! Goal: how many GET_ROUTEINFO_BY_TOPIC lookups per second one name server thread answers for
//! 64 concurrent clients, and at what latency.
//! Method: start the server in-process on 127.0.0.1:0, register one master and one slave
//! serving 100 topics, then run 64 client threads, each with its own TCP connection, sending one
//! route request at a time (closed loop, like real clients) over a fixed window; a second pass
//! keeps 8 requests in flight per client to find the server's ceiling. Prints totals and
//! per-request latency percentiles.
//! `cargo bench -p ringmq-namesrv --bench route_lookup` runs 5 s per pass; without `--bench`
//! (as `cargo test --all-targets` runs it) it does a short smoke pass.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringmq_namesrv::clock::SystemClock;
use ringmq_namesrv::{start, NamesrvConfig};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame;
use ringmq_protocol::request_code;

const CLIENTS: usize = 64;
const TOPICS: usize = 100;

struct Pass {
    clients: usize,
    in_flight: usize,
    window: Duration,
}

fn register_body() -> Vec<u8> {
    let topics: Vec<String> = (0..TOPICS)
        .map(|i| {
            format!(
                "\"Topic{i}\":{{\"perm\":6,\"readQueueNums\":8,\"topicName\":\"Topic{i}\",\
                 \"topicSysFlag\":0,\"writeQueueNums\":8}}"
            )
        })
        .collect();
    format!(
        "{{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{{\"dataVersion\":\
         {{\"counter\":1,\"stateVersion\":0,\"timestamp\":1}},\"topicConfigTable\":{{{}}}}}}}",
        topics.join(",")
    )
    .into_bytes()
}

fn read_frame(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> RemotingCommand {
    loop {
        if let Some((command, consumed)) =
            frame::decode(buffer, frame::FRAME_BYTES_MAX_DEFAULT).expect("valid reply")
        {
            buffer.drain(..consumed);
            return command;
        }
        let mut chunk = [0u8; 16 * 1024];
        let count = stream.read(&mut chunk).expect("read reply");
        assert!(count > 0, "server closed the connection");
        buffer.extend_from_slice(&chunk[..count]);
    }
}

fn register(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    for (id, broker_addr) in [(0, "127.0.0.1:10911"), (1, "127.0.0.1:10921")] {
        let request = RemotingCommand::request(request_code::REGISTER_BROKER)
            .with_ext("brokerName", &"broker-a")
            .with_ext("brokerAddr", &broker_addr)
            .with_ext("clusterName", &"DefaultCluster")
            .with_ext("haServerAddr", &"127.0.0.1:10912")
            .with_ext("brokerId", &id)
            .with_body(register_body());
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        stream.write_all(&bytes).expect("register");
        let reply = read_frame(&mut stream, &mut Vec::new());
        assert_eq!(reply.code, 0, "registration accepted");
    }
    stream
}

/// One client: returns (lookups completed, sorted latencies in µs of a sample).
fn client(addr: SocketAddr, index: usize, in_flight: usize, stop: &AtomicBool) -> (u64, Vec<u64>) {
    let clock = SystemClock::new();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buffer = Vec::new();
    let mut sent_at = std::collections::VecDeque::new();
    let mut completed = 0u64;
    let mut latencies = Vec::new();
    let mut opaque = 0;
    let mut send = |stream: &mut TcpStream, sent_at: &mut std::collections::VecDeque<u64>| {
        opaque += 1;
        let topic = format!("Topic{}", (index + opaque) % TOPICS);
        let mut request = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC)
            .with_ext("topic", &topic);
        request.opaque = i32::try_from(opaque % 1_000_000).expect("fits");
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        stream.write_all(&bytes).expect("send");
        sent_at.push_back(clock.monotonic_us());
    };
    for _ in 0..in_flight {
        send(&mut stream, &mut sent_at);
    }
    while !stop.load(Ordering::Relaxed) {
        let reply = read_frame(&mut stream, &mut buffer);
        assert_eq!(reply.code, 0);
        let started = sent_at.pop_front().expect("outstanding request");
        completed += 1;
        if completed % 16 == 0 {
            latencies.push(clock.monotonic_us().saturating_sub(started));
        }
        send(&mut stream, &mut sent_at);
    }
    (completed, latencies)
}

fn run_pass(addr: SocketAddr, pass: &Pass) {
    let stop = Arc::new(AtomicBool::new(false));
    let clock = SystemClock::new();
    let started = clock.monotonic();
    let workers: Vec<_> = (0..pass.clients)
        .map(|index| {
            let stop = Arc::clone(&stop);
            let in_flight = pass.in_flight;
            std::thread::spawn(move || client(addr, index, in_flight, &stop))
        })
        .collect();
    ringmq_namesrv::clock::pause(pass.window);
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut latencies = Vec::new();
    for worker in workers {
        let (completed, sample) = worker.join().expect("client thread");
        total += completed;
        latencies.extend(sample);
    }
    let elapsed_ms = clock.monotonic().since(started).max(1);
    latencies.sort_unstable();
    let percentile = |p: usize| {
        latencies
            .get(latencies.len() * p / 100)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "route_lookup clients={} in_flight={} window={:?}: {} lookups, {} lookups/s, \
         latency p50={}us p99={}us",
        pass.clients,
        pass.in_flight,
        pass.window,
        total,
        total * 1000 / elapsed_ms,
        percentile(50),
        percentile(99),
    );
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = NamesrvConfig::default();
    "127.0.0.1".clone_into(&mut config.bind_address);
    config.listen_port = 0;
    config.log_dir = dir.path().join("logs");
    config.kv_config_path = dir.path().join("kvConfig.json");
    let handle = start(config).expect("name server starts");
    let addr = handle.local_addr();
    let broker = register(addr);
    let window = if full {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(200)
    };
    let clients = if full { CLIENTS } else { 4 };
    run_pass(
        addr,
        &Pass {
            clients,
            in_flight: 1,
            window,
        },
    );
    run_pass(
        addr,
        &Pass {
            clients,
            in_flight: 8,
            window,
        },
    );
    drop(broker);
    handle.shutdown().expect("clean shutdown");
}
