//! `ringmq bench`: load generators compatible with RocketMQ's `benchmark/producer.sh` and
//! `consumer.sh`, with HDR latency percentiles, JSON reports, a delivery check (`--verify`),
//! an in-process cluster (`--embedded`) and a regression gate between two reports
//! (`bench compare`).
#![forbid(unsafe_code)]
#![allow(
    clippy::cast_precision_loss,
    reason = "benchmark rates and latencies are reported as floating point"
)]

mod client;
mod clock;
mod compare;
mod consume;
mod embedded;
pub mod instructions;
mod options;
mod produce;
mod readback;
mod report;
mod route;
mod stats;
mod verify;

pub use embedded::{EmbeddedCluster, EmbeddedSpec, Launcher};

use report::Outcome;

const USAGE: &str = "usage: ringmq bench <produce|consume|compare> [flags]
produce: -n namesrv -t topic(BenchmarkTest) -w threads(64) -s size(128) -k keys(false)
         -l tagCount(0) -q quantity(0=until --duration) -y async(false) -ri reportMs(10000)
         --duration S --warmup S (not in the percentiles) --rate msgs/s (open loop)
         --batch N --queues Q
         --connections C (default: this machine's cores, at most 4)
         --json FILE --verify (read everything back: no loss, in order)
consume: -n namesrv -t topic -g group -w connections -f TAG|SQL92 -e expressionFile
         --filter EXPR --from first|last -q quantity --duration S --pull-batch N -ri reportMs
         --json FILE
both:    --embedded [--flush async|sync] [--shards N] [--io-backend auto|uring|fallback]
         (a name server and broker in this process on a temporary store, instead of -n)
compare: BASE.json NEW.json [--max-regression PCT(5)]
         (figures side by side; exit 1 when throughput fell or latency rose by more than PCT)";

/// How long an embedded broker may take to register with its name server.
const EMBEDDED_REGISTRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Entry point of `ringmq bench`; returns the exit code. `launcher` starts the cluster that
/// `--embedded` asks for.
pub fn run(args: &[String], launcher: &Launcher) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return 2;
    };
    if command == "compare" {
        return compare::run(rest);
    }
    let mut options = match options::parse(rest) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return 0;
        }
        Err(message) => {
            eprintln!("ringmq bench: {message}\n{USAGE}");
            return 2;
        }
    };
    let cluster = match &options.embedded {
        Some(spec) => match launcher(spec) {
            Ok(cluster) => {
                options.namesrvs = vec![cluster.namesrv_address()];
                println!(
                    "ringmq bench: embedded name server {} and broker, store {}",
                    cluster.namesrv_address(),
                    cluster.store_description()
                );
                Some(cluster)
            }
            Err(message) => {
                eprintln!("ringmq bench: --embedded: {message}");
                return 1;
            }
        },
        None => None,
    };
    let result = if cluster.is_some() {
        route::wait_for_master(&options.namesrvs, EMBEDDED_REGISTRATION_WAIT)
            .and_then(|()| dispatch(command, &options))
    } else {
        dispatch(command, &options)
    };
    let stopped = cluster.map_or(Ok(()), EmbeddedCluster::stop);
    finish(result, stopped, options.json.as_deref())
}

fn dispatch(command: &str, options: &options::Options) -> Result<Outcome, String> {
    match command {
        "produce" => produce::run(options),
        "consume" => consume::run(options),
        other => Err(format!("unknown bench command '{other}'\n{USAGE}")),
    }
}

/// Write the report, then turn the run's outcome into an exit code.
fn finish(result: Result<Outcome, String>, stopped: Result<(), String>, json: Option<&str>) -> i32 {
    let mut code = match result {
        Ok(outcome) => {
            let written = json.map_or(Ok(()), |path| {
                std::fs::write(path, format!("{:#}\n", outcome.report))
                    .map_err(|error| format!("cannot write the report to {path}: {error}"))
            });
            match (written, outcome.passed) {
                (Err(message), _) => {
                    eprintln!("ringmq bench: {message}");
                    1
                }
                (Ok(()), false) => {
                    eprintln!("ringmq bench: verification FAILED (see the [Verify] line)");
                    1
                }
                (Ok(()), true) => 0,
            }
        }
        Err(message) => {
            eprintln!("ringmq bench: {message}");
            1
        }
    };
    if let Err(message) = stopped {
        eprintln!("ringmq bench: the embedded cluster did not stop cleanly: {message}");
        code = 1;
    }
    code
}
