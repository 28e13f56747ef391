//! Broker configuration: RocketMQ's `.properties` files, typed and checked.
//!
//! A broker is started with `-c broker-a.properties`, the same files Apache RocketMQ ships in
//! `conf/` and that deployment guides copy around. [`load`] reads one, and:
//!
//! * typed keys (the ones ringmq acts on, [`BrokerConfig`]'s fields) are parsed strictly: a
//!   bad value is an error that names the key, the value and what is expected. RocketMQ
//!   swallows conversion failures and keeps the default, so `brokerRole=SYSC_MASTER`
//!   silently starts an ASYNC_MASTER there; here it refuses to start;
//! * every other key of RocketMQ's config classes is *known*: accepted, checked against its
//!   Java type, kept as text and printed by `-p`, but not acted on;
//! * any other key is a warning, with a suggestion when it looks like a known key in another
//!   case or with a typo, because RocketMQ ignores it too and old guides carry dead keys
//!   (`checkTransactionMessageEnable`);
//! * a key set twice keeps its later value, with a warning;
//! * `mapedFileSize…` (RocketMQ ≤ 4.3) and `mappedFileSize…` are two spellings of one
//!   setting. Set to the same value, both are fine; set to different values, it is an error,
//!   because whichever one "wins", the operator who edited the other is misled;
//! * settings are then checked against each other (a SLAVE needs `brokerId > 0`, ports must
//!   leave room for the VIP port `listenPort-2` and the HA port `listenPort+1`, …).
//!
//! All problems are reported together, each as `file:line: key=value: expected …`.
//! Loading has no side effects: nothing is created on disk and no port is bound.

mod colocation;
mod error;
mod fields;
mod known_keys;
pub mod properties;
mod validate;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use colocation::{colocation_conflicts, ColocationConflict};
pub use error::{ConfigError, Problem, ProblemKind};
pub use fields::{
    COMMITLOG_SEGMENT_ALIGNMENT_BYTES, COMMITLOG_SEGMENT_BYTES_MAX, COMMITLOG_SEGMENT_BYTES_MIN,
    CONSUME_QUEUE_ENTRY_BYTES, SHARDS_MAX,
};
pub use values::{BrokerRole, DledgerPeer, FlushDiskType, IoBackend};

use error::located;
use fields::{Context, FIELDS};
use known_keys::{JavaKind, KNOWN_KEYS};

/// Default `listenPort`: RocketMQ's `mqbroker` script sets 10911 (the Java field says 6888,
/// which no released start path uses).
pub const LISTEN_PORT_DEFAULT: u16 = 10911;

/// Default `idlePollMicros`: a shard polls for 200 µs after its last event before it sleeps,
/// as Seastar's reactor does by default. Waking a sleeping core costs tens of microseconds
/// (a VM exit on a KVM guest, a C-state exit on bare metal). At 64 senders on the 2-vCPU
/// benchmark host this gave 0.97–1.36 times the messages per second (14 of 17 rounds 1.05
/// or more) and, at one sender, took a third off the SYNC_FLUSH p50 (docs/benchmarks.md,
/// "Shards that poll before they sleep").
pub const IDLE_POLL_MICROS_DEFAULT: u64 = 200;

/// Keys printed by `-m`, in this order.
pub const IMPORTANT_KEYS: &[&str] = &[
    "brokerClusterName",
    "brokerName",
    "brokerId",
    "brokerRole",
    "flushDiskType",
    "namesrvAddr",
    "listenPort",
    "brokerIP1",
    "storePathRootDir",
    "storePathCommitLog",
    "mappedFileSizeCommitLog",
    "deleteWhen",
    "fileReservedTime",
    "shards",
    "ioBackend",
];

