//! Registration with the name servers: REGISTER_BROKER to every address in `namesrvAddr` at
//! start, every 30 s and whenever topics change, and UNREGISTER_BROKER at shutdown. Runs on
//! its own thread with blocking sockets, so a slow or dead name server never stalls a shard.
//!
//! A slave also learns its master here: the REGISTER_BROKER reply names the master's HA and
//! remoting addresses, which go to every shard; and every few seconds the thread copies the
//! master's topics, subscription groups and consumer offsets for the control plane.

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
use crate::message::{Message, Outboxes};
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
    /// The shards are up: where to send what a slave learns.
    Attach(Outboxes),
}

/// A slave re-registers this often until its master is known, and copies its tables this
/// often (RocketMQ's `SlaveSynchronize` runs every few seconds).
const SLAVE_PERIOD: Duration = Duration::from_secs(3);

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
            Self::Attach(_) => "Attach",
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

    /// A second handle on the same thread, for the runtime to attach the shards once started.
    pub(crate) fn attacher(&self) -> Attacher {
        Attacher(self.sender.clone())
    }

    pub(crate) fn unregister(&mut self) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Command::Unregister);
        }
    }
}

/// Gives the registration thread the shards' outboxes once they run.
#[derive(Debug)]
pub(crate) struct Attacher(Option<mpsc::Sender<Command>>);

