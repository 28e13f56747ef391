//! Shared fixtures for end-to-end tests: free loopback ports, temporary stores, `ringmq`
//! processes that are killed when the test ends (even on panic), and a minimal remoting
//! client for requests the real client libraries do not expose.

#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end fixtures wait on real processes with wall-clock time"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame;

pub const BINARY: &str = env!("CARGO_BIN_EXE_ringmq");

#[path = "../../broker/tests/support/ports.rs"]
mod ports;
pub use ports::free_port_block;

/// A child process that is killed and reaped on drop.
pub struct Process {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub name: String,
}

impl Process {
    /// Start `ringmq <args>` and wait until a stdout line contains `ready`.
    pub fn start(name: &str, args: &[&str], ready: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let (sender, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut process = Self {
            child,
            lines,
            name: name.to_owned(),
        };
        process.wait_for(ready, Duration::from_secs(30));
        process
    }

    /// Wait for a line containing `text`; panics with everything seen on timeout.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> String {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait();
                    panic!(
                        "{} exited ({status:?}) before '{text}':\n{}",
                        self.name,
                        seen.join("\n")
                    );
                }
            }
        }
        panic!(
            "{} did not print '{text}' in {timeout:?}:\n{}",
            self.name,
            seen.join("\n")
        );
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status
    }

    /// SIGKILL (a crash) and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.child.kill();
            std::thread::sleep(Duration::from_millis(200));
            for line in self.lines.try_iter() {
                eprintln!("[{}] {line}", self.name);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name server on a free port.
pub fn start_namesrv(directory: &Path) -> (Process, String) {
    let port = free_port_block();
    let config = directory.join("namesrv.properties");
    std::fs::write(
        &config,
        format!(
            "listenPort={port}\nkvConfigPath={}\n",
            directory.join("kv.json").display()
        ),
    )
    .expect("write");
    let logs = directory.join("namesrv-logs");
    let process = Process::start(
        "namesrv",
        &["namesrv", "-c", config.to_str().expect("utf8")],
        "The Name Server boot success",
        &[("RINGMQ_LOG_DIR", logs.to_str().expect("utf8"))],
    );
    (process, format!("127.0.0.1:{port}"))
}

/// Write a broker properties file for a single master on a free port.
pub fn broker_properties(directory: &Path, namesrv: &str, extra: &str) -> (PathBuf, u16) {
    let port = free_port_block();
    let path = directory.join(format!("broker-{port}.properties"));
    let text = format!(
        "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nbrokerRole=ASYNC_MASTER\n\
         flushDiskType=ASYNC_FLUSH\nbrokerIP1=127.0.0.1\nlistenPort={port}\nnamesrvAddr={namesrv}\n\
         storePathRootDir={}\nlogDir={}\nmappedFileSizeCommitLog=67108864\nshards=2\n{extra}",
        directory.join("store").display(),
        directory.join("broker-logs").display(),
    );
    std::fs::write(&path, text).expect("write properties");
    (path, port)
}

pub fn start_broker(properties: &Path) -> Process {
    Process::start(
        "broker",
        &["broker", "-c", properties.to_str().expect("utf8")],
        "boot success",
        &[],
    )
}

/// A blocking remoting client.
pub struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
    opaque: i32,
}

impl Client {
    pub fn connect(address: &str) -> Self {
        let address: SocketAddr = address.parse().expect("address");
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Self {
            stream,
            buffer: Vec::new(),
            opaque: 0,
        }
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("timeout");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn call(&mut self, mut request: RemotingCommand) -> RemotingCommand {
        self.opaque += 1;
        request.opaque = self.opaque;
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        self.send_raw(&bytes);
        loop {
            let response = self.read_frame().expect("response");
            if response.is_response() && response.opaque == request.opaque {
                return response;
            }
        }
    }

    /// Like [`Client::call`], but `None` when the connection fails (a killed broker).
    pub fn try_call(&mut self, mut request: RemotingCommand) -> Option<RemotingCommand> {
        self.opaque += 1;
        request.opaque = self.opaque;
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        self.stream.write_all(&bytes).ok()?;
        loop {
            let response = self.read_frame()?;
            if response.is_response() && response.opaque == request.opaque {
                return Some(response);
            }
        }
    }

    /// The next frame, or `None` when the server closed the connection.
    pub fn read_frame(&mut self) -> Option<RemotingCommand> {
        loop {
            if let Some((command, used)) =
                frame::decode(&self.buffer, 64 << 20).expect("valid frame")
            {
                self.buffer.drain(..used);
                return Some(command);
            }
            let mut chunk = vec![0u8; 1 << 16];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
            }
        }
    }
}

pub fn request(code: i32, ext: &[(&str, &str)]) -> RemotingCommand {
    let mut command = RemotingCommand::request(code);
    for (key, value) in ext {
        command.ext_fields.insert(*key, *value);
    }
    command
}

/// A name server and one broker (`broker-a` of `DefaultCluster`) on free ports, stopped when
/// dropped.
pub struct Cluster {
    pub directory: tempfile::TempDir,
    pub namesrv: String,
    pub broker: String,
    _namesrv_process: Process,
    _broker_process: Process,
}

impl Cluster {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Like [`Cluster::start`], with `extra` lines appended to the broker's properties.
    pub fn start_with(extra: &str) -> Self {
        let directory = tempfile::tempdir().expect("tempdir");
        let (namesrv_process, namesrv) = start_namesrv(directory.path());
        let (properties, port) = broker_properties(directory.path(), &namesrv, extra);
        let broker_process = start_broker(&properties);
        let cluster = Self {
            directory,
            namesrv,
            broker: format!("127.0.0.1:{port}"),
            _namesrv_process: namesrv_process,
            _broker_process: broker_process,
        };
        let broker = cluster.broker.clone();
        cluster.admin_until(&["clusterList"], |text| text.contains(&broker));
        cluster
    }

    /// `ringmq admin <args> -n <namesrv>`.
    pub fn admin(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-n", self.namesrv.as_str()]);
        admin(&all)
    }

    /// Like [`Cluster::admin`], asserting success and returning stdout.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let output = self.admin(args);
        assert!(
            output.status.success(),
            "admin {args:?} failed:\nstdout: {}\nstderr: {}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }

    /// Run until `accept` holds on a successful output, for state that settles lazily
    /// (registration, index dispatch).
    pub fn admin_until(&self, args: &[&str], accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.admin(args);
            let text = stdout(&output);
            if output.status.success() && accept(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "admin {args:?} never matched:\nstdout: {text}\nstderr: {}",
                stderr(&output)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Run `ringmq admin <args>` with NAMESRV_ADDR cleared.
pub fn admin(args: &[&str]) -> Output {
    admin_with_env(args, &[])
}

/// Like [`admin`], with extra environment variables (`TZ`).
pub fn admin_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    command.arg("admin").args(args).env_remove("NAMESRV_ADDR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run ringmq admin")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
