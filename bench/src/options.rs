//! Command-line flags shared by `bench produce` and `bench consume`, with the short names of
//! RocketMQ's `producer.sh` and `consumer.sh`, plus ringmq's own long flags.

use std::time::Duration;

use crate::embedded::EmbeddedSpec;

/// `-y true`: RocketMQ's async producer uses one thread and stops queueing at 10,000
/// outstanding sends (`MAX_LENGTH_ASYNC_QUEUE`); ringmq keeps as many in flight.
pub(crate) const ASYNC_IN_FLIGHT_MAX: usize = 10_000;

/// Parsed flags; each subcommand reads the ones it knows.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) namesrvs: Vec<String>,
    pub(crate) topic: String,
    pub(crate) threads: usize,
    pub(crate) message_bytes: usize,
    pub(crate) keys: bool,
    pub(crate) tag_count: u32,
    pub(crate) quantity: u64,
    pub(crate) async_send: bool,
    pub(crate) report_interval: Duration,
    pub(crate) duration: Option<Duration>,
    /// `--warmup S`: sends intended in the first S seconds stay out of the latency percentiles.
    pub(crate) warmup: Duration,
    pub(crate) rate: Option<u64>,
    pub(crate) batch: usize,
    pub(crate) connections: Option<usize>,
    pub(crate) queues: u32,
    pub(crate) json: Option<String>,
    pub(crate) group: String,
    pub(crate) expression_type: String,
    pub(crate) filter: String,
    pub(crate) from_start: bool,
    pub(crate) pull_batch: i32,
    pub(crate) verify: bool,
    pub(crate) embedded: Option<EmbeddedSpec>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namesrvs: std::env::var("NAMESRV_ADDR")
                .map(|v| split(&v))
                .unwrap_or_default(),
            topic: "BenchmarkTest".to_owned(),
            threads: 64,
            message_bytes: 128,
            keys: false,
            tag_count: 0,
            quantity: 0,
            async_send: false,
            report_interval: Duration::from_secs(10),
            duration: None,
            warmup: Duration::ZERO,
            rate: None,
            batch: 1,
            connections: None,
            queues: 8,
            json: None,
            group: "benchmark_consumer".to_owned(),
            expression_type: "TAG".to_owned(),
            filter: "*".to_owned(),
            from_start: false,
            pull_batch: 32,
            verify: false,
            embedded: None,
        }
    }
}

impl Options {
    /// Connections the producer opens: `--connections`, else one per core of this machine,
    /// at most 4 (and at most `-w`); one for `-y true`.
    ///
    /// Each connection is a lane thread. With the broker on the same machine and its default
    /// of one shard per core, one lane per core keeps each lane's queues on one shard (see
    /// `produce::lanes`), and fewer lanes batch more sends per system call and wake-up: on
    /// 2 vCPUs, 2 lanes instead of 4 cost broker and generator about a fifth less CPU per
    /// message (docs/benchmarks.md, "Connections of the load generator").
    pub(crate) fn producer_connections(&self) -> usize {
        if self.async_send {
            return 1;
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        self.connections
            .unwrap_or_else(|| cores.clamp(1, 4))
            .clamp(1, self.threads.max(1))
    }

    /// Sends in flight across all connections: `-w`, or 10,000 for `-y true`.
    pub(crate) fn in_flight(&self) -> usize {
        if self.async_send {
            ASYNC_IN_FLIGHT_MAX
        } else {
            self.threads
        }
    }

    /// Every setting as JSON, for reports: a run can be repeated from its report alone.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "topic": self.topic,
            "threads": self.threads,
            "message_bytes": self.message_bytes,
            "keys": self.keys,
            "tag_count": self.tag_count,
            "quantity": self.quantity,
            "async_send": self.async_send,
            "report_interval_ms": u64::try_from(self.report_interval.as_millis()).unwrap_or(0),
            "duration_seconds": self.duration.map(|d| d.as_secs()),
            "warmup_seconds": self.warmup.as_secs(),
            "rate": self.rate,
            "mode": if self.rate.is_some() { "open_loop" } else { "closed_loop" },
            "batch": self.batch,
            "connections": self.producer_connections(),
            "in_flight": self.in_flight(),
            "queues_per_broker_when_created": self.queues,
            "group": self.group,
            "expression_type": self.expression_type,
            "filter": self.filter,
            "from": if self.from_start { "first" } else { "last" },
            "pull_batch": self.pull_batch,
            "verify": self.verify,
            "embedded": self.embedded.as_ref().map(EmbeddedSpec::to_json),
            "namesrv": if self.embedded.is_some() { Vec::new() } else { self.namesrvs.clone() },
        })
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value}: expected a number"))
}

fn boolean(flag: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{flag} {other}: expected true or false")),
    }
}

/// `-e FILE`: as in `consumer.sh`, the filter expression is read from a file.
fn expression_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|error| {
            format!("-e {path}: cannot read the filter expression file ({error}); pass the expression itself with --filter")
        })
}

fn embedded(options: &mut Options) -> &mut EmbeddedSpec {
    options.embedded.get_or_insert_with(EmbeddedSpec::default)
}

