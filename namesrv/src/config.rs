//! Name server configuration: RocketMQ's `NamesrvConfig` and `NettyServerConfig` keys, loaded
//! from a Java properties file, printed by `-p`, read and updated over the wire (318/319).
//!
//! Keys the name server acts on are typed fields. Keys RocketMQ defines but ringmq has no use
//! for (thread-pool sizes, socket buffer sizes, …) are accepted, type-checked and echoed back so
//! that existing config files and tools keep working. An unknown key is a warning; a value that
//! does not parse is an error naming the key, the value and what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::constants::{
    CHANNEL_IDLE_SECONDS_DEFAULT, LISTEN_PORT_DEFAULT, SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS_DEFAULT,
};
use crate::properties;

/// Environment variable that overrides the default log directory.
pub const LOG_DIR_ENV: &str = "RINGMQ_LOG_DIR";

/// What kind of value a key takes; used for validation and in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Text,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Bool => "true or false",
            Kind::Int => "a 32-bit integer",
            Kind::Text => "text",
        }
    }

    fn accepts(self, value: &str) -> bool {
        match self {
            Kind::Bool => parse_bool(value).is_some(),
            Kind::Int => value.parse::<i32>().is_ok(),
            Kind::Text => true,
        }
    }
}

/// Keys RocketMQ defines for the name server that ringmq accepts but does not act on, with
/// their defaults. Kept sorted by name.
const INERT_KEYS: &[(&str, Kind, &str)] = &[
    ("clientRequestThreadPoolNums", Kind::Int, "8"),
    ("clientRequestThreadPoolQueueCapacity", Kind::Int, "50000"),
    ("defaultThreadPoolNums", Kind::Int, "16"),
    ("defaultThreadPoolQueueCapacity", Kind::Int, "10000"),
    ("deleteTopicWithBrokerRegistration", Kind::Bool, "false"),
    ("enableControllerInNamesrv", Kind::Bool, "false"),
    ("enableShutdownGracefully", Kind::Bool, "false"),
    ("needWaitForService", Kind::Bool, "false"),
    ("notifyMinBrokerIdChanged", Kind::Bool, "false"),
    ("productEnvName", Kind::Text, "center"),
    ("serverAsyncSemaphoreValue", Kind::Int, "64"),
    ("serverCallbackExecutorThreads", Kind::Int, "0"),
    ("serverNettyWorkerGroupEnable", Kind::Bool, "true"),
    ("serverOnewaySemaphoreValue", Kind::Int, "256"),
    ("serverPooledByteBufAllocatorEnable", Kind::Bool, "true"),
    ("serverSelectorThreads", Kind::Int, "3"),
    ("serverSocketBacklog", Kind::Int, "1024"),
    ("serverSocketRcvBufSize", Kind::Int, "0"),
    ("serverSocketSndBufSize", Kind::Int, "0"),
    ("serverWorkerThreads", Kind::Int, "8"),
    ("shutdownWaitTimeSeconds", Kind::Int, "30"),
    ("unRegisterBrokerQueueCapacity", Kind::Int, "3000"),
    ("useEpollNativeSelector", Kind::Bool, "false"),
    ("waitSecondsForService", Kind::Int, "45"),
    ("writeBufferHighWaterMark", Kind::Int, "0"),
    ("writeBufferLowWaterMark", Kind::Int, "0"),
];

