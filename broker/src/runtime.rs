//! Starting and stopping a broker: port checks, the store lock, the log and registration
//! threads, and one pinned thread per shard.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use ringmq_engine::clock::{Clock, SystemClock};
use ringmq_engine::config::{EngineConfig, FlushMode, RetentionConfig, StorePaths};
use ringmq_engine::io::memlock::PoolSizing;
use ringmq_engine::io::select::{open_backend_for, BackendChoice};
use ringmq_engine::shard::Shard;
use ringmq_engine::store::StoreGuard;
use ringmq_engine::types::ShardId;
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{BrokerConfig, FlushDiskType, IoBackend, PortUse};
use crate::context::{BrokerContext, Counters};
use crate::control::snapshot::ControlSnapshot;
use crate::control::ControlPlane;
use crate::log::Log;
use crate::message::{Message, Outboxes, INBOX_MESSAGES_MAX};
use crate::registration::{self, Identity};
use crate::shard::{BrokerShard, ShardParts, WAKER};

/// Why a broker could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A port is taken; names the port and what it is for.
    PortInUse {
        port: u16,
        role: &'static str,
        error: std::io::Error,
    },
    Store(String),
    Io(String),
    /// A configured mode that ringmq does not implement.
    Unsupported(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PortInUse { port, role, error } => write!(
                f,
                "port {port} ({role}) is already in use: {error}; another broker or process holds it. \
                 Each broker on a host needs listenPort, listenPort-2 (VIP) and listenPort+1 (HA) free"
            ),
            Self::Store(message) | Self::Io(message) | Self::Unsupported(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for StartError {}

/// A running broker.
#[derive(Debug)]
pub struct BrokerHandle {
    address: SocketAddr,
    outboxes: Outboxes,
    shards: Vec<JoinHandle<Result<(), String>>>,
    guard: Option<StoreGuard>,
    registration_thread: Option<JoinHandle<()>>,
    log: Log,
    boot_line: String,
}

impl BrokerHandle {
    /// The address clients use (brokerIP1:listenPort).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn boot_line(&self) -> &str {
        &self.boot_line
    }

    pub fn log_path(&self) -> &std::path::Path {
        self.log.path()
    }

    /// Stop accepting, finish in-flight requests, flush, checkpoint, unregister, release the
    /// store (removing `abort` only when every shard closed cleanly).
    pub fn shutdown(mut self) -> Result<(), String> {
        for shard in 0..self.outboxes.shard_count() {
            let _ = self.outboxes.send_and_wake(shard, Message::Shutdown);
        }
        let mut failures = Vec::new();
        for (index, thread) in self.shards.drain(..).enumerate() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(error),
                Err(_) => failures.push(format!("shard {index} panicked")),
            }
        }
        if let Some(thread) = self.registration_thread.take() {
            let _ = thread.join();
        }
        let guard = self.guard.take();
        if failures.is_empty() {
            if let Some(guard) = guard {
                guard.close_clean().map_err(|error| error.to_string())?;
            }
            self.log
                .info(&format!("The broker[{}] shutdown OK", self.address));
            Ok(())
        } else {
            let message = failures.join("; ");
            self.log
                .error(&format!("the broker did not shut down cleanly: {message}"));
            Err(message)
        }
    }
}

/// The address the broker advertises when `brokerIP1` is not set: the first local non-loopback
/// IPv4 address the kernel lists, else 127.0.0.1.
fn detect_local_ip() -> IpAddr {
    let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    let mut previous = "";
    for line in trie.lines() {
        if line.trim() == "/32 host LOCAL" {
            if let Ok(ip) = previous
                .trim()
                .trim_start_matches("|-- ")
                .parse::<Ipv4Addr>()
            {
                if !ip.is_loopback() {
                    return IpAddr::V4(ip);
                }
            }
        }
        previous = line;
    }
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn role_name(role: PortUse) -> &'static str {
    match role {
        PortUse::Listen => "listenPort",
        PortUse::Vip => "VIP channel, listenPort-2",
        PortUse::Ha => "HA, listenPort+1",
        PortUse::Dledger => "DLedger",
    }
}