/// A broker's settings. Build it with [`load`] or [`from_str`] so that it is validated;
/// `Default` gives RocketMQ's defaults under `$HOME`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BrokerConfig {
    /// `brokerClusterName`; default `DefaultCluster`.
    pub broker_cluster_name: String,
    /// `brokerName`, shared by a master and its slaves. RocketMQ defaults to the host name;
    /// ringmq defaults to `broker-a`, as in RocketMQ's shipped `broker.conf`, so that a
    /// default config does not depend on the machine.
    pub broker_name: String,
    /// `brokerId`: 0 for the master, > 0 for a slave.
    pub broker_id: u64,
    pub broker_role: BrokerRole,
    pub flush_disk_type: FlushDiskType,
    /// `namesrvAddr`, split at `;`. Empty: the broker registers nowhere.
    pub namesrv_addr: Vec<String>,
    pub listen_port: u16,
    /// `brokerIP1`, the address registered with the name server. `None`: detect at startup.
    pub broker_ip1: Option<String>,
    /// `brokerIP2`, the address slaves replicate from. `None`: same as `brokerIP1`.
    pub broker_ip2: Option<String>,
    /// `haListenPort`. `None`: `listenPort + 1`, as RocketMQ's `BrokerStartup` forces.
    pub ha_listen_port: Option<u16>,
    /// `haMasterAddress` (`host:port`) for a slave; `None`: learnt from the name server.
    pub ha_master_address: Option<String>,
    /// `storePathRootDir`; default `~/store`.
    pub store_path_root_dir: PathBuf,
    /// Explicit store locations; `None` means the name under the root, see [`Self::store_paths`].
    pub store_path_commit_log: Option<PathBuf>,
    pub store_path_consume_queue: Option<PathBuf>,
    pub store_path_index: Option<PathBuf>,
    pub store_checkpoint: Option<PathBuf>,
    pub abort_file: Option<PathBuf>,
    /// `mappedFileSizeCommitLog` / `mapedFileSizeCommitLog`; default 1 GiB.
    pub commitlog_segment_bytes: u64,
    /// `mappedFileSizeConsumeQueue` / `mapedFileSizeConsumeQueue`; default 300,000 entries of
    /// 20 bytes. The value is bytes, not entries, whatever the guides' comments say.
    pub consume_queue_file_bytes: u64,
    /// `deleteWhen`: hours of the day (0-23) at which expired files are deleted.
    pub delete_hours: Vec<u8>,
    /// `fileReservedTime`: hours a commitlog file is kept.
    pub file_reserved_hours: u32,
    /// `diskMaxUsedSpaceRatio`, 10-95 (RocketMQ clamps; ringmq refuses).
    pub disk_max_used_space_percent: u8,
    pub flush_interval_commitlog: Duration,
    pub flush_commitlog_least_pages: u32,
    pub flush_commitlog_thorough_interval: Duration,
    pub sync_flush_timeout: Duration,
    /// `maxMessageSize`: largest message body.
    pub max_message_bytes: u32,
    /// `defaultTopicQueueNums`: queues of an auto-created topic.
    pub default_topic_queue_count: u32,
    pub auto_create_topic: bool,
    pub auto_create_subscription_group: bool,
    /// `clusterTopicEnable` / `brokerTopicEnable`: the topics named after the cluster and after
    /// the broker, created at start, are writable (clusterRT sends to the broker's).
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    /// `traceTopicEnable`: create the message-trace topic `msgTraceTopicName` at start.
    pub trace_topic_enable: bool,
    pub msg_trace_topic_name: String,
    /// `sendMessageThreadPoolNums` and `pullMessageThreadPoolNums`: accepted for RocketMQ
    /// compatibility; ringmq's shards replace the pools.
    pub send_message_threads: u32,
    pub pull_message_threads: u32,
    /// `messageDelayLevel`: delay of each level, level 1 first.
    pub message_delay_levels: Vec<Duration>,
    /// `maxHashSlotNum` and `maxIndexNum` of an index file.
    pub index_hash_slots: u32,
    pub index_entries_max: u32,
    /// `checkCRCOnRecover`: recovery after a crash checks each record's body CRC.
    pub check_crc_on_recover: bool,
    pub slave_read_enable: bool,
    pub in_sync_replicas: u32,
    pub ha_send_heartbeat_interval: Duration,
    pub ha_housekeeping_interval: Duration,
    pub ha_transfer_batch_bytes: u32,
    /// `haMaxGapNotInSync`: a slave further behind than this many bytes is not in sync.
    pub ha_max_gap_not_in_sync: u32,
    /// `accessMessageInMemoryMaxRatio`: percent of RAM beyond which a consumer is "behind".
    pub access_message_in_memory_max_ratio: u32,
    /// `maxTransferCountOnMessageInMemory` / `maxTransferBytesOnMessageInMemory` and the
    /// `…InDisk` pair: caps of one pull that starts in the tail cache, or on disk. Unset
    /// (the default), a pull returns up to 256 messages and 8 MiB: ringmq sends both kinds
    /// without copying, so RocketMQ's page-cache limits (32 / 256 KiB, 8 / 64 KiB) would only
    /// add round trips. Set, they apply as in RocketMQ.
    pub max_transfer_count_in_memory: Option<u32>,
    pub max_transfer_bytes_in_memory: Option<u32>,
    pub max_transfer_count_in_disk: Option<u32>,
    pub max_transfer_bytes_in_disk: Option<u32>,
    pub slave_timeout: Duration,
    /// `enableDLegerCommitLog`, `dLegerGroup`, `dLegerPeers`, `dLegerSelfId`.
    pub dledger_enable: bool,
    pub dledger_group: Option<String>,
    pub dledger_peers: Vec<DledgerPeer>,
    pub dledger_self_id: Option<String>,
    /// `shards` (ringmq): storage and network shards, one per core; default all cores.
    pub shards: u16,
    /// `ioBackend` (ringmq).
    pub io_backend: IoBackend,
    /// `bufferPoolBytes` (ringmq): aligned buffers for staging and in-flight writes. Unset
    /// (the default), each shard's pool is at most 32 MiB + `tailCacheBytes` and shrinks to
    /// its share of RLIMIT_MEMLOCK so io_uring can register it; set, it is used as is.
    pub buffer_pool_bytes: Option<u64>,
    /// `tailCacheBytes` (ringmq): recently written data kept in memory for reads.
    pub tail_cache_bytes: u64,
    /// `zeroFillAheadBytes` (ringmq): how far ahead of the writer commitlog segments are
    /// zero-filled so appends overwrite written blocks; 0 turns it off.
    pub zero_fill_ahead_bytes: u64,
    /// `idlePollMicros` (ringmq): how long a shard keeps polling, yielding to other threads,
    /// before it sleeps after its last event (at most 1 ms of polls in a row, however
    /// often events come: `idle_poll::STREAK_MAX`); 0 sleeps at once. See
    /// `docs/operations/tuning.md`.
    pub idle_poll_micros: u64,
    /// `logDir` (ringmq); default `~/logs/rocketmqlogs`, where RocketMQ writes broker.log.
    pub log_dir: PathBuf,
    /// Known but untyped keys set in the file, by key.
    raw: BTreeMap<String, String>,
}

