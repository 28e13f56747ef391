//! Route codes: GET_ROUTEINFO_BY_TOPIC (105), GET_BROKER_CLUSTER_INFO (106), the topic lists
//! (206, 224), DELETE_TOPIC_IN_NAMESRV (216) and the write-permission switches (205, 327).
//!
//! Route bodies are always standard compact JSON with quoted numeric `brokerAddrs` keys, also
//! for pre-4.9.4 clients that Java would answer with fastjson's unquoted keys: every client
//! examined parses the quoted form, and Go's hand-written parser needs the compact one.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::response_code;

use ringmq_protocol::header::namesrv::{
    BrokerNameRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
};

use super::{success, HandlerError, Namesrv, Reply};
use crate::body::{JsonBody, TopicList};
use crate::kv_table::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::route_table::WritePerm;

/// RocketMQ `FAQUrl.APPLY_TOPIC_URL`.
const APPLY_TOPIC_URL: &str = "https://rocketmq.apache.org/docs/bestPractice/06FAQ";

/// RocketMQ `FAQUrl.suggestTodo`: the hint Java appends to TOPIC_NOT_EXIST remarks.
fn suggest_todo(url: &str) -> String {
    format!("\nSee {url} for further details.")
}

pub(super) fn route_of_topic(namesrv: &mut Namesrv, request: &RemotingCommand) -> Reply {
    let header = GetRouteInfoRequestHeader::from_command(request)?;
    let topic = header.topic.as_str();
    let Some(mut route) = namesrv
        .routes
        .route(topic, namesrv.config.support_acting_master)
    else {
        return Ok(RemotingCommand::response_to(
            request,
            response_code::TOPIC_NOT_EXIST,
            Some(format!(
                "No topic route info in name server for the topic: {topic}{}",
                suggest_todo(APPLY_TOPIC_URL)
            )),
        ));
    };
    if namesrv.config.order_message_enable {
        route.order_topic_conf = namesrv
            .kv
            .get(NAMESPACE_ORDER_TOPIC_CONFIG, topic)
            .map(str::to_owned);
    }
    Ok(success(request).with_body(route.encode()))
}

pub(super) fn cluster_info(namesrv: &Namesrv, request: &RemotingCommand) -> RemotingCommand {
    success(request).with_body(namesrv.routes.cluster_info().encode())
}

fn disabled(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(
        request,
        response_code::SYSTEM_ERROR,
        Some("disable".to_owned()),
    )
}

pub(super) fn all_topics(namesrv: &Namesrv, request: &RemotingCommand) -> RemotingCommand {
    if !namesrv.config.enable_all_topic_list {
        return disabled(request);
    }
    let list = TopicList {
        broker_addr: None,
        topic_list: namesrv.routes.topics(),
    };
    success(request).with_body(list.encode())
}

pub(super) fn topics_of_cluster(namesrv: &Namesrv, request: &RemotingCommand) -> Reply {
    if !namesrv.config.enable_topic_list {
        return Ok(disabled(request));
    }
    let header = GetTopicsByClusterRequestHeader::from_command(request)?;
    let list = TopicList {
        broker_addr: None,
        topic_list: namesrv.routes.topics_of_cluster(&header.cluster),
    };
    Ok(success(request).with_body(list.encode()))
}

pub(super) fn delete_topic(namesrv: &mut Namesrv, request: &RemotingCommand) -> Reply {
    let header = DeleteTopicFromNamesrvRequestHeader::from_command(request)?;
    namesrv
        .routes
        .delete_topic(&header.topic, header.cluster_name.as_deref());
    Ok(success(request))
}

pub(super) fn wipe_write_perm(namesrv: &mut Namesrv, request: &RemotingCommand) -> Reply {
    write_perm(namesrv, request, WritePerm::Wipe, "wipeTopicCount")
}

pub(super) fn add_write_perm(namesrv: &mut Namesrv, request: &RemotingCommand) -> Reply {
    write_perm(namesrv, request, WritePerm::Add, "addTopicCount")
}

fn write_perm(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    change: WritePerm,
    count_field: &str,
) -> Result<RemotingCommand, HandlerError> {
    let header = BrokerNameRequestHeader::from_command(request)?;
    let count = namesrv.routes.set_write_perm(&header.broker_name, change);
    Ok(success(request).with_ext(count_field, &count))
}