/// Fail early, naming the port, when any port of this broker is taken. An exclusive bind also
/// catches another process that holds the port with SO_REUSEPORT, which would otherwise
/// silently share it.
fn check_ports(config: &BrokerConfig) -> Result<(), StartError> {
    for (role, port) in config.ports() {
        if role == PortUse::Dledger {
            continue;
        }
        TcpListener::bind(("0.0.0.0", port)).map_err(|error| StartError::PortInUse {
            port,
            role: role_name(role),
            error,
        })?;
    }
    Ok(())
}

/// Refuse what would silently misbehave: DLedger mode does not exist.
fn check_supported_role(config: &BrokerConfig) -> Result<(), StartError> {
    if config.dledger_enable {
        return Err(StartError::Unsupported(
            "enableDLegerCommitLog=true: DLedger (Raft) mode is not implemented in ringmq yet; \
             run masters and slaves (brokerRole SYNC_MASTER/ASYNC_MASTER/SLAVE) instead"
                .to_owned(),
        ));
    }
    Ok(())
}

/// A listener with SO_REUSEPORT, so every shard accepts on the same port.
fn reuseport_listener(port: u16) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// The engine's view of the broker config.
pub(crate) fn engine_config(config: &BrokerConfig, store_host: SocketAddr) -> EngineConfig {
    let paths = config.store_paths();
    let mut engine = EngineConfig::new(&paths.root);
    engine.paths = StorePaths {
        root: paths.root,
        commitlog: paths.commitlog,
        consume_queue: paths.consume_queue,
        index: paths.index,
        checkpoint: paths.checkpoint,
        abort: paths.abort,
        lock: paths.lock,
    };
    engine.shard_count = config.shards;
    engine.segment_bytes = config.commitlog_segment_bytes;
    engine.consume_queue_file_bytes = config.consume_queue_file_bytes;
    engine.flush_mode = match config.flush_disk_type {
        FlushDiskType::SyncFlush => FlushMode::Sync,
        FlushDiskType::AsyncFlush => FlushMode::Async,
    };
    engine.flush_interval = config.flush_interval_commitlog;
    engine.flush_least_pages = u64::from(config.flush_commitlog_least_pages);
    engine.flush_thorough_interval = config.flush_commitlog_thorough_interval;
    engine.sync_flush_timeout = config.sync_flush_timeout;
    engine.tail_cache_bytes = usize::try_from(config.tail_cache_bytes).unwrap_or(usize::MAX);
    engine.zero_fill_ahead_bytes = config.zero_fill_ahead_bytes;
    if let Some(bytes) = config.buffer_pool_bytes {
        engine.buffer_pool_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        engine.buffer_pool_sizing = PoolSizing::Explicit;
    }
    engine.index_hash_slots = config.index_hash_slots;
    engine.index_entries_max = config.index_entries_max;
    engine.check_crc_on_recover = config.check_crc_on_recover;
    engine.store_host = store_host;
    engine.retention = RetentionConfig {
        delete_hours: config.delete_hours.clone(),
        reserved: std::time::Duration::from_secs(u64::from(config.file_reserved_hours) * 3600),
        disk_max_used_ratio: f64::from(config.disk_max_used_space_percent) / 100.0,
        ..RetentionConfig::default()
    };
    engine
}

fn backend_choice(config: &BrokerConfig) -> BackendChoice {
    match config.io_backend {
        IoBackend::Auto => BackendChoice::Auto,
        IoBackend::Uring => BackendChoice::Uring,
        IoBackend::Fallback => BackendChoice::Fallback,
    }
}

/// Who this broker is to the name servers; HA is served on brokerIP2 (default brokerIP1).
fn identity(config: &BrokerConfig, store_host: SocketAddr) -> Identity {
    let ha_ip = config
        .broker_ip2
        .as_deref()
        .and_then(|text| text.parse().ok())
        .unwrap_or(store_host.ip());
    Identity {
        cluster: config.broker_cluster_name.clone(),
        broker_name: config.broker_name.clone(),
        broker_addr: store_host.to_string(),
        ha_addr: SocketAddr::new(ha_ip, config.ha_port()).to_string(),
        broker_id: i64::try_from(config.broker_id).unwrap_or(0),
    }
}