/// Where a broker keeps its files, with RocketMQ's layout filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorePaths {
    pub root: PathBuf,
    pub commitlog: PathBuf,
    pub consume_queue: PathBuf,
    pub index: PathBuf,
    pub checkpoint: PathBuf,
    pub abort: PathBuf,
    /// The file locked so that two brokers cannot share one store.
    pub lock: PathBuf,
    /// Topics, subscription groups and consumer offsets.
    pub config: PathBuf,
}

/// What a port of a broker is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortUse {
    Listen,
    /// `listenPort - 2`, the "fast" port RocketMQ clients use when `vipChannelEnabled`.
    Vip,
    /// Replication from master to slaves.
    Ha,
    /// This node's DLedger (Raft) port.
    Dledger,
}

/// A config that loaded, with the warnings the operator should see.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: BrokerConfig,
    /// `file:line: …` sentences: unknown and repeated keys, settings ignored in DLedger mode.
    pub warnings: Vec<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::defaults(home.as_deref())
    }
}

impl BrokerConfig {
    /// RocketMQ's defaults (and ringmq's), with `~` taken as `home`. Without a home the
    /// paths stay literally `~/…`, and [`from_str`] refuses them unless the file sets them.
    pub fn defaults(home: Option<&Path>) -> Self {
        let tilde =
            |rest: &str| home.map_or_else(|| PathBuf::from("~").join(rest), |h| h.join(rest));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let cores_u32 = u32::try_from(cores).unwrap_or(u32::MAX);
        Self {
            broker_cluster_name: "DefaultCluster".to_owned(),
            broker_name: "broker-a".to_owned(),
            broker_id: 0,
            broker_role: BrokerRole::AsyncMaster,
            flush_disk_type: FlushDiskType::AsyncFlush,
            namesrv_addr: Vec::new(),
            listen_port: LISTEN_PORT_DEFAULT,
            broker_ip1: None,
            broker_ip2: None,
            ha_listen_port: None,
            ha_master_address: None,
            store_path_root_dir: tilde("store"),
            store_path_commit_log: None,
            store_path_consume_queue: None,
            store_path_index: None,
            store_checkpoint: None,
            abort_file: None,
            commitlog_segment_bytes: 1 << 30,
            consume_queue_file_bytes: 300_000 * CONSUME_QUEUE_ENTRY_BYTES,
            delete_hours: vec![4],
            file_reserved_hours: 72,
            disk_max_used_space_percent: 75,
            flush_interval_commitlog: Duration::from_millis(500),
            flush_commitlog_least_pages: 4,
            flush_commitlog_thorough_interval: Duration::from_secs(10),
            sync_flush_timeout: Duration::from_secs(5),
            max_message_bytes: 4 << 20,
            default_topic_queue_count: 8,
            auto_create_topic: true,
            auto_create_subscription_group: true,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            trace_topic_enable: false,
            msg_trace_topic_name: "RMQ_SYS_TRACE_TOPIC".to_owned(),
            send_message_threads: cores_u32.min(4),
            pull_message_threads: cores_u32.saturating_mul(2).saturating_add(16),
            message_delay_levels: default_delay_levels(),
            index_hash_slots: 5_000_000,
            index_entries_max: 20_000_000,
            check_crc_on_recover: true,
            slave_read_enable: false,
            in_sync_replicas: 1,
            ha_send_heartbeat_interval: Duration::from_secs(5),
            ha_housekeeping_interval: Duration::from_secs(20),
            ha_transfer_batch_bytes: 32 * 1024,
            ha_max_gap_not_in_sync: 256 * 1024 * 1024,
            access_message_in_memory_max_ratio: 40,
            max_transfer_count_in_memory: None,
            max_transfer_bytes_in_memory: None,
            max_transfer_count_in_disk: None,
            max_transfer_bytes_in_disk: None,
            slave_timeout: Duration::from_secs(3),
            dledger_enable: false,
            dledger_group: None,
            dledger_peers: Vec::new(),
            dledger_self_id: None,
            shards: u16::try_from(cores).unwrap_or(SHARDS_MAX).min(SHARDS_MAX),
            io_backend: IoBackend::Auto,
            buffer_pool_bytes: None,
            tail_cache_bytes: 64 << 20,
            zero_fill_ahead_bytes: ringmq_engine::constants::ZERO_FILL_AHEAD_BYTES_DEFAULT,
            idle_poll_micros: IDLE_POLL_MICROS_DEFAULT,
            log_dir: tilde("logs/rocketmqlogs"),
            raw: BTreeMap::new(),
        }
    }