/// Apply one flag that takes a value.
fn apply(options: &mut Options, flag: &str, value: &str) -> Result<(), String> {
    match flag {
        "-n" => options.namesrvs = split(value),
        "-t" => value.clone_into(&mut options.topic),
        "-w" => options.threads = number(flag, value)?,
        "-s" => options.message_bytes = number(flag, value)?,
        "-k" => options.keys = boolean(flag, value)?,
        "-l" => options.tag_count = number(flag, value)?,
        "-q" => options.quantity = number(flag, value)?,
        "-y" => options.async_send = boolean(flag, value)?,
        "-ri" => options.report_interval = Duration::from_millis(number(flag, value)?),
        "--duration" => options.duration = Some(Duration::from_secs(number(flag, value)?)),
        "--rate" => options.rate = Some(number(flag, value)?),
        "--warmup" => options.warmup = Duration::from_secs(number(flag, value)?),
        "--batch" | "-b" => options.batch = number(flag, value)?,
        "--connections" => options.connections = Some(number(flag, value)?),
        "--queues" => options.queues = number(flag, value)?,
        "--json" => options.json = Some(value.to_owned()),
        "-g" => value.clone_into(&mut options.group),
        "-f" => match value {
            "TAG" | "SQL92" => value.clone_into(&mut options.expression_type),
            other => return Err(format!("-f {other}: expected TAG or SQL92")),
        },
        "-e" => options.filter = expression_file(value)?,
        "--filter" => value.clone_into(&mut options.filter),
        "--from" => options.from_start = value == "first",
        "--pull-batch" => options.pull_batch = number(flag, value)?,
        "--shards" => embedded(options).shards = Some(number(flag, value)?),
        "--flush" => match value {
            "sync" => embedded(options).sync_flush = true,
            "async" => embedded(options).sync_flush = false,
            other => return Err(format!("--flush {other}: expected sync or async")),
        },
        "--io-backend" => value.clone_into(&mut embedded(options).io_backend),
        "-m" | "-a" | "-d" | "-c" => {
            return Err(format!("{flag} is not supported by ringmq bench yet"));
        }
        other => return Err(format!("unknown flag '{other}'")),
    }
    Ok(())
}

/// Parse flags; `-h` yields `Err("")`.
pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut embedded_requested = false;
    let mut iterator = args.iter();
    while let Some(flag) = iterator.next() {
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--verify" => options.verify = true,
            "--embedded" => embedded_requested = true,
            _ => {
                let value = iterator
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                apply(&mut options, flag, value)?;
            }
        }
    }
    check(&mut options, embedded_requested)?;
    Ok(options)
}

fn check(options: &mut Options, embedded_requested: bool) -> Result<(), String> {
    if embedded_requested {
        embedded(options);
        options.namesrvs.clear();
    } else if options.embedded.is_some() {
        return Err("--shards, --flush and --io-backend configure --embedded only".to_owned());
    } else if options.namesrvs.is_empty() {
        return Err(
            "no name server: pass -n 'host:9876', set NAMESRV_ADDR, or use --embedded".to_owned(),
        );
    }
    if options.threads == 0 || options.batch == 0 || options.message_bytes == 0 {
        return Err("-w, -s and --batch must be positive".to_owned());
    }
    if options.duration.is_some_and(|d| d <= options.warmup) {
        return Err(
            "--warmup must be shorter than --duration: no latency would be measured".to_owned(),
        );
    }
    if options.verify && options.duration.is_none() && options.quantity == 0 {
        return Err("--verify needs an end: pass --duration S or -q N".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Options, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    #[test]
    fn async_flag_forces_one_connection_with_rocketmq_flow_control_bound() {
        let options = parsed("-n h:9876 -y true -w 64").expect("valid");
        assert_eq!(options.producer_connections(), 1);
        assert_eq!(options.in_flight(), ASYNC_IN_FLIGHT_MAX);
    }

    /// Hazard: the default lane count exceeds the senders (a lane with no sender never
    /// sends) or ignores `--connections`.
    #[test]
    fn default_connections_follow_the_cores_within_the_senders() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let options = parsed("-n h:9876 -w 64").expect("valid");
        assert_eq!(options.producer_connections(), cores.clamp(1, 4));
        let options = parsed("-n h:9876 -w 1").expect("valid");
        assert_eq!(options.producer_connections(), 1);
        let options = parsed("-n h:9876 -w 64 --connections 3").expect("valid");
        assert_eq!(options.producer_connections(), 3);
    }

    #[test]
    fn embedded_settings_without_embedded_are_refused_not_ignored() {
        let error = parsed("-n h:9876 --flush sync").expect_err("refused");
        assert!(error.contains("--embedded"), "{error}");
        let options = parsed("--embedded --flush sync --shards 2").expect("valid");
        let spec = options.embedded.expect("embedded");
        assert!(spec.sync_flush);
        assert_eq!(spec.shards, Some(2));
    }

    #[test]
    fn a_warmup_as_long_as_the_run_is_refused_because_nothing_would_be_measured() {
        let error = parsed("--embedded --warmup 5 --duration 5").expect_err("refused");
        assert!(error.contains("--warmup"), "{error}");
        let options = parsed("--embedded --warmup 2 --duration 5").expect("valid");
        assert_eq!(options.warmup, Duration::from_secs(2));
    }

    #[test]
    fn verify_without_an_end_is_refused_because_it_would_never_check() {
        assert!(parsed("--embedded --verify").is_err());
        assert!(parsed("--embedded --verify --duration 2").is_ok());
    }

    #[test]
    fn filter_type_is_tag_or_sql92_only() {
        assert!(parsed("-n h:9876 -f TAG").is_ok());
        assert!(parsed("-n h:9876 -f TagA").is_err());
    }

    #[test]
    fn json_configuration_names_every_setting() {
        let options = parsed("-n h:9876 -w 8 -s 1024 --rate 5000").expect("valid");
        let json = options.to_json();
        assert_eq!(json["threads"], 8);
        assert_eq!(json["message_bytes"], 1024);
        assert_eq!(json["mode"], "open_loop");
        assert_eq!(json["namesrv"][0], "h:9876");
    }
}
