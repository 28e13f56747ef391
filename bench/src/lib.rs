//! `ringmq bench`: load generators compatible with RocketMQ's `benchmark/producer.sh` and
//! `consumer.sh`, with HDR latency percentiles and JSON reports.
#![forbid(unsafe_code)]
#![allow(
    clippy::cast_precision_loss,
    reason = "benchmark rates and latencies are reported as floating point"
)]

mod client;
mod clock;
mod consume;
mod options;
mod produce;
mod route;
mod stats;

const USAGE: &str = "usage: ringmq bench <produce|consume> [flags]
produce: -n namesrv -t topic(BenchmarkTest) -w concurrency(64) -s size(128) -k keys(false)
         -l tagCount(0) -q quantity(0=until --duration) -ri reportMs(10000) --duration S
         --rate msgs/s (open loop) --batch N --connections C --queues Q --json FILE
consume: -n namesrv -t topic -g group -w connections -f tagExpression(*) --from first|last
         -q quantity --duration S --pull-batch N -ri reportMs --json FILE";

/// Entry point of `ringmq bench`; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let options = match options::parse(rest) {
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
    let json = options.json.clone();
    let result = match command.as_str() {
        "produce" => produce::run(&options),
        "consume" => consume::run(&options),
        other => Err(format!("unknown bench command '{other}'")),
    };
    match result {
        Ok(report) => {
            if let Some(path) = json {
                if let Err(error) = std::fs::write(&path, report.to_string()) {
                    eprintln!("ringmq bench: cannot write {path}: {error}");
                    return 1;
                }
            }
            0
        }
        Err(message) => {
            eprintln!("ringmq bench: {message}");
            1
        }
    }
}