/// Start a broker; returns once every shard is serving.
pub fn start(config: BrokerConfig) -> Result<BrokerHandle, StartError> {
    check_supported_role(&config)?;
    check_ports(&config)?;
    let ip = match config.broker_ip1.as_deref() {
        Some(text) => text
            .parse()
            .map_err(|_| StartError::Io(format!("brokerIP1={text}: expected an IP address")))?,
        None => detect_local_ip(),
    };
    let store_host = SocketAddr::new(ip, config.listen_port);
    let engine = engine_config(&config, store_host);
    let guard =
        StoreGuard::acquire(&engine).map_err(|error| StartError::Store(error.to_string()))?;
    let (log, _log_thread) = Log::start(&config.log_dir, true).map_err(|error| {
        StartError::Io(format!(
            "cannot open the log in {}: {error}",
            config.log_dir.display()
        ))
    })?;
    if let Some(notice) = crate::host::idle_wake_notice() {
        log.warn(&notice);
    }
    if !guard.previous_exit_clean() {
        log.warn("the previous run did not shut down cleanly (abort file present); recovering from the checkpoint");
    }
    let identity = identity(&config, store_host);
    let (registration, registration_thread) =
        registration::start(identity, config.namesrv_addrs(), log.clone()).map_err(|error| {
            StartError::Io(format!("cannot start the registration thread: {error}"))
        })?;
    let shard_count = config.shards.max(1);
    let context = Arc::new(BrokerContext {
        store_host,
        shard_count,
        max_frame_bytes: ringmq_protocol::frame::FRAME_BYTES_MAX_DEFAULT,
        log: log.clone(),
        counters: Counters::default(),
        started_ms: SystemClock::new().wall().as_i64(),
        physical_memory_bytes: crate::context::physical_memory_bytes(),
        ha_unclaimed: std::sync::atomic::AtomicUsize::new(0),
        client_connections: crate::context::ConnectionCounts::new(shard_count),
        config,
    });
    let now_ms = SystemClock::new().wall().as_i64();
    let mut control = ControlPlane::load(Arc::clone(&context), registration, now_ms)
        .map_err(|error| StartError::Store(format!("loading store/config failed: {error}")))?;
    let snapshot = control.take_snapshot_if_changed().unwrap_or_default();
    let delay_offsets = control.delay_offsets.all().clone();
    control.mark_changed();
    let attach = control.registration_attacher();
    let shards = spawn_shards(&context, &engine, control, &snapshot, &delay_offsets)?;
    let boot_line = format!(
        "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
        context.config.broker_name,
        store_host,
        context.config.namesrv_addrs().join(";")
    );
    // Before the attach: once attached, a slave's shards learn their master and log their HA
    // connections, and scripts that wait for the boot line must not miss those lines.
    log.info(&boot_line);
    attach.attach(shards.0.clone());
    Ok(BrokerHandle {
        address: store_host,
        outboxes: shards.0,
        shards: shards.1,
        guard: Some(guard),
        registration_thread: Some(registration_thread),
        log,
        boot_line,
    })
}

type Spawned = (Outboxes, Vec<JoinHandle<Result<(), String>>>);

