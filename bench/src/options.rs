//! Command-line flags shared by `bench produce` and `bench consume`, with the short names of
//! RocketMQ's `producer.sh` and `consumer.sh`.

use std::time::Duration;

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
    pub(crate) report_interval: Duration,
    pub(crate) duration: Option<Duration>,
    pub(crate) rate: Option<u64>,
    pub(crate) batch: usize,
    pub(crate) connections: Option<usize>,
    pub(crate) queues: u32,
    pub(crate) json: Option<String>,
    pub(crate) group: String,
    pub(crate) filter: String,
    pub(crate) from_start: bool,
    pub(crate) pull_batch: i32,
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
            report_interval: Duration::from_secs(10),
            duration: None,
            rate: None,
            batch: 1,
            connections: None,
            queues: 8,
            json: None,
            group: "benchmark_consumer".to_owned(),
            filter: "*".to_owned(),
            from_start: false,
            pull_batch: 32,
        }
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

/// Parse flags; `-h` yields `Err("")`.
pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut iterator = args.iter();
    while let Some(flag) = iterator.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = iterator
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "-n" => options.namesrvs = split(value),
            "-t" => options.topic.clone_from(value),
            "-w" => options.threads = number(flag, value)?,
            "-s" => options.message_bytes = number(flag, value)?,
            "-k" => options.keys = boolean(flag, value)?,
            "-l" => options.tag_count = number(flag, value)?,
            "-q" => options.quantity = number(flag, value)?,
            "-ri" => options.report_interval = Duration::from_millis(number(flag, value)?),
            "--duration" => options.duration = Some(Duration::from_secs(number(flag, value)?)),
            "--rate" => options.rate = Some(number(flag, value)?),
            "--batch" | "-b" => options.batch = number(flag, value)?,
            "--connections" => options.connections = Some(number(flag, value)?),
            "--queues" => options.queues = number(flag, value)?,
            "--json" => options.json = Some(value.clone()),
            "-g" => options.group.clone_from(value),
            "-f" | "-e" => options.filter.clone_from(value),
            "--from" => options.from_start = value == "first",
            "--pull-batch" => options.pull_batch = number(flag, value)?,
            "-y" | "-m" | "-a" | "-d" | "-c" => {
                return Err(format!("{flag} is not supported by ringmq bench yet"));
            }
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    if options.namesrvs.is_empty() {
        return Err("no name server: pass -n 'host:9876' or set NAMESRV_ADDR".to_owned());
    }
    if options.threads == 0 || options.batch == 0 || options.message_bytes == 0 {
        return Err("-w, -s and --batch must be positive".to_owned());
    }
    Ok(options)
}

/// The machine, for JSON reports.
pub(crate) fn machine() -> serde_json::Value {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let git = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "kernel": kernel.trim(),
        "cpus": std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        "cpu_model": cpu,
        "git_revision": git,
    })
}
