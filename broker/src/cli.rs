//! `ringmq broker` / `mqbroker`: parse the command line, load the properties file, start, and
//! run until SIGTERM or SIGINT, then shut down cleanly.

use std::path::PathBuf;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::{self, BrokerConfig, LoadedConfig};

const USAGE: &str =
    "usage: ringmq broker [-c configFile] [-n namesrvAddr] [--io-backend B] [-p] [-m] [-h]
  -c configFile  load broker settings from a RocketMQ .properties file
  -n namesrvAddr name servers, e.g. '127.0.0.1:9876;127.0.0.2:9876' (overrides the file)
  --io-backend B auto (default), uring or fallback (overrides ioBackend in the file)
  -p             print every config item and exit
  -m             print the important config items and exit
  -h             print this help and exit";

#[derive(Debug, Default)]
struct Arguments {
    config_file: Option<PathBuf>,
    namesrv: Option<String>,
    print_all: bool,
    print_important: bool,
    help: bool,
    io_backend: Option<crate::config::IoBackend>,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let mut parsed = Arguments::default();
    let mut iterator = args.iter();
    while let Some(argument) = iterator.next() {
        match argument.as_str() {
            "-c" | "--configFile" => {
                let value = iterator.next().ok_or("-c needs a file name")?;
                parsed.config_file = Some(PathBuf::from(value));
            }
            "-n" | "--namesrvAddr" => {
                parsed.namesrv = Some(iterator.next().ok_or("-n needs an address list")?.clone());
            }
            "--io-backend" => {
                let value = iterator
                    .next()
                    .ok_or("--io-backend needs auto, uring or fallback")?;
                let backend = value
                    .parse()
                    .map_err(|expected| format!("--io-backend {value}: {expected}"))?;
                parsed.io_backend = Some(backend);
            }
            "-p" | "--printConfigItem" => parsed.print_all = true,
            "-m" | "--printImportantConfig" => parsed.print_important = true,
            "-h" | "--help" => parsed.help = true,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(parsed)
}

/// Load the configuration the arguments describe; warnings go to stderr.
fn load(arguments: &Arguments) -> Result<BrokerConfig, String> {
    let LoadedConfig {
        mut config,
        warnings,
    } = match &arguments.config_file {
        Some(path) => config::load(path).map_err(|error| error.to_string())?,
        None => LoadedConfig {
            config: BrokerConfig::default(),
            warnings: Vec::new(),
        },
    };
    if let Some(backend) = arguments.io_backend {
        config.io_backend = backend;
    }
    for warning in warnings {
        eprintln!("WARN {warning}");
    }
    if let Some(namesrv) = &arguments.namesrv {
        config
            .set_namesrv_addr(namesrv)
            .map_err(|error| error.to_string())?;
    } else if config.namesrv_addr.is_empty() {
        if let Ok(namesrv) = std::env::var("NAMESRV_ADDR") {
            config
                .set_namesrv_addr(&namesrv)
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(config)
}

/// Entry point of `ringmq broker`; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let arguments = match parse(args) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("ringmq broker: {message}\n{USAGE}");
            return 2;
        }
    };
    if arguments.help {
        println!("{USAGE}");
        return 0;
    }
    let config = match load(&arguments) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("ringmq broker: {message}");
            return 1;
        }
    };
    if arguments.print_all || arguments.print_important {
        let text = if arguments.print_all {
            config.print_all()
        } else {
            config.print_important()
        };
        print!("{text}");
        return 0;
    }
    serve(config)
}

/// Start the broker and block until SIGTERM/SIGINT; then shut down.
pub fn serve(config: BrokerConfig) -> i32 {
    let mut signals = match Signals::new([SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("ringmq broker: cannot install signal handlers: {error}");
            return 1;
        }
    };
    let broker = match crate::start(config) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("ringmq broker: {error}");
            return 1;
        }
    };
    let _ = signals.forever().next();
    match broker.shutdown() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("ringmq broker: {error}");
            1
        }
    }
}