fn spawn_shards(
    context: &Arc<BrokerContext>,
    engine: &EngineConfig,
    control: ControlPlane,
    snapshot: &Arc<ControlSnapshot>,
    delay_offsets: &std::collections::BTreeMap<i32, i64>,
) -> Result<Spawned, StartError> {
    let io = |error: std::io::Error| {
        StartError::Io(format!("cannot set up a shard event loop: {error}"))
    };
    let count = usize::from(context.shard_count);
    let mut polls = Vec::with_capacity(count);
    let mut wakers = Vec::with_capacity(count);
    let mut senders = Vec::with_capacity(count);
    let mut inboxes = Vec::with_capacity(count);
    for _ in 0..count {
        let poll = mio::Poll::new().map_err(io)?;
        wakers.push(Arc::new(
            mio::Waker::new(poll.registry(), WAKER).map_err(io)?,
        ));
        polls.push(poll);
        let (sender, receiver) = mpsc::sync_channel(INBOX_MESSAGES_MAX);
        senders.push(sender);
        inboxes.push(receiver);
    }
    let outboxes = Outboxes::new(senders, wakers);
    let (ready_sender, ready) = mpsc::channel::<Result<(), String>>();
    let mut control = Some(control);
    let mut threads = Vec::with_capacity(count);
    for (index, (poll, inbox)) in polls.into_iter().zip(inboxes).enumerate() {
        let start = ShardStart {
            index: u16::try_from(index).expect("shards are capped"),
            context: Arc::clone(context),
            engine: engine.clone(),
            outboxes: outboxes.clone(),
            inbox,
            poll,
            control: if index == 0 { control.take() } else { None },
            snapshot: Arc::clone(snapshot),
            delay_offsets: delay_offsets.clone(),
            ready: ready_sender.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || start.run())
            .map_err(|error| {
                StartError::Io(format!("cannot start shard thread {index}: {error}"))
            })?;
        threads.push(thread);
    }
    drop(ready_sender);
    for _ in 0..count {
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(stop_after_failure(&outboxes, threads, message)),
            Err(_) => {
                return Err(stop_after_failure(
                    &outboxes,
                    threads,
                    "a shard thread exited during start".to_owned(),
                ))
            }
        }
    }
    Ok((outboxes, threads))
}

fn stop_after_failure(
    outboxes: &Outboxes,
    threads: Vec<JoinHandle<Result<(), String>>>,
    message: String,
) -> StartError {
    for shard in 0..outboxes.shard_count() {
        let _ = outboxes.send_and_wake(shard, Message::Shutdown);
    }
    for thread in threads {
        let _ = thread.join();
    }
    StartError::Store(message)
}

/// What one shard thread needs to open its engine shard and serve.
struct ShardStart {
    index: u16,
    context: Arc<BrokerContext>,
    engine: EngineConfig,
    outboxes: Outboxes,
    inbox: crate::message::Inbox,
    poll: mio::Poll,
    control: Option<ControlPlane>,
    snapshot: Arc<ControlSnapshot>,
    delay_offsets: std::collections::BTreeMap<i32, i64>,
    ready: mpsc::Sender<Result<(), String>>,
}

/// Pin shard `index` to its CPU (`affinity::shard_cpu`), and log what was done.
fn pin_shard(log: &crate::log::Log, index: u16, shards: u16) {
    use ringmq_engine::io::affinity;
    let allowed = match affinity::allowed_cpus() {
        Ok(allowed) => allowed,
        Err(error) => {
            log.warn(&format!("shard {index}: not pinned to a core: {error}"));
            return;
        }
    };
    let Some(cpu) = affinity::shard_cpu(usize::from(index), &allowed) else {
        log.warn(&format!(
            "shard {index}: not pinned: the process may use no CPU"
        ));
        return;
    };
    if let Err(error) = affinity::pin_current_thread(cpu) {
        log.warn(&format!("shard {index}: not pinned to CPU {cpu}: {error}"));
        return;
    }
    if index == 0 && usize::from(shards) < allowed.len() {
        log.info(&format!(
            "{shards} shard(s) pinned to the first of the {} CPUs this process may use; to run \
             several brokers on this host, start each under taskset -c with CPUs of its own",
            allowed.len()
        ));
    }
}

impl ShardStart {
    fn run(self) -> Result<(), String> {
        let ready = self.ready.clone();
        match self.open() {
            Ok(shard) => {
                let _ = ready.send(Ok(()));
                shard.run()
            }
            Err(message) => {
                let _ = ready.send(Err(message.clone()));
                Err(message)
            }
        }
    }

