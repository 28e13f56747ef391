//! `ringmq dev`: a name server and a broker in one process with development defaults and a
//! store in a local directory — the quickest way to a working RocketMQ-compatible endpoint.

use std::path::PathBuf;

use crate::cluster::LocalCluster;

const USAGE: &str = "usage: ringmq dev [--store DIR] [--namesrv-port PORT] [--port PORT] [--shards N] [--sync-flush] [--set KEY=VALUE]...
  --store DIR          store and logs directory (default ./ringmq-dev)
  --namesrv-port PORT  name server port (default 9876)
  --port PORT          broker listen port (default 10911; also uses PORT-2 and PORT+1)
  --shards N           engine shards (default: one per core)
  --sync-flush         acknowledge sends only after fdatasync (SYNC_FLUSH)
  --io-backend B       auto (default), uring or fallback
  --set KEY=VALUE      any broker.conf key, e.g. --set idlePollMicros=200 (repeatable)";

fn parse(args: &[String]) -> Result<LocalCluster, String> {
    let mut options = LocalCluster {
        store: PathBuf::from("ringmq-dev"),
        namesrv_port: 9876,
        port: 10911,
        shards: None,
        sync_flush: false,
        io_backend: "auto".to_owned(),
        settings: Vec::new(),
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
            "--set" => {
                let setting = value("--set")?;
                if !setting.contains('=') || setting.contains('\n') {
                    return Err(format!(
                        "--set {setting}: expected KEY=VALUE, one broker.conf line"
                    ));
                }
                options.settings.push(setting);
            }
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

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn set_passes_broker_conf_lines_through_the_config_checks() {
        // Hazard: `--set` is how benchmarks turn knobs on a dev broker; a value that is not
        // checked like a config file's would run a benchmark with a silently wrong setting.
        let cluster = parse(&args(&["--set", "idlePollMicros=0"])).expect("parses");
        let config = cluster.broker_config("127.0.0.1:9876").expect("loads");
        assert_eq!(config.idle_poll_micros, 0);

        let cluster = parse(&args(&["--set", "idlePollMicros=soon"])).expect("parses");
        let error = cluster
            .broker_config("127.0.0.1:9876")
            .expect_err("a bad value is refused");
        assert!(error.contains("idlePollMicros=soon"), "{error}");

        let error = parse(&args(&["--set", "idlePollMicros"])).expect_err("no '='");
        assert!(error.contains("expected KEY=VALUE"), "{error}");
        assert!(parse(&args(&["--set"])).is_err());
    }
}
