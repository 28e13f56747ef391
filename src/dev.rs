//! `ringmq dev`: a name server and a broker in one process with development defaults and a
//! store in a local directory — the quickest way to a working RocketMQ-compatible endpoint.

use std::path::PathBuf;

use crate::cluster::LocalCluster;

const USAGE: &str = "usage: ringmq dev [--store DIR] [--namesrv-port PORT] [--port PORT] [--shards N] [--sync-flush]
  --store DIR          store and logs directory (default ./ringmq-dev)
  --namesrv-port PORT  name server port (default 9876)
  --port PORT          broker listen port (default 10911; also uses PORT-2 and PORT+1)
  --shards N           engine shards (default: one per core)
  --sync-flush         acknowledge sends only after fdatasync (SYNC_FLUSH)
  --io-backend B       auto (default), uring or fallback";

fn parse(args: &[String]) -> Result<LocalCluster, String> {
    let mut options = LocalCluster {
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

/// Entry point of `ringmq dev`.
pub(crate) fn run(args: &[String]) -> i32 {
    let cluster = match parse(args) {
        Ok(cluster) => cluster,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return 0;
        }
        Err(message) => {
            eprintln!("ringmq dev: {message}\n{USAGE}");
            return 2;
        }
    };
    let namesrv = match cluster.start_namesrv() {
        Ok(namesrv) => namesrv,
        Err(message) => {
            eprintln!("ringmq dev: {message}");
            return 1;
        }
    };
    let address = format!("127.0.0.1:{}", namesrv.local_addr().port());
    let config = match cluster.broker_config(&address) {
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
        cluster.port,
        cluster.store.display()
    );
    let code = ringmq_broker::serve(config);
    if let Err(error) = namesrv.shutdown() {
        eprintln!("ringmq dev: name server shutdown: {error}");
    }
    code
}