/// Why a config item or file was rejected.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The value of a known key does not parse.
    BadValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// The config file could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadValue {
                key,
                value,
                expected,
            } => write!(f, "config key {key}: value {value:?} is not {expected}"),
            ConfigError::Read { path, error } => write!(
                f,
                "cannot read config file {}: {error}; check the path given with -c",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Name server configuration. `Default` is RocketMQ's defaults with listen port 9876.
#[derive(Clone, Debug, PartialEq)]
pub struct NamesrvConfig {
    /// `bindAddress`: address to listen on.
    pub bind_address: String,
    /// `listenPort`: 0 picks a free port (reported by the handle).
    pub listen_port: u16,
    /// `rocketmqHome`.
    pub rocketmq_home: String,
    /// `kvConfigPath`: where the KV config table is persisted.
    pub kv_config_path: PathBuf,
    /// `configStorePath`: reported only; ringmq does not persist runtime config updates.
    pub config_store_path: PathBuf,
    /// `clusterTest`.
    pub cluster_test: bool,
    /// `orderMessageEnable`: attach `orderTopicConf` from the KV table to route replies.
    pub order_message_enable: bool,
    /// `returnOrderTopicConfigToBroker`: reply to REGISTER_BROKER with the order-topic KV list.
    pub return_order_topic_config_to_broker: bool,
    /// `scanNotActiveBrokerInterval` in milliseconds.
    pub scan_not_active_broker_interval_ms: u64,
    /// `supportActingMaster`.
    pub support_acting_master: bool,
    /// `enableAllTopicList`: serve GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub enable_all_topic_list: bool,
    /// `enableTopicList`: serve GET_TOPICS_BY_CLUSTER.
    pub enable_topic_list: bool,
    /// `serverChannelMaxIdleTimeSeconds`: close connections idle this long.
    pub server_channel_max_idle_time_seconds: u64,
    /// `configBlackList`: keys UPDATE_NAMESRV_CONFIG may not change, `;`-separated.
    pub config_black_list: String,
    /// `logDir` (ringmq): directory of `namesrv.log`.
    pub log_dir: PathBuf,
    /// `logFileBytesMax` (ringmq): size at which the log file rolls.
    pub log_file_bytes_max: u64,
    /// Accepted keys ringmq does not act on, with their current text.
    inert: BTreeMap<&'static str, String>,
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The default log directory: `$RINGMQ_LOG_DIR`, else `~/logs/rocketmqlogs`.
pub fn log_dir_default() -> PathBuf {
    std::env::var_os(LOG_DIR_ENV).map_or_else(
        || home_dir().join("logs").join("rocketmqlogs"),
        PathBuf::from,
    )
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        let home = home_dir();
        Self {
            bind_address: "0.0.0.0".to_owned(),
            listen_port: LISTEN_PORT_DEFAULT,
            rocketmq_home: std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            kv_config_path: home.join("namesrv").join("kvConfig.json"),
            config_store_path: home.join("namesrv").join("namesrv.properties"),
            cluster_test: false,
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            scan_not_active_broker_interval_ms: SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS_DEFAULT,
            support_acting_master: false,
            enable_all_topic_list: true,
            enable_topic_list: true,
            server_channel_max_idle_time_seconds: CHANNEL_IDLE_SECONDS_DEFAULT,
            config_black_list: "configBlackList;configStorePath;kvConfigPath".to_owned(),
            log_dir: log_dir_default(),
            log_file_bytes_max: crate::constants::LOG_FILE_BYTES_MAX,
            inert: INERT_KEYS
                .iter()
                .map(|(key, _, default)| (*key, (*default).to_owned()))
                .collect(),
        }
    }
}

/// Outcome of applying a set of properties: keys that were not recognised (warnings).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub unknown_keys: Vec<String>,
}