    /// The fast ("VIP") port, `listenPort - 2`. Validation guarantees `listenPort >= 3`.
    pub fn vip_port(&self) -> u16 {
        self.listen_port.saturating_sub(2)
    }

    /// The replication port: `haListenPort`, else `listenPort + 1`.
    pub fn ha_port(&self) -> u16 {
        self.ha_listen_port
            .unwrap_or_else(|| self.listen_port.saturating_add(1))
    }

    /// This node's DLedger port, when DLedger is on and `dLegerSelfId` names a peer.
    pub fn dledger_port(&self) -> Option<u16> {
        if !self.dledger_enable {
            return None;
        }
        let self_id = self.dledger_self_id.as_deref()?;
        self.dledger_peers
            .iter()
            .find(|p| p.id == self_id)
            .map(|p| p.port)
    }

    /// Every port this broker listens on; brokers sharing a host need disjoint sets.
    pub fn ports(&self) -> Vec<(PortUse, u16)> {
        let mut ports = vec![
            (PortUse::Vip, self.vip_port()),
            (PortUse::Listen, self.listen_port),
            (PortUse::Ha, self.ha_port()),
        ];
        if let Some(port) = self.dledger_port() {
            ports.push((PortUse::Dledger, port));
        }
        ports
    }

    /// The store layout, explicit paths first, RocketMQ's names under the root otherwise.
    pub fn store_paths(&self) -> StorePaths {
        let root = &self.store_path_root_dir;
        let or_under = |explicit: &Option<PathBuf>, name: &str| {
            explicit.clone().unwrap_or_else(|| root.join(name))
        };
        StorePaths {
            root: root.clone(),
            commitlog: or_under(&self.store_path_commit_log, "commitlog"),
            consume_queue: or_under(&self.store_path_consume_queue, "consumequeue"),
            index: or_under(&self.store_path_index, "index"),
            checkpoint: or_under(&self.store_checkpoint, "checkpoint"),
            abort: or_under(&self.abort_file, "abort"),
            lock: root.join("lock"),
            config: root.join("config"),
        }
    }

