//! Shared helpers for the name server's TCP tests: start a server on a free loopback port with
//! its log and KV file in a temporary directory, and a blocking client speaking the frame codec.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ringmq_namesrv::{start, NamesrvConfig, NamesrvHandle};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame;
use ringmq_protocol::request_code;

/// A running name server plus the temporary directory holding its files.
pub(crate) struct TestNamesrv {
    pub(crate) handle: NamesrvHandle,
    pub(crate) dir: tempfile::TempDir,
}

impl TestNamesrv {
    pub(crate) fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub(crate) fn start_with(adjust: impl FnOnce(&mut NamesrvConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = NamesrvConfig::default();
        "127.0.0.1".clone_into(&mut config.bind_address);
        config.listen_port = 0;
        config.log_dir = dir.path().join("logs");
        config.kv_config_path = dir.path().join("namesrv").join("kvConfig.json");
        adjust(&mut config);
        let handle = start(config).expect("name server starts");
        Self { handle, dir }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(self.addr())
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(self.handle.log_path()).unwrap_or_default()
    }
}

/// A blocking remoting client.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    next_opaque: i32,
    buffer: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect to name server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            next_opaque: 1,
            buffer: Vec::new(),
        }
    }

    /// Send `request` (with a fresh opaque) and wait for its response.
    pub(crate) fn call(&mut self, mut request: RemotingCommand) -> RemotingCommand {
        request.opaque = self.next_opaque;
        self.next_opaque += 1;
        self.send(&request);
        let response = self
            .receive()
            .expect("a response before the connection closed");
        assert_eq!(response.opaque, request.opaque, "response matches request");
        assert!(response.is_response());
        response
    }

    pub(crate) fn send(&mut self, request: &RemotingCommand) {
        let mut bytes = Vec::new();
        frame::encode(request, &mut bytes);
        self.stream.write_all(&bytes).expect("send request");
    }

    /// Raw bytes of the next whole frame, or `None` if the server closed the connection.
    pub(crate) fn receive_raw(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buffer.len() >= 4 {
                let length = u32::from_be_bytes(self.buffer[..4].try_into().expect("4 bytes"));
                let total = usize::try_from(length).expect("fits usize") + 4;
                if self.buffer.len() >= total {
                    let rest = self.buffer.split_off(total);
                    return Some(std::mem::replace(&mut self.buffer, rest));
                }
            }
            let mut chunk = vec![0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(count) => self.buffer.extend_from_slice(&chunk[..count]),
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(error) => panic!("read failed: {error}"),
            }
        }
    }

    pub(crate) fn receive(&mut self) -> Option<RemotingCommand> {
        let bytes = self.receive_raw()?;
        let (command, consumed) = frame::decode(&bytes, frame::FRAME_BYTES_MAX_DEFAULT)
            .expect("response frame decodes")
            .expect("whole frame");
        assert_eq!(consumed, bytes.len());
        Some(command)
    }

    /// True once the server has closed this connection (read returns EOF or reset).
    pub(crate) fn is_closed_by_server(&mut self) -> bool {
        self.receive_raw().is_none()
    }
}

/// A broker's REGISTER_BROKER request.
pub(crate) struct Broker<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) name: &'a str,
    pub(crate) id: u64,
    pub(crate) addr: &'a str,
    pub(crate) ha_addr: &'a str,
    pub(crate) topics: &'a [&'a str],
    pub(crate) heartbeat_timeout_ms: Option<u64>,
}

impl Broker<'_> {
    pub(crate) fn register_body(&self) -> Vec<u8> {
        let topics: Vec<String> = self
            .topics
            .iter()
            .map(|topic| {
                format!(
                    "\"{topic}\":{{\"attributes\":{{}},\"order\":false,\"perm\":6,\
                     \"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\
                     \"topicName\":\"{topic}\",\"topicSysFlag\":0,\"writeQueueNums\":4}}"
                )
            })
            .collect();
        format!(
            "{{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{{\"dataVersion\":\
             {{\"counter\":1,\"stateVersion\":0,\"timestamp\":1700000000000}},\
             \"topicConfigTable\":{{{}}}}}}}",
            topics.join(",")
        )
        .into_bytes()
    }

    pub(crate) fn register_request(&self) -> RemotingCommand {
        let body = self.register_body();
        let crc = crc32fast::hash(&body) & 0x7FFF_FFFF;
        let mut request = RemotingCommand::request(request_code::REGISTER_BROKER)
            .with_ext("brokerName", &self.name)
            .with_ext("brokerAddr", &self.addr)
            .with_ext("clusterName", &self.cluster)
            .with_ext("haServerAddr", &self.ha_addr)
            .with_ext("brokerId", &self.id)
            .with_ext("enableActingMaster", &false)
            .with_ext("compressed", &false)
            .with_ext("bodyCrc32", &crc)
            .with_body(body);
        if let Some(timeout) = self.heartbeat_timeout_ms {
            request = request.with_ext("heartbeatTimeoutMillis", &timeout);
        }
        request
    }
}

pub(crate) fn route_request(topic: &str) -> RemotingCommand {
    RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", &topic)
}

pub(crate) fn body_text(command: &RemotingCommand) -> String {
    String::from_utf8(command.body.to_vec()).expect("UTF-8 body")
}

/// Poll `condition` every 20 ms for up to `limit`.
pub(crate) fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let steps = limit.as_millis() / 20;
    for _ in 0..steps {
        if condition() {
            return true;
        }
        ringmq_namesrv::clock::pause(Duration::from_millis(20));
    }
    condition()
}