impl NamesrvConfig {
    /// Load `path` over the defaults.
    pub fn from_file(path: &Path) -> Result<(Self, Applied), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let mut config = Self::default();
        let applied = config.apply_text(&text)?;
        Ok((config, applied))
    }

    /// Apply properties text. On error nothing is changed.
    pub fn apply_text(&mut self, text: &str) -> Result<Applied, ConfigError> {
        let mut updated = self.clone();
        let mut applied = Applied::default();
        for (key, value) in properties::parse(text) {
            if !updated.set(&key, &value)? {
                applied.unknown_keys.push(key);
            }
        }
        *self = updated;
        Ok(applied)
    }

    /// Keys of `text` that `configBlackList` forbids updating at runtime.
    pub fn black_listed_keys(&self, text: &str) -> Vec<String> {
        let black_list: Vec<&str> = self
            .config_black_list
            .split(';')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .collect();
        properties::parse(text)
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| black_list.contains(&key.as_str()))
            .collect()
    }

    /// Set one key. `Ok(false)` means the key is unknown (the caller warns).
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let bad = |expected: &'static str| ConfigError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected,
        };
        let as_bool = || parse_bool(value).ok_or_else(|| bad(Kind::Bool.expected()));
        let as_u64 = || {
            value
                .parse::<u64>()
                .map_err(|_| bad("a non-negative integer"))
        };
        match key {
            "bindAddress" => value.clone_into(&mut self.bind_address),
            "listenPort" => {
                self.listen_port = value.parse().map_err(|_| bad("a port number 0..=65535"))?;
            }
            "rocketmqHome" => value.clone_into(&mut self.rocketmq_home),
            "kvConfigPath" => self.kv_config_path = PathBuf::from(value),
            "configStorePath" => self.config_store_path = PathBuf::from(value),
            "clusterTest" => self.cluster_test = as_bool()?,
            "orderMessageEnable" => self.order_message_enable = as_bool()?,
            "returnOrderTopicConfigToBroker" => {
                self.return_order_topic_config_to_broker = as_bool()?;
            }
            "scanNotActiveBrokerInterval" => {
                let interval = as_u64()?;
                if interval == 0 {
                    return Err(bad("a positive number of milliseconds"));
                }
                self.scan_not_active_broker_interval_ms = interval;
            }
            "supportActingMaster" => self.support_acting_master = as_bool()?,
            "enableAllTopicList" => self.enable_all_topic_list = as_bool()?,
            "enableTopicList" => self.enable_topic_list = as_bool()?,
            "serverChannelMaxIdleTimeSeconds" => {
                self.server_channel_max_idle_time_seconds = as_u64()?;
            }
            "configBlackList" => value.clone_into(&mut self.config_black_list),
            "logDir" => self.log_dir = PathBuf::from(value),
            "logFileBytesMax" => self.log_file_bytes_max = as_u64()?,
            _ => return self.set_inert(key, value),
        }
        Ok(true)
    }

    fn set_inert(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let Some((name, kind, _)) = INERT_KEYS.iter().find(|(name, _, _)| *name == key) else {
            return Ok(false);
        };
        if !kind.accepts(value) {
            return Err(ConfigError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
                expected: kind.expected(),
            });
        }
        self.inert.insert(name, value.to_owned());
        Ok(true)
    }

    /// Every config item as (key, value), sorted by key, as `-p` and GET_NAMESRV_CONFIG show.
    pub fn items(&self) -> Vec<(&'static str, String)> {
        let mut items: Vec<(&'static str, String)> = vec![
            ("bindAddress", self.bind_address.clone()),
            ("listenPort", self.listen_port.to_string()),
            ("rocketmqHome", self.rocketmq_home.clone()),
            ("kvConfigPath", self.kv_config_path.display().to_string()),
            (
                "configStorePath",
                self.config_store_path.display().to_string(),
            ),
            ("clusterTest", self.cluster_test.to_string()),
            ("orderMessageEnable", self.order_message_enable.to_string()),
            (
                "returnOrderTopicConfigToBroker",
                self.return_order_topic_config_to_broker.to_string(),
            ),
            (
                "scanNotActiveBrokerInterval",
                self.scan_not_active_broker_interval_ms.to_string(),
            ),
            (
                "supportActingMaster",
                self.support_acting_master.to_string(),
            ),
            ("enableAllTopicList", self.enable_all_topic_list.to_string()),
            ("enableTopicList", self.enable_topic_list.to_string()),
            (
                "serverChannelMaxIdleTimeSeconds",
                self.server_channel_max_idle_time_seconds.to_string(),
            ),
            ("configBlackList", self.config_black_list.clone()),
            ("logDir", self.log_dir.display().to_string()),
            ("logFileBytesMax", self.log_file_bytes_max.to_string()),
        ];
        items.extend(self.inert.iter().map(|(key, value)| (*key, value.clone())));
        items.sort_by_key(|(key, _)| *key);
        items
    }

    /// The items as properties text.
    pub fn to_properties_text(&self) -> String {
        let items = self.items();
        properties::render(items.iter().map(|(key, value)| (*key, value.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_rocketmq() {
        let config = NamesrvConfig::default();
        assert_eq!(config.listen_port, 9876);
        assert_eq!(config.scan_not_active_broker_interval_ms, 5_000);
        assert!(config.enable_all_topic_list);
        assert!(config.kv_config_path.ends_with("namesrv/kvConfig.json"));
    }

    #[test]
    fn listen_port_in_file_overrides_default() {
        let mut config = NamesrvConfig::default();
        let applied = config.apply_text("listenPort = 9988\n").unwrap();
        assert_eq!(config.listen_port, 9988);
        assert!(applied.unknown_keys.is_empty());
    }

    #[test]
    fn unknown_key_is_reported_not_fatal() {
        let mut config = NamesrvConfig::default();
        let applied = config
            .apply_text("listenPrt=1\nclusterTest=true\n")
            .unwrap();
        assert_eq!(applied.unknown_keys, vec!["listenPrt".to_owned()]);
        assert!(config.cluster_test);
    }

    #[test]
    fn bad_value_names_key_value_and_expectation_and_changes_nothing() {
        let mut config = NamesrvConfig::default();
        let error = config
            .apply_text("clusterTest=true\norderMessageEnable=yes\n")
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("orderMessageEnable"), "{text}");
        assert!(text.contains("\"yes\""), "{text}");
        assert!(text.contains("true or false"), "{text}");
        assert!(!config.cluster_test, "a failed apply must not half-apply");
        let error = config.apply_text("listenPort=70000").unwrap_err();
        assert!(error.to_string().contains("port number"));
        let error = config.apply_text("serverWorkerThreads=many").unwrap_err();
        assert!(error.to_string().contains("serverWorkerThreads"));
    }

    #[test]
    fn items_are_sorted_and_round_trip_through_properties_text() {
        let mut config = NamesrvConfig::default();
        config
            .apply_text("enableAllTopicList=false\nproductEnvName=test")
            .unwrap();
        let items = config.items();
        let keys: Vec<&str> = items.iter().map(|(key, _)| *key).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        let mut copy = NamesrvConfig::default();
        let applied = copy.apply_text(&config.to_properties_text()).unwrap();
        assert!(applied.unknown_keys.is_empty(), "{applied:?}");
        assert_eq!(copy, config);
    }

    #[test]
    fn black_list_blocks_kv_config_path_updates() {
        let config = NamesrvConfig::default();
        assert_eq!(
            config.black_listed_keys("kvConfigPath=/tmp/x\nclusterTest=true"),
            vec!["kvConfigPath".to_owned()]
        );
    }
}
