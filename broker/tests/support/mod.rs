//! Shared fixtures for broker-level tests: a broker started in-process with
//! `ringmq_broker::start` on free loopback ports and a temporary store, and a minimal blocking
//! remoting client (adapted from the workspace's `tests/support`).

#![allow(dead_code, unreachable_pub)]
// Tests run against real time: they wait for the broker with sleeps and deadlines.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ringmq_broker::BrokerHandle;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::pull::PullMessageRequestHeader;
use ringmq_protocol::header::send::SendMessageRequestHeader;
use ringmq_protocol::record;
use ringmq_protocol::{frame, request_code, response_code};

mod ports;
pub use ports::free_port_block;

/// A broker running in this process on a temporary store; shut down on drop.
pub struct Broker {
    pub handle: Option<BrokerHandle>,
    pub address: String,
    pub directory: tempfile::TempDir,
}

impl Broker {
    /// Two shards (so requests cross shards), no name server, plus `extra` properties.
    pub fn start(extra: &str) -> Self {
        let directory = tempfile::tempdir().expect("tempdir");
        Self::start_in(directory, extra)
    }

    pub fn start_in(directory: tempfile::TempDir, extra: &str) -> Self {
        let port = free_port_block();
        let text = format!(
            "brokerName=broker-a\nbrokerIP1=127.0.0.1\nlistenPort={port}\nstorePathRootDir={}\n\
             logDir={}\nmappedFileSizeCommitLog=67108864\nshards=2\nbufferPoolBytes=8388608\n\
             tailCacheBytes=8388608\n{extra}",
            directory.path().join("store").display(),
            directory.path().join("logs").display(),
        );
        let loaded = ringmq_broker::config::from_str(&text, "test.properties").expect("config");
        let handle = ringmq_broker::start(loaded.config).expect("broker starts");
        Self {
            address: handle.address().to_string(),
            handle: Some(handle),
            directory,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.address)
    }

    /// Shut down cleanly and keep the store for a restart.
    pub fn stop(mut self) -> tempfile::TempDir {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().expect("clean shutdown");
        }
        let directory = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.directory, directory)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = handle.shutdown();
        }
    }
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

    pub fn call(&mut self, mut request: RemotingCommand) -> RemotingCommand {
        self.opaque += 1;
        request.opaque = self.opaque;
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        self.stream.write_all(&bytes).expect("write");
        loop {
            let response = self.read_frame().expect("response");
            if response.is_response() && response.opaque == request.opaque {
                return response;
            }
        }
    }

    /// Write bytes as they are (pipelined or partial frames); opaques are the caller's.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Continue numbering opaques after `opaque` (used by the caller's raw writes).
    pub fn skip_opaques(&mut self, opaque: i32) {
        self.opaque = self.opaque.max(opaque);
    }

    /// Read the answers to `count` pipelined requests: each SUCCESS, no opaque twice. By
    /// opaque.
    pub fn read_successes(&mut self, count: usize) -> BTreeMap<i32, RemotingCommand> {
        let mut answered = BTreeMap::new();
        while answered.len() < count {
            let response = self.read_frame().expect("an answer to every request");
            assert_eq!(
                response.code,
                response_code::SUCCESS,
                "{:?}",
                response.remark
            );
            let opaque = response.opaque;
            assert!(
                answered.insert(opaque, response).is_none(),
                "opaque {opaque} answered twice"
            );
        }
        answered
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

    /// SEND_MESSAGE; returns the response (check its code).
    pub fn send(
        &mut self,
        topic: &str,
        queue_id: i32,
        body: &[u8],
        properties: &str,
    ) -> RemotingCommand {
        let mut request = RemotingCommand::request(request_code::SEND_MESSAGE);
        SendMessageRequestHeader {
            producer_group: "P".to_owned(),
            topic: topic.to_owned(),
            default_topic: "TBW102".to_owned(),
            default_topic_queue_nums: 4,
            queue_id,
            born_timestamp: 1,
            properties: Some(properties.to_owned()),
            ..SendMessageRequestHeader::default()
        }
        .write_to(&mut request);
        request.body = body.to_vec().into();
        self.call(request)
    }

    /// SEND_MESSAGE that must succeed; returns (offsetMsgId, queue offset).
    pub fn send_ok(
        &mut self,
        topic: &str,
        queue_id: i32,
        body: &[u8],
        properties: &str,
    ) -> (String, i64) {
        let response = self.send(topic, queue_id, body, properties);
        assert_eq!(
            response.code,
            response_code::SUCCESS,
            "{:?}",
            response.remark
        );
        let id = response.ext("msgId").expect("msgId").to_owned();
        let offset = response
            .ext("queueOffset")
            .expect("queueOffset")
            .parse()
            .expect("number");
        (id, offset)
    }

    /// PULL_MESSAGE with subscription `*`, no suspend; the records found (empty if none).
    pub fn pull(&mut self, group: &str, topic: &str, queue_id: i32, offset: i64) -> Vec<Stored> {
        let mut request = RemotingCommand::request(request_code::PULL_MESSAGE);
        PullMessageRequestHeader {
            consumer_group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: 4,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".to_owned()),
            sub_version: 0,
            ..PullMessageRequestHeader::default()
        }
        .write_to(&mut request);
        let response = self.call(request);
        if response.code != response_code::SUCCESS {
            return Vec::new();
        }
        record::decode_all(&response.body)
            .expect("records")
            .iter()
            .map(Stored::from)
            .collect()
    }
}

/// An owned copy of the fields of a pulled record that tests check.
#[derive(Clone, Debug)]
pub struct Stored {
    pub topic: String,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub store_timestamp: i64,
    pub reconsume_times: i32,
    pub born_host: SocketAddr,
    pub body: Vec<u8>,
    pub properties: String,
}

impl Stored {
    pub fn property(&self, key: &str) -> Option<&str> {
        ringmq_protocol::properties::find(&self.properties, key)
    }
}

impl From<&record::Record<'_>> for Stored {
    fn from(record: &record::Record<'_>) -> Self {
        Self {
            topic: record.topic.to_owned(),
            queue_offset: record.queue_offset,
            physical_offset: record.physical_offset,
            store_timestamp: record.store_timestamp,
            reconsume_times: record.reconsume_times,
            born_host: record.born_host,
            body: record.body.to_vec(),
            properties: record.properties.to_owned(),
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

/// Poll `probe` every 20 ms until it returns `Some`, or panic after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
