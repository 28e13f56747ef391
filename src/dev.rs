//! `ringmq dev`: a name server and a broker in one process with development defaults and a
//! store in a local directory — the quickest way to a working RocketMQ-compatible endpoint.

use std::fmt::Write as _;
use std::path::PathBuf;

use ringmq_broker::config::BrokerConfig;

const USAGE: &str = "usage: ringmq dev [--store DIR] [--namesrv-port PORT] [--port PORT] [--shards N] [--sync-flush]
  --store DIR          store and logs directory (default ./ringmq-dev)
  --namesrv-port PORT  name server port (default 9876)
  --port PORT          broker listen port (default 10911; also uses PORT-2 and PORT+1)
  --shards N           engine shards (default: one per core)
  --sync-flush         acknowledge sends only after fdatasync (SYNC_FLUSH)
  --io-backend B       auto (default), uring or fallback";

struct Options {
    store: PathBuf,
    namesrv_port: u16,
    port: u16,
    shards: Option<u16>,
    sync_flush: bool,
    io_backend: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        store: PathBuf::from("ringmq-dev"),
        namesrv_port: 9876,
        port: 10911,
        shards: None,
        sync_flush: false,
        io_backend: "auto".to_owned(),
    };
    let mut iterator = args.iter();
    while let Some(argument) = iterator.next() {
        let mut value = |name: &str| {
            iterator
                .next()
                .cloned()
                .ok_or(format!("{name} needs a value"))
        };
        match argument.as_str() {
            "--store" => options.store = PathBuf::from(value("--store")?),
            "--namesrv-port" => {
                options.namesrv_port = value("--namesrv-port")?
                    .parse()
                    .map_err(|_| "--namesrv-port: expected a port number")?;
            }
            "--port" => {
                options.port = value("--port")?
                    .parse()
                    .map_err(|_| "--port: expected a port number")?;
            }
            "--shards" => {
                options.shards = Some(
                    value("--shards")?
                        .parse()
                        .map_err(|_| "--shards: expected a number")?,
                );
            }
            "--sync-flush" => options.sync_flush = true,
            "--io-backend" => options.io_backend = value("--io-backend")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(options)
}

fn broker_config(options: &Options, namesrv: &str) -> Result<BrokerConfig, String> {
    let store = std::path::absolute(&options.store).map_err(|error| format!("--store: {error}"))?;
    let mut text = format!(
        "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nbrokerRole=ASYNC_MASTER\n\
         flushDiskType={}\nbrokerIP1=127.0.0.1\nlistenPort={}\nstorePathRootDir={}\nlogDir={}\n\
         autoCreateTopicEnable=true\nioBackend={}\n",
        if options.sync_flush { "SYNC_FLUSH" } else { "ASYNC_FLUSH" },
        options.port,
        store.join("store").display(),
        store.join("logs").display(),
        options.io_backend,
    );
    if let Some(shards) = options.shards {
        let _ = writeln!(text, "shards={shards}");
    }
    let mut loaded =
        ringmq_broker::config::from_str(&text, "ringmq dev").map_err(|error| error.to_string())?;
    loaded
        .config
        .set_namesrv_addr(namesrv)
        .map_err(|error| error.to_string())?;
    Ok(loaded.config)
}

/// Entry point of `ringmq dev`.
pub(crate) fn run(args: &[String]) -> i32 {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return 0;
        }
        Err(message) => {
            eprintln!("ringmq dev: {message}\n{USAGE}");
            return 2;
        }
    };
    let mut namesrv_config = ringmq_namesrv::NamesrvConfig::default();
    namesrv_config.listen_port = options.namesrv_port;
    namesrv_config.log_dir = options.store.join("logs");
    namesrv_config.kv_config_path = options.store.join("namesrv").join("kvConfig.json");
    let namesrv = match ringmq_namesrv::start(namesrv_config) {
        Ok(namesrv) => namesrv,
        Err(error) => {
            eprintln!("ringmq dev: name server: {error}");
            return 1;
        }
    };
    let address = format!("127.0.0.1:{}", namesrv.local_addr().port());
    let config = match broker_config(&options, &address) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("ringmq dev: {message}");
            let _ = namesrv.shutdown();
            return 1;
        }
    };
    println!(
        "ringmq dev: name server on {address}, broker on 127.0.0.1:{}, store in {}\n\
         point a client at namesrvAddr={address}, e.g. `ringmq bench produce -n {address}`; Ctrl-C stops",
        options.port,
        options.store.display()
    );
    let code = ringmq_broker::serve(config);
    if let Err(error) = namesrv.shutdown() {
        eprintln!("ringmq dev: name server shutdown: {error}");
    }
    code
}