impl Attacher {
    pub(crate) fn attach(self, outboxes: Outboxes) {
        if let Some(sender) = self.0 {
            let _ = sender.send(Command::Attach(outboxes));
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
    let mut state = State {
        connections: namesrv_addrs.iter().map(|_| None).collect(),
        outboxes: None,
        last_topics: None,
        master: None,
        master_client: None,
        clock: ringmq_engine::clock::SystemClock::new(),
        last_sync: None,
    };
    let slave = identity.broker_id > 0;
    loop {
        let command = if slave {
            match receiver.recv_timeout(SLAVE_PERIOD) {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match receiver.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            }
        };
        let queued = coalesce(
            command
                .into_iter()
                .chain(std::iter::from_fn(|| receiver.try_recv().ok())),
        );
        let attached = queued.attach.is_some();
        if let Some(outboxes) = queued.attach {
            state.outboxes = Some(outboxes);
        }
        match queued.newest {
            Some(Command::Unregister) => {
                unregister_all(identity, namesrv_addrs, &mut state, log);
                return;
            }
            Some(Command::Register(topics)) => {
                state.last_topics = Some(topics);
                register_all(identity, namesrv_addrs, &mut state, log);
            }
            // A slave registers once its shards are attached, then every period until it
            // knows its master.
            Some(Command::Attach(_)) | None => {
                if slave && (attached || state.master.is_none()) {
                    register_all(identity, namesrv_addrs, &mut state, log);
                }
            }
        }
        if slave {
            sync_from_master(&mut state, log);
        }
    }
}

/// The commands queued at one wake-up: the shards' outboxes if they arrived, and the newest
/// other command (only the newest table matters when several changes queued up).
struct Queued {
    attach: Option<Outboxes>,
    newest: Option<Command>,
}

/// Sort queued commands. An `Attach` is kept whatever follows it: when a `Register` queued
/// behind it replaced it, a slave never got its outboxes, learned its master from every
/// registration reply without telling its shards, and never connected (seen in the
/// replication benchmark as a slave that never reported "connected to master").
fn coalesce(commands: impl Iterator<Item = Command>) -> Queued {
    let mut queued = Queued {
        attach: None,
        newest: None,
    };
    for command in commands {
        match command {
            Command::Attach(outboxes) => queued.attach = Some(outboxes),
            command => queued.newest = Some(command),
        }
    }
    queued
}

/// What the registration thread keeps between commands.
struct State {
    connections: Vec<Option<RemotingClient>>,
    outboxes: Option<Outboxes>,
    last_topics: Option<TopicConfigSerializeWrapper>,
    /// A slave's master: (HA address, remoting address).
    master: Option<(String, String)>,
    master_client: Option<RemotingClient>,
    clock: ringmq_engine::clock::SystemClock,
    last_sync: Option<Duration>,
}

fn register_all(identity: &Identity, namesrv_addrs: &[String], state: &mut State, log: &Log) {
    let Some(topics) = state.last_topics.clone() else {
        return;
    };
    let mut learned = None;
    for (address, connection) in namesrv_addrs.iter().zip(state.connections.iter_mut()) {
        match register(identity, address, connection, &topics) {
            Ok(master) => learned = learned.or(master),
            Err(error) => {
                *connection = None;
                log.warn(&format!(
                    "register broker to name server {address} failed: {error}"
                ));
            }
        }
    }
    if identity.broker_id > 0 {
        learn_master(state, learned, log);
    }
}

fn unregister_all(identity: &Identity, namesrv_addrs: &[String], state: &mut State, log: &Log) {
    for (address, connection) in namesrv_addrs.iter().zip(state.connections.iter_mut()) {
        if let Err(error) = unregister(identity, address, connection) {
            *connection = None;
            log.warn(&format!(
                "unregister broker from name server {address} failed: {error}"
            ));
        }
    }
}

/// Tell every shard when the master named by a registration reply changed.
fn learn_master(state: &mut State, master: Option<(String, String)>, log: &Log) {
    let master = master.filter(|(ha, broker)| !ha.is_empty() && !broker.is_empty());
    if master.is_none() || master == state.master {
        return;
    }
    let Some(outboxes) = state.outboxes.as_ref() else {
        return;
    };
    let Some((ha, broker)) = master.clone() else {
        return;
    };
    let ha_addr = resolve(&ha);
    if ha_addr.is_none() {
        log.warn(&format!("the master's HA address {ha} does not resolve"));
        return;
    }
    log.info(&format!("slave: master is {broker} (HA {ha})"));
    for shard in 0..outboxes.shard_count() {
        let _ = outboxes.send_and_wake(shard, Message::MasterChanged { ha: ha_addr });
    }
    state.master = master;
    state.master_client = None;
    state.last_sync = None;
}

fn resolve(address: &str) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    address.to_socket_addrs().ok()?.next()
}

/// Copy the master's topics, groups and offsets to the control plane every few seconds.
fn sync_from_master(state: &mut State, log: &Log) {
    use ringmq_engine::clock::Clock;
    let now = state.clock.monotonic();
    if state
        .last_sync
        .is_some_and(|last| now.saturating_sub(last) < SLAVE_PERIOD)
    {
        return;
    }
    let (Some((_, broker)), Some(outboxes)) = (state.master.clone(), state.outboxes.clone()) else {
        return;
    };
    state.last_sync = Some(now);
    match fetch_master_tables(&broker, &mut state.master_client) {
        Ok(tables) => {
            let _ = outboxes.send_and_wake(0, Message::MasterTables(Box::new(tables)));
        }
        Err(error) => {
            state.master_client = None;
            log.warn(&format!(
                "slave: copying topics, groups and offsets from master {broker} failed: {error}"
            ));
        }
    }
}

fn fetch_master_tables(
    broker: &str,
    client: &mut Option<RemotingClient>,
) -> Result<crate::control::MasterTables, String> {
    use ringmq_protocol::body::consumer::{
        ConsumerOffsetSerializeWrapper, SubscriptionGroupWrapper,
    };
    let client = connected(broker, client)?;
    let mut fetch = |code: i32| -> Result<bytes::Bytes, String> {
        let response = client
            .call(RemotingCommand::request(code))
            .map_err(|error| error.to_string())?;
        if response.code != response_code::SUCCESS {
            return Err(format!(
                "request {code}: code {} {}",
                response.code,
                response.remark.unwrap_or_default()
            ));
        }
        Ok(response.body)
    };
    let decode = |what: &str, error: ringmq_protocol::body::BodyError| format!("{what}: {error}");
    let topics = TopicConfigSerializeWrapper::decode(&fetch(request_code::GET_ALL_TOPIC_CONFIG)?)
        .map_err(|error| decode("topics", error))?;
    let groups =
        SubscriptionGroupWrapper::decode(&fetch(request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG)?)
            .map_err(|error| decode("subscription groups", error))?;
    let offsets =
        ConsumerOffsetSerializeWrapper::decode(&fetch(request_code::GET_ALL_CONSUMER_OFFSET)?)
            .map_err(|error| decode("consumer offsets", error))?;
    Ok(crate::control::MasterTables {
        topics,
        groups,
        offsets,
    })
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

/// REGISTER_BROKER; returns the master's (HA, remoting) addresses a slave learns from the
/// reply.
fn register(
    identity: &Identity,
    address: &str,
    connection: &mut Option<RemotingClient>,
    topics: &TopicConfigSerializeWrapper,
) -> Result<Option<(String, String)>, String> {
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
    Ok(header.ha_server_addr.zip(header.master_addr))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outboxes() -> Outboxes {
        Outboxes::new(Vec::new(), Vec::new())
    }

    // Hazard: the shards' Attach and the first Register queued together; the Register
    // replaced the Attach, so a slave never told its shards who the master was.
    #[test]
    fn an_attach_survives_a_register_queued_behind_it() {
        let queued = coalesce(
            [
                Command::Attach(outboxes()),
                Command::Register(TopicConfigSerializeWrapper::default()),
            ]
            .into_iter(),
        );
        assert!(queued.attach.is_some());
        assert!(matches!(queued.newest, Some(Command::Register(_))));
    }

    #[test]
    fn only_the_newest_other_command_is_kept() {
        let queued = coalesce(
            [
                Command::Register(TopicConfigSerializeWrapper::default()),
                Command::Attach(outboxes()),
                Command::Unregister,
            ]
            .into_iter(),
        );
        assert!(queued.attach.is_some());
        assert!(matches!(queued.newest, Some(Command::Unregister)));
        let alone = coalesce([Command::Attach(outboxes())].into_iter());
        assert!(alone.attach.is_some() && alone.newest.is_none());
    }
}