    /// Name server addresses (`host:port`), in file order.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.namesrv_addr.clone()
    }

    /// `brokerIP1:listenPort`, the address registered with the name server and stamped into
    /// message ids. `None` when `brokerIP1` is unset: startup must pick an interface address
    /// (RocketMQ takes the first non-loopback one) rather than advertise a guess.
    pub fn advertised_addr(&self) -> Option<String> {
        self.broker_ip1
            .as_ref()
            .map(|ip| format!("{ip}:{}", self.listen_port))
    }

    /// The address slaves replicate from: `brokerIP2` (else `brokerIP1`) and the HA port.
    pub fn ha_advertised_addr(&self) -> Option<String> {
        self.broker_ip2
            .as_ref()
            .or(self.broker_ip1.as_ref())
            .map(|ip| format!("{ip}:{}", self.ha_port()))
    }

    /// The value of a known RocketMQ key that ringmq does not act on, if the file set it.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }

    /// Override `namesrvAddr` from the command line (`-n "a:9876;b:9876"`), as RocketMQ's
    /// `-n` does; checked like the file value.
    pub fn set_namesrv_addr(&mut self, text: &str) -> Result<(), ConfigError> {
        let addresses =
            values::address_list(text.trim()).map_err(|expected| ConfigError::Invalid {
                origin: "-n".to_owned(),
                problems: vec![Problem::new(
                    ProblemKind::BadValue,
                    "namesrvAddr",
                    None,
                    format!("namesrvAddr={text}: {expected}"),
                )],
            })?;
        self.namesrv_addr = addresses;
        Ok(())
    }

    /// Every setting as sorted `key=value` lines (`mqbroker -p`): typed keys with their
    /// effective values, then known RocketMQ keys with the file's value or RocketMQ's
    /// default (empty where Java computes it at run time). Old spellings are not repeated.
    pub fn print_all(&self) -> String {
        let mut all: BTreeMap<&str, String> = BTreeMap::new();
        for &(key, _, default) in KNOWN_KEYS {
            let value = self.raw(key).or(default).unwrap_or_default();
            all.insert(key, value.to_owned());
        }
        for field in FIELDS.iter().filter(|f| f.alias_of.is_none()) {
            all.insert(field.key, (field.show)(self));
        }
        lines(all.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// The settings an operator checks first (`mqbroker -m`), in [`IMPORTANT_KEYS`] order.
    pub fn print_important(&self) -> String {
        let shown: Vec<(&str, String)> = IMPORTANT_KEYS
            .iter()
            .filter_map(|key| fields::find(key).map(|field| (*key, (field.show)(self))))
            .collect();
        lines(shown.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

fn lines<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

fn default_delay_levels() -> Vec<Duration> {
    const LEVELS_SECONDS: [u64; 18] = [
        1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
    ];
    LEVELS_SECONDS
        .iter()
        .map(|&s| Duration::from_secs(s))
        .collect()
}

/// Read and check a broker config file. Non-UTF-8 files are read as ISO-8859-1, which is
/// what Java's `Properties.load(InputStream)` assumes.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(not_utf8) => not_utf8
            .into_bytes()
            .iter()
            .map(|&b| char::from(b))
            .collect(),
    };
    from_str(&text, &path.display().to_string())
}

/// Check config text; `origin` names it in messages (usually the file name).
pub fn from_str(text: &str, origin: &str) -> Result<LoadedConfig, ConfigError> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    from_str_with_home(text, origin, home.as_deref())
}

/// [`from_str`] with `~` expanded from `home` instead of `$HOME`.
pub fn from_str_with_home(
    text: &str,
    origin: &str,
    home: Option<&Path>,
) -> Result<LoadedConfig, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut loader = Loader::new(origin, home);
    loader.read(text);
    loader.finish()
}

/// One spelling of a canonical key as last set: spelling, line, value as printed.
#[derive(Debug)]
struct Setting {
    spelling: String,
    line: usize,
    shown: String,
}

