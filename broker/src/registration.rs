//! Registration with the name servers: REGISTER_BROKER to every address in `namesrvAddr` at
//! start, every 30 s and whenever topics change, and UNREGISTER_BROKER at shutdown. Runs on
//! its own thread with blocking sockets, so a slow or dead name server never stalls a shard.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ringmq_protocol::body::register::RegisterBrokerBody;
use ringmq_protocol::body::topic_config::TopicConfigSerializeWrapper;
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::namesrv::{
    BrokerIdentityRequestHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
};
use ringmq_protocol::{request_code, response_code};

use crate::log::Log;
use crate::remoting_client::RemotingClient;

const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Who the broker is, as name servers know it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) cluster: String,
    pub(crate) broker_name: String,
    pub(crate) broker_addr: String,
    pub(crate) ha_addr: String,
    pub(crate) broker_id: i64,
}

enum Command {
    Register(TopicConfigSerializeWrapper),
    Unregister,
}

/// The handle the control plane uses; the thread ends when the handle is dropped.
#[derive(Debug)]
pub(crate) struct RegistrationHandle {
    sender: Option<mpsc::Sender<Command>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Register(_) => "Register",
            Self::Unregister => "Unregister",
        })
    }
}

impl RegistrationHandle {
    pub(crate) fn register(&self, mut topics: TopicConfigSerializeWrapper, broker_permission: i32) {
        for config in topics.topic_config_table.values_mut() {
            config.perm &= broker_permission | ringmq_protocol::body::topic_config::PERM_INHERIT;
        }
        if let Some(sender) = &self.sender {
            let _ = sender.send(Command::Register(topics));
        }
    }

    pub(crate) fn unregister(&mut self) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Command::Unregister);
        }
    }
}

/// Start the registration thread.
pub(crate) fn start(
    identity: Identity,
    namesrv_addrs: Vec<String>,
    log: Log,
) -> std::io::Result<(RegistrationHandle, JoinHandle<()>)> {
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("broker-register".to_owned())
        .spawn(move || serve(&identity, &namesrv_addrs, &receiver, &log))?;
    Ok((
        RegistrationHandle {
            sender: Some(sender),
        },
        thread,
    ))
}

/// The registration thread's loop. It keeps one long-lived connection per name server: a
/// name server forgets a broker whose registering connection closes, as RocketMQ's does.
fn serve(
    identity: &Identity,
    namesrv_addrs: &[String],
    receiver: &mpsc::Receiver<Command>,
    log: &Log,
) {
    let mut connections: Vec<Option<RemotingClient>> = namesrv_addrs.iter().map(|_| None).collect();
    while let Ok(mut command) = receiver.recv() {
        // Only the newest table matters when several changes queued up.
        while let Ok(newer) = receiver.try_recv() {
            command = newer;
        }
        let unregistering = matches!(command, Command::Unregister);
        for (address, connection) in namesrv_addrs.iter().zip(connections.iter_mut()) {
            let result = match &command {
                Command::Register(topics) => {
                    register(identity, address, connection, topics).map(drop)
                }
                Command::Unregister => unregister(identity, address, connection),
            };
            if let Err(error) = result {
                *connection = None;
                let verb = if unregistering {
                    "unregister broker from"
                } else {
                    "register broker to"
                };
                log.warn(&format!("{verb} name server {address} failed: {error}"));
            }
        }
        if unregistering {
            return;
        }
    }
}

/// The open connection to `address`, connecting if there is none.
fn connected<'a>(
    address: &str,
    connection: &'a mut Option<RemotingClient>,
) -> Result<&'a mut RemotingClient, String> {
    if connection.is_none() {
        let client =
            RemotingClient::connect(address, CALL_TIMEOUT).map_err(|error| error.to_string())?;
        *connection = Some(client);
    }
    connection
        .as_mut()
        .ok_or_else(|| "not connected".to_owned())
}

/// REGISTER_BROKER; returns the master address a slave learns from the reply.
fn register(
    identity: &Identity,
    address: &str,
    connection: &mut Option<RemotingClient>,
    topics: &TopicConfigSerializeWrapper,
) -> Result<Option<String>, String> {
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: topics.clone(),
    }
    .encode();
    let crc = i32::try_from(crc32fast::hash(&body) & 0x7FFF_FFFF).unwrap_or(0);
    let mut request = RemotingCommand::request(request_code::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: identity.broker_name.clone(),
        broker_addr: identity.broker_addr.clone(),
        cluster_name: identity.cluster.clone(),
        ha_server_addr: identity.ha_addr.clone(),
        broker_id: identity.broker_id,
        heartbeat_timeout_millis: Some(120_000),
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(crc),
    }
    .write_to(&mut request);
    request.body = body.into();
    let response = connected(address, connection)?
        .call(request)
        .map_err(|error| error.to_string())?;
    if response.code != response_code::SUCCESS {
        return Err(format!(
            "code {} {}",
            response.code,
            response.remark.unwrap_or_default()
        ));
    }
    let header =
        RegisterBrokerResponseHeader::from_command(&response).map_err(|error| error.to_string())?;
    Ok(header.master_addr)
}

fn unregister(
    identity: &Identity,
    address: &str,
    connection: &mut Option<RemotingClient>,
) -> Result<(), String> {
    let mut request = RemotingCommand::request(request_code::UNREGISTER_BROKER);
    BrokerIdentityRequestHeader {
        broker_name: identity.broker_name.clone(),
        broker_addr: identity.broker_addr.clone(),
        cluster_name: identity.cluster.clone(),
        broker_id: identity.broker_id,
    }
    .write_to(&mut request);
    let response = connected(address, connection)?
        .call(request)
        .map_err(|error| error.to_string())?;
    if response.code == response_code::SUCCESS {
        Ok(())
    } else {
        Err(format!(
            "code {} {}",
            response.code,
            response.remark.unwrap_or_default()
        ))
    }
}
