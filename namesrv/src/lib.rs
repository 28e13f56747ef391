//! ringmq's name server: the RocketMQ `mqnamesrv` role.
//!
//! Brokers register their topics here (REGISTER_BROKER every 30 s); clients ask for a topic's
//! route (GET_ROUTEINFO_BY_TOPIC) and then talk to the brokers directly. State lives in memory,
//! except the KV config table which is persisted to `kvConfigPath`; several name servers run
//! independently, each filled by the brokers' registrations.
//!
//! - [`run`]: the `ringmq namesrv [-c file] [-p]` command.
//! - [`start`]: a name server on its own thread, for in-process use (`ringmq dev`, tests).
//!
//! Threading: one thread runs a mio loop ([`server`]) that owns every table; nothing is shared
//! and nothing is locked. Pure parts: [`route_table`], [`liveness`], [`config`].

#![forbid(unsafe_code)]

pub mod body;
pub mod clock;
pub mod config;
pub mod constants;
mod handlers;
mod kv_table;
pub mod liveness;
pub mod logfile;
mod logger;
mod properties;
mod register_body;
pub mod route_table;
mod server;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use config::{ConfigError, NamesrvConfig};
pub use kv_table::KvError;
pub use logger::LOG_FILE_NAME;

use crate::clock::SystemClock;
use crate::handlers::Namesrv;
use crate::kv_table::KvTable;
use crate::liveness::Liveness;
use crate::logger::{Level, Logger};
use crate::route_table::RouteTable;
use crate::server::Server;

/// Why the name server could not start or stopped with an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    Config(ConfigError),
    /// `bindAddress`/`listenPort` do not resolve or cannot be bound.
    Bind {
        address: String,
        error: std::io::Error,
    },
    /// The log directory or file cannot be opened.
    Log {
        dir: PathBuf,
        error: std::io::Error,
    },
    /// The KV config file cannot be loaded.
    KvConfig(KvError),
    /// The event loop failed (polling itself, or its thread could not be started).
    Loop(std::io::Error),
    /// The server thread panicked.
    Panicked,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(error) => write!(f, "{error}"),
            Error::Bind { address, error } => write!(
                f,
                "cannot listen on {address}: {error}; is another name server running there? \
                 set listenPort in the config file (-c) to use another port"
            ),
            Error::Log { dir, error } => write!(
                f,
                "cannot open log directory {}: {error}; set logDir in the config file or \
                 ${} to a writable directory",
                dir.display(),
                config::LOG_DIR_ENV
            ),
            Error::KvConfig(error) => write!(f, "{error}"),
            Error::Loop(error) => write!(f, "name server event loop failed: {error}"),
            Error::Panicked => write!(f, "name server thread panicked"),
        }
    }
}

impl std::error::Error for Error {}

/// A running name server thread. Dropping the handle stops it too.
#[derive(Debug)]
pub struct NamesrvHandle {
    local_addr: SocketAddr,
    log_path: PathBuf,
    stop: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl NamesrvHandle {
    /// The bound address (with the real port when `listenPort` was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `ip:port` as brokers and clients write it in `namesrvAddr`.
    pub fn namesrv_addr(&self) -> String {
        self.local_addr.to_string()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Stop the loop and wait for its thread.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), Error> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.store(true, Ordering::Release);
        // If waking fails the loop still sees the flag at its next scan tick.
        let _ = self.waker.wake();
        match thread.join() {
            Ok(result) => result.map_err(Error::Loop),
            Err(_) => Err(Error::Panicked),
        }
    }
}

impl Drop for NamesrvHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Build the server (bind, open log and KV table) on the calling thread.
fn build(config: NamesrvConfig, to_stdout: bool) -> Result<Server, Error> {
    let log =
        Logger::open(&config.log_dir, config.log_file_bytes_max, to_stdout).map_err(|error| {
            Error::Log {
                dir: config.log_dir.clone(),
                error,
            }
        })?;
    let kv = KvTable::load(&config.kv_config_path).map_err(Error::KvConfig)?;
    let address_text = format!("{}:{}", config.bind_address, config.listen_port);
    let address =
        resolve(&config.bind_address, config.listen_port).map_err(|error| Error::Bind {
            address: address_text.clone(),
            error,
        })?;
    let namesrv = Namesrv {
        config,
        routes: RouteTable::new(),
        liveness: Liveness::new(),
        kv,
        log,
    };
    Server::bind(address, namesrv).map_err(|error| Error::Bind {
        address: address_text,
        error,
    })
}

fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "address resolves to nothing")
    })
}

/// Start a name server on a new thread. `listen_port` 0 picks a free port; see
/// [`NamesrvHandle::local_addr`]. Logs go to `config.log_dir` only (not stdout).
pub fn start(config: NamesrvConfig) -> Result<NamesrvHandle, Error> {
    let mut server = build(config, false)?;
    let local_addr = server.local_addr();
    let log_path = server.namesrv_mut().log.path();
    let wall = SystemClock::new().wall();
    server.namesrv_mut().log.info(wall, &boot_line(local_addr));
    let (stop, waker) = server.stopper();
    let thread = std::thread::Builder::new()
        .name(format!("namesrv-{}", local_addr.port()))
        .spawn(move || server.run())
        .map_err(Error::Loop)?;
    Ok(NamesrvHandle {
        local_addr,
        log_path,
        stop,
        waker,
        thread: Some(thread),
    })
}