/// State of one load: the config being filled and what was found on the way.
#[derive(Debug)]
struct Loader<'a> {
    origin: &'a str,
    home: Option<&'a Path>,
    config: BrokerConfig,
    problems: Vec<Problem>,
    /// Warnings with their lines, reported in line order.
    warnings: Vec<(Option<usize>, String)>,
    /// Exact key → line of its first setting, to warn about repeats.
    first_lines: HashMap<String, usize>,
    /// Canonical typed key → its last setting, to catch conflicting spellings.
    settings: HashMap<&'static str, Setting>,
}

impl<'a> Loader<'a> {
    fn new(origin: &'a str, home: Option<&'a Path>) -> Self {
        Self {
            origin,
            home,
            config: BrokerConfig::defaults(home),
            problems: Vec::new(),
            warnings: Vec::new(),
            first_lines: HashMap::new(),
            settings: HashMap::new(),
        }
    }

    fn warn(&mut self, line: Option<usize>, message: &str) {
        self.warnings
            .push((line, located(self.origin, line, message)));
    }

    fn read(&mut self, text: &str) {
        let (entries, syntax_errors) = properties::parse_lenient(text);
        for error in syntax_errors {
            self.problems.push(Problem {
                kind: ProblemKind::Syntax,
                key: None,
                line: Some(error.line),
                message: error.message,
            });
        }
        for entry in entries {
            if let Some(&first) = self.first_lines.get(&entry.key) {
                let message = format!(
                    "{} is set again (first on line {first}); the later value {:?} is used",
                    entry.key, entry.value
                );
                self.warn(Some(entry.line), &message);
            } else {
                self.first_lines.insert(entry.key.clone(), entry.line);
            }
            self.apply(&entry);
        }
    }

    fn apply(&mut self, entry: &properties::Entry) {
        let (key, value, line) = (entry.key.as_str(), entry.value.as_str(), entry.line);
        if let Some(field) = fields::find(key) {
            let context = Context { home: self.home };
            match (field.apply)(&mut self.config, value, &context) {
                Ok(()) => self.record(field, line),
                Err(expected) => self.problems.push(Problem::new(
                    ProblemKind::BadValue,
                    key,
                    Some(line),
                    format!("{key}={value}: {expected}"),
                )),
            }
        } else if let Ok(index) = KNOWN_KEYS.binary_search_by(|known| known.0.cmp(key)) {
            let (_, kind, _) = KNOWN_KEYS[index];
            // Empty means unset, as for typed optional keys: `-p` prints RocketMQ's run-time
            // defaults empty, and its output must load back.
            if value.is_empty() {
                self.config.raw.remove(key);
                return;
            }
            match check_java_kind(kind, value) {
                Ok(()) => {
                    self.config.raw.insert(key.to_owned(), value.to_owned());
                }
                Err(expected) => self.problems.push(Problem::new(
                    ProblemKind::BadValue,
                    key,
                    Some(line),
                    format!("{key}={value}: {expected}"),
                )),
            }
        } else if let Some(place) = group_setting(key) {
            let message = format!(
                "{key} is ignored here: RocketMQ keeps it per subscription group, not in the \
                 broker's file; set it with `updateSubGroup -g <group> {place}`"
            );
            self.warn(Some(line), &message);
        } else {
            let hint = suggestion(key).map_or_else(String::new, |s| format!("; did you mean {s}?"));
            let message =
                format!("unknown key {key} is ignored (not a RocketMQ or ringmq setting){hint}");
            self.warn(Some(line), &message);
        }
    }

    /// Remember where a typed key was set; two spellings with different values conflict.
    fn record(&mut self, field: &fields::Field, line: usize) {
        let canonical = field.canonical();
        let shown = (field.show)(&self.config);
        if let Some(previous) = self.settings.get(canonical) {
            if previous.spelling != field.key && previous.shown != shown {
                self.problems.push(Problem::new(
                    ProblemKind::Conflict,
                    canonical,
                    Some(line),
                    format!(
                        "{}={shown} conflicts with {}={} on line {}: both spell one setting \
                         ({canonical}); keep one of them",
                        field.key, previous.spelling, previous.shown, previous.line
                    ),
                ));
            }
        }
        self.settings.insert(
            canonical,
            Setting {
                spelling: field.key.to_owned(),
                line,
                shown,
            },
        );
    }

