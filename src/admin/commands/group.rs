//! Lookups about a consumer group that several commands share, done the way RocketMQ's
//! `DefaultMQAdminExtImpl` does them: the group's progress on every broker of its route
//! (`examineConsumeStats`, GET_CONSUME_STATS 208), its online members
//! (`examineConsumerConnectionInfo`, GET_CONSUMER_CONNECTION_LIST 203) and one member's own
//! report (`getConsumerRunningInfo`, GET_CONSUMER_RUNNING_INFO 307, which the broker relays to
//! the client).
//!
//! A group's route is the route of its retry topic `%RETRY%<group>`, which brokers create when
//! a member first sends a heartbeat; with a topic given, the topic's route serves for groups
//! that never had a member online (offsets committed by tools only).

use ringmq_protocol::body::admin::{ConsumeStats, ConsumerConnection};
use ringmq_protocol::body::consumer_client::ConsumerRunningInfo;
use ringmq_protocol::body::route::TopicRouteData;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::GetConsumeStatsRequestHeader;
use ringmq_protocol::header::client::{
    ConsumerGroupRequestHeader, GetConsumerRunningInfoRequestHeader,
};
use ringmq_protocol::request_code;

use super::{route_brokers, topic_route, RETRY_PREFIX};
use crate::admin::client::{self, AdminError};

/// `MessageModel` name of broadcast consumers, whose progress lives in the clients.
const BROADCASTING: &str = "BROADCASTING";

/// The route of `group`: its retry topic's, else `topic`'s, else its pop retry topic's.
pub(super) fn group_route(
    namesrv: &[String],
    group: &str,
    topic: Option<&str>,
) -> Result<TopicRouteData, AdminError> {
    let mut candidates = vec![format!("{RETRY_PREFIX}{group}")];
    if let Some(topic) = topic {
        candidates.push(topic.to_owned());
        candidates.push(format!("{RETRY_PREFIX}{group}_{topic}"));
    }
    let mut last = None;
    for candidate in &candidates {
        match topic_route(namesrv, candidate) {
            Ok(route) => return Ok(route),
            Err(AdminError::TopicNotExist(_)) => last = Some(candidate.clone()),
            Err(error) => return Err(error),
        }
    }
    Err(AdminError::NotFound(format!(
        "no route for consumer group [{group}]: topic [{}] does not exist (has a member of \
         the group ever connected?)",
        last.unwrap_or_default()
    )))
}

/// The group's progress on every broker of its route, merged (`examineConsumeStats`). An
/// empty table is an error unless a member is online and consumes in clustering mode.
pub(super) fn consume_stats(
    namesrv: &[String],
    group: &str,
    topic: Option<&str>,
) -> Result<ConsumeStats, AdminError> {
    let route = group_route(namesrv, group, topic)?;
    let mut request = RemotingCommand::request(request_code::GET_CONSUME_STATS);
    GetConsumeStatsRequestHeader {
        consumer_group: group.to_owned(),
        topic: topic.map(str::to_owned),
        topic_list: None,
    }
    .write_to(&mut request);
    let mut merged = ConsumeStats::default();
    for (_, address) in route_brokers(&route) {
        let response = client::call("broker", &address, &request)?;
        let stats: ConsumeStats = client::decode(&address, &response)?;
        merged.offset_table.extend(stats.offset_table);
        merged.consume_tps += stats.consume_tps;
    }
    if merged.offset_table.is_empty() {
        let Ok(connection) = consumer_connection(namesrv, group, None) else {
            return Err(AdminError::NotFound(format!(
                "Not found the consumer group [{group}] consume stats, because return offset \
                 table is empty, maybe the consumer not online"
            )));
        };
        if connection.message_model.as_deref() == Some(BROADCASTING) {
            return Err(AdminError::NotFound(format!(
                "Not found the consumer group [{group}] consume stats, because return offset \
                 table is empty, the consumer is under the broadcast mode"
            )));
        }
    }
    Ok(merged)
}

/// The group's online members and subscriptions, from `broker` or from the first broker of
/// the group's route. No member online is an error naming the group.
pub(super) fn consumer_connection(
    namesrv: &[String],
    group: &str,
    broker: Option<&str>,
) -> Result<ConsumerConnection, AdminError> {
    let address = if let Some(address) = broker {
        address.to_owned()
    } else {
        let route = group_route(namesrv, group, None)?;
        let Some((_, address)) = route_brokers(&route).into_iter().next() else {
            return Err(AdminError::NoBroker(format!(
                "the route of consumer group [{group}]"
            )));
        };
        address
    };
    let mut request = RemotingCommand::request(request_code::GET_CONSUMER_CONNECTION_LIST);
    ConsumerGroupRequestHeader {
        consumer_group: group.to_owned(),
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    let connection: ConsumerConnection = client::decode(&address, &response)?;
    if connection.connection_set.is_empty() {
        return Err(AdminError::NotFound(format!(
            "Not found the consumer group [{group}] connection on broker {address}"
        )));
    }
    Ok(connection)
}

/// Client `client_id`'s report of itself, relayed by the first broker of the group's route
/// (`getConsumerRunningInfo`); the broker's refusal (not online, timeout) is an error.
pub(super) fn consumer_running_info(
    namesrv: &[String],
    group: &str,
    client_id: &str,
) -> Result<ConsumerRunningInfo, AdminError> {
    let route = group_route(namesrv, group, None)?;
    let Some((_, address)) = route_brokers(&route).into_iter().next() else {
        return Err(AdminError::NoBroker(format!(
            "the route of consumer group [{group}]"
        )));
    };
    let mut request = RemotingCommand::request(request_code::GET_CONSUMER_RUNNING_INFO);
    GetConsumerRunningInfoRequestHeader {
        consumer_group: group.to_owned(),
        client_id: client_id.to_owned(),
        jstack_enable: Some(false),
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    client::decode(&address, &response)
}