/// The line RocketMQ prints once the name server listens.
pub fn boot_line(local_addr: SocketAddr) -> String {
    format!(
        "The Name Server boot success. serializeType=JSON, address {}:{}",
        local_addr.ip(),
        local_addr.port()
    )
}

const USAGE: &str = "usage: ringmq namesrv [-c configFile] [-p] [-h]
  -c configFile  load NamesrvConfig/NettyServerConfig keys from a properties file
  -p             print all config items and exit
  -h             print this help and exit
environment: RINGMQ_LOG_DIR sets the log directory (default ~/logs/rocketmqlogs)";

/// Parsed command line of `ringmq namesrv`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Command {
    config_file: Option<PathBuf>,
    print_config: bool,
    help: bool,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut command = Command::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-c" | "--configFile" => {
                let file = iter.next().ok_or("-c needs a config file path")?;
                command.config_file = Some(PathBuf::from(file));
            }
            "-p" | "--printConfigItem" => command.print_config = true,
            "-h" | "--help" => command.help = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(command)
}

/// `ringmq namesrv [-c file] [-p]`: returns the process exit code. `args` excludes the
/// program and subcommand names.
pub fn run(args: &[String]) -> i32 {
    let command = match parse_args(args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("ringmq namesrv: {message}\n{USAGE}");
            return 2;
        }
    };
    if command.help {
        println!("{USAGE}");
        return 0;
    }
    let (config, applied) = match &command.config_file {
        Some(path) => match NamesrvConfig::from_file(path) {
            Ok(loaded) => loaded,
            Err(error) => {
                eprintln!("ringmq namesrv: {error}");
                return 1;
            }
        },
        None => (NamesrvConfig::default(), config::Applied::default()),
    };
    for key in &applied.unknown_keys {
        eprintln!("ringmq namesrv: warning: unknown config key {key:?} ignored");
    }
    if command.print_config {
        print!("{}", config.to_properties_text());
        return 0;
    }
    serve_in_foreground(config, &applied)
}

fn serve_in_foreground(config: NamesrvConfig, applied: &config::Applied) -> i32 {
    let mut server = match build(config, true) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("ringmq namesrv: {error}");
            return 1;
        }
    };
    let clock = SystemClock::new();
    for key in &applied.unknown_keys {
        let message = format!("unknown config key {key:?} ignored");
        server
            .namesrv_mut()
            .log
            .file_only(clock.wall(), Level::Warn, &message);
    }
    let line = boot_line(server.local_addr());
    println!("{line}");
    server
        .namesrv_mut()
        .log
        .file_only(clock.wall(), Level::Info, &line);
    match server.run() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("ringmq namesrv: {}", Error::Loop(error));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn command_line_accepts_config_file_and_print_flag() {
        let command = parse_args(&strings(&["-c", "/tmp/n.properties", "-p"])).unwrap();
        assert_eq!(
            command.config_file,
            Some(PathBuf::from("/tmp/n.properties"))
        );
        assert!(command.print_config);
    }

    #[test]
    fn command_line_rejects_unknown_option_and_missing_file() {
        assert!(parse_args(&strings(&["-x"])).is_err());
        assert!(parse_args(&strings(&["-c"])).is_err());
    }

    #[test]
    fn print_flag_exits_zero_and_bad_config_exits_nonzero_without_serving() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.properties");
        std::fs::write(&good, "# comment\nlistenPort=19876\nnotAKey=1\n").unwrap();
        let good = good.display().to_string();
        assert_eq!(run(&strings(&["-c", &good, "-p"])), 0);
        let bad = dir.path().join("bad.properties");
        std::fs::write(&bad, "listenPort=twelve\n").unwrap();
        assert_eq!(run(&strings(&["-c", &bad.display().to_string(), "-p"])), 1);
        let missing = dir.path().join("missing.properties").display().to_string();
        assert_eq!(run(&strings(&["-c", &missing])), 1);
        assert_eq!(run(&strings(&["--bogus"])), 2);
        assert_eq!(run(&strings(&["-h"])), 0);
    }

    #[test]
    fn start_reports_port_in_use_naming_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let config = |port| {
            let mut config = NamesrvConfig::default();
            "127.0.0.1".clone_into(&mut config.bind_address);
            config.listen_port = port;
            config.log_dir = dir.path().join("logs");
            config.kv_config_path = dir.path().join("kv.json");
            config
        };
        let first = start(config(0)).unwrap();
        let port = first.local_addr().port();
        let error = start(config(port)).unwrap_err().to_string();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
        first.shutdown().unwrap();
        let log = std::fs::read_to_string(dir.path().join("logs").join(LOG_FILE_NAME)).unwrap();
        assert!(
            log.contains("The Name Server boot success. serializeType=JSON, address 127.0.0.1:")
        );
    }

    #[test]
    fn boot_line_matches_rocketmq_text() {
        let address: SocketAddr = "0.0.0.0:9876".parse().unwrap();
        assert_eq!(
            boot_line(address),
            "The Name Server boot success. serializeType=JSON, address 0.0.0.0:9876"
        );
    }
}