    fn finish(mut self) -> Result<LoadedConfig, ConfigError> {
        let lines: validate::Lines = self
            .settings
            .iter()
            .map(|(key, setting)| (*key, setting.line))
            .collect();
        self.problems.extend(validate::check(&self.config, &lines));
        self.check_home_expanded(&lines);
        self.warn_dledger_overrides(&lines);
        if self.problems.is_empty() {
            self.warnings
                .sort_by_key(|(line, _)| line.unwrap_or(usize::MAX));
            Ok(LoadedConfig {
                config: self.config,
                warnings: self.warnings.into_iter().map(|(_, w)| w).collect(),
            })
        } else {
            self.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            Err(ConfigError::Invalid {
                origin: self.origin.to_owned(),
                problems: self.problems,
            })
        }
    }

    /// Defaults under `~` with no `$HOME` (e.g. a bare systemd unit) must be set explicitly.
    fn check_home_expanded(&mut self, lines: &validate::Lines) {
        let defaults = [
            ("storePathRootDir", self.config.store_path_root_dir.clone()),
            ("logDir", self.config.log_dir.clone()),
        ];
        for (key, path) in defaults {
            if !lines.contains_key(key) && path.starts_with("~") {
                self.problems.push(Problem::new(
                    ProblemKind::BadValue,
                    key,
                    None,
                    format!(
                        "{key} defaults to {}, but $HOME is not set; set {key} in the file",
                        path.display()
                    ),
                ));
            }
        }
    }

    /// With DLedger, Raft elects the master and assigns roles; file values are overridden.
    fn warn_dledger_overrides(&mut self, lines: &validate::Lines) {
        if !self.config.dledger_enable {
            return;
        }
        for key in ["brokerRole", "brokerId"] {
            if let Some(&line) = lines.get(key) {
                let message = format!(
                    "{key} is ignored with enableDLegerCommitLog=true: DLedger elects the master \
                     and assigns roles"
                );
                self.warn(Some(line), &message);
            }
        }
    }
}

fn check_java_kind(kind: JavaKind, value: &str) -> Result<(), String> {
    match kind {
        JavaKind::Int => values::java_int(value).map(drop),
        JavaKind::Long => values::java_long(value).map(drop),
        JavaKind::Bool => values::boolean(value).map(drop),
        JavaKind::Double => values::java_double(value).map(drop),
        JavaKind::Text => Ok(()),
    }
}

/// A known key that `key` probably meant: same letters in another case, or at most two
/// edits away (for keys long enough that two edits are still a typo, not another word).
/// The `updateSubGroup` option for a subscription-group setting that operators (and earlier
/// ringmq versions) put in a broker's file.
fn group_setting(key: &str) -> Option<&'static str> {
    match key {
        "whichBrokerWhenConsumeSlowly" => Some("-w <brokerId>"),
        _ => None,
    }
}

fn suggestion(key: &str) -> Option<&'static str> {
    let known = FIELDS
        .iter()
        .map(|f| f.key)
        .chain(KNOWN_KEYS.iter().map(|k| k.0));
    let mut best: Option<(usize, &'static str)> = None;
    for candidate in known {
        let distance = if candidate.eq_ignore_ascii_case(key) {
            0
        } else if key.len() >= 8 {
            edit_distance(key, candidate)
        } else {
            continue;
        };
        if distance <= 2 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(left: &str, right: &str) -> usize {
    let right = right.as_bytes();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, &l) in left.as_bytes().iter().enumerate() {
        let mut current = vec![i + 1; right.len() + 1];
        for (j, &r) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(l != r);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_are_sorted_for_binary_search() {
        assert!(KNOWN_KEYS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn typed_keys_are_unique_and_important_keys_are_typed() {
        let mut keys: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len());
        for key in IMPORTANT_KEYS {
            assert!(fields::find(key).is_some(), "{key}");
        }
    }

    #[test]
    fn suggestions_catch_case_and_typos_only() {
        assert_eq!(suggestion("brokername"), Some("brokerName"));
        assert_eq!(
            suggestion("storePathConsumerQueue"),
            Some("storePathConsumeQueue")
        );
        assert_eq!(suggestion("checkTransactionMessageEnable"), None);
    }
}
