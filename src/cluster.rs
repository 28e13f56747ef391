//! A name server and a broker in one process: the settings `ringmq dev` and
//! `ringmq bench --embedded` share, and how the pair is configured and started. The name
//! server's and broker's logs and stores all live under one directory.

use std::fmt::Write as _;
use std::path::PathBuf;

use ringmq_broker::config::BrokerConfig;
use ringmq_namesrv::NamesrvHandle;

/// What a local name server + broker pair runs with.
#[derive(Debug, Clone)]
pub(crate) struct LocalCluster {
    /// Store and logs directory; made absolute before use.
    pub(crate) store: PathBuf,
    /// Name server port; 0 picks a free one.
    pub(crate) namesrv_port: u16,
    /// Broker listen port; the broker also takes port-2 (VIP) and port+1 (HA).
    pub(crate) port: u16,
    pub(crate) shards: Option<u16>,
    pub(crate) sync_flush: bool,
    pub(crate) io_backend: String,
    /// Further broker.conf lines, `key=value`, checked like a config file's.
    pub(crate) settings: Vec<String>,
}

impl LocalCluster {
    /// Start the name server on its own thread, with its log and KV table under the store.
    pub(crate) fn start_namesrv(&self) -> Result<NamesrvHandle, String> {
        let mut config = ringmq_namesrv::NamesrvConfig::default();
        config.listen_port = self.namesrv_port;
        config.log_dir = self.store.join("logs");
        config.kv_config_path = self.store.join("namesrv").join("kvConfig.json");
        ringmq_namesrv::start(config).map_err(|error| format!("name server: {error}"))
    }

    /// The broker's configuration: one master of DefaultCluster on loopback, registering with
    /// `namesrv`, topics created on first use.
    pub(crate) fn broker_config(&self, namesrv: &str) -> Result<BrokerConfig, String> {
        let store =
            std::path::absolute(&self.store).map_err(|error| format!("--store: {error}"))?;
        let mut text = format!(
            "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nbrokerRole=ASYNC_MASTER\n\
             flushDiskType={}\nbrokerIP1=127.0.0.1\nlistenPort={}\nstorePathRootDir={}\nlogDir={}\n\
             autoCreateTopicEnable=true\nioBackend={}\n",
            if self.sync_flush { "SYNC_FLUSH" } else { "ASYNC_FLUSH" },
            self.port,
            store.join("store").display(),
            store.join("logs").display(),
            self.io_backend,
        );
        if let Some(shards) = self.shards {
            let _ = writeln!(text, "shards={shards}");
        }
        for setting in &self.settings {
            let _ = writeln!(text, "{setting}");
        }
        let mut loaded = ringmq_broker::config::from_str(&text, "ringmq local cluster")
            .map_err(|error| error.to_string())?;
        // Only `settings` can draw warnings (an unknown key, or one set twice): say so, as
        // `ringmq broker -c` does for its file.
        for warning in &loaded.warnings {
            eprintln!("WARN {warning}");
        }
        loaded
            .config
            .set_namesrv_addr(namesrv)
            .map_err(|error| error.to_string())?;
        Ok(loaded.config)
    }
}