    fn open(self) -> Result<BrokerShard, String> {
        let index = self.index;
        let log = self.context.log.clone();
        pin_shard(&log, index, self.context.config.shards);
        let chunk = ringmq_engine::constants::COMMIT_BATCH_BYTES_MAX;
        let choice = backend_choice(&self.context.config);
        let (storage, line) = open_backend_for(choice, &self.engine.pool_request(), chunk)
            .map_err(|error| format!("shard {index}: {error}"))?;
        log.info(&format!("shard {index}: {line}"));
        let mut lines = Vec::new();
        let (engine, report) = Shard::open(
            ShardId(index),
            self.engine.clone(),
            storage,
            Box::new(SystemClock::new()),
            &mut |line| lines.push(line.to_owned()),
        )
        .map_err(|error| format!("shard {index}: {error}"))?;
        for line in lines {
            log.info(&line);
        }
        log.info(&format!(
            "shard {index}: recovered in {:?}: {} records re-dispatched, log valid to {}{}",
            report.elapsed,
            report.records_redispatched,
            report.valid_end,
            report
                .stopped_because
                .map(|reason| format!(" (stopped: {reason})"))
                .unwrap_or_default()
        ));
        let config = &self.context.config;
        let port = config.listen_port;
        let mut listeners = vec![
            reuseport_listener(port)
                .map_err(|error| format!("shard {index}: listen on {port}: {error}"))?,
            reuseport_listener(config.vip_port())
                .map_err(|error| format!("shard {index}: listen on VIP port: {error}"))?,
        ];
        if config.broker_role != crate::config::BrokerRole::Slave {
            let ha = config.ha_port();
            listeners.push(
                reuseport_listener(ha)
                    .map_err(|error| format!("shard {index}: listen on HA port {ha}: {error}"))?,
            );
        }
        let parts = ShardParts {
            index,
            context: self.context,
            engine,
            snapshot: self.snapshot,
            control: self.control,
            outboxes: self.outboxes,
            inbox: self.inbox,
            poll: self.poll,
            listeners,
            delay_offsets: self.delay_offsets,
        };
        BrokerShard::new(parts).map_err(|error| format!("shard {index}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_engine::constants::BUFFER_POOL_BYTES_MIN;
    use ringmq_engine::io::memlock::PoolRequest;

    #[test]
    fn an_unset_buffer_pool_is_sized_from_memlock_and_a_set_one_is_kept() {
        // The ring's pool holds the tail cache too, and every shard registers its own, so
        // the request carries both sizes and the shard count.
        let host = SocketAddr::from(([127, 0, 0, 1], 10911));
        let mut config = BrokerConfig::defaults(Some(std::path::Path::new("/home/mq")));
        config.shards = 3;
        assert_eq!(
            engine_config(&config, host).pool_request(),
            PoolRequest {
                bytes: (64 + 32) << 20,
                sizing: PoolSizing::FromMemlock,
                shards: 3,
                minimum_bytes: BUFFER_POOL_BYTES_MIN,
            }
        );
        config.buffer_pool_bytes = Some(8 << 20);
        let pool = engine_config(&config, host).pool_request();
        assert_eq!(
            (pool.bytes, pool.sizing, pool.shards),
            ((64 + 8) << 20, PoolSizing::Explicit, 3)
        );
    }

    #[test]
    fn check_crc_on_recover_from_the_file_reaches_the_engine() {
        // Hazard: the key was accepted but the engine always checked CRCs, so an operator
        // who turned it off for a faster restart silently got the slow path.
        let host = SocketAddr::from(([127, 0, 0, 1], 10911));
        let home = Some(std::path::Path::new("/home/mq"));
        let default = crate::config::from_str_with_home("brokerName=a\n", "t", home)
            .map(|loaded| engine_config(&loaded.config, host).check_crc_on_recover);
        assert_eq!(default.ok(), Some(true));
        let off = crate::config::from_str_with_home("checkCRCOnRecover=false\n", "t", home)
            .map(|loaded| engine_config(&loaded.config, host).check_crc_on_recover);
        assert_eq!(off.ok(), Some(false));
    }
}
