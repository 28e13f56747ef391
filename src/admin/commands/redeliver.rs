//! Delivering a stored message again, the two other modes of `queryMsgById`
//! (`QueryMsgByIdSubCommand.pushMsg` and `sendMsg`):
//!
//! - `-g group -d clientId`: the client consumes the message at once. The client's running
//!   info (GET_CONSUMER_RUNNING_INFO 307, relayed by a broker) must say it is a push consumer;
//!   then the broker that stores the message is asked to push it to the client
//!   (CONSUME_MESSAGE_DIRECTLY 309) and the client's `ConsumeMessageDirectlyResult` is printed.
//! - `-s true`: the message is sent again to its topic, with its properties (unique key
//!   included), as a producer of group `ReSendMsgById` does, and the `SendResult` is printed.
//!   `-u unitName` joins the producer's client id, which the producer leaves its brokers with
//!   (UNREGISTER_CLIENT), as Java's producer does at shutdown.
//!
//! RocketMQ prints each result without a line break and each failure's stack trace on stderr,
//! then goes on with the next id; ringmq prints the failure on stderr, goes on, and exits 1.

use ringmq_protocol::body::consumer_client::ConsumeMessageDirectlyResult;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::client::{
    ConsumeMessageDirectlyResultRequestHeader, UnregisterClientRequestHeader,
};
use ringmq_protocol::request_code;
use serde_json::{json, Value};

use super::group::consumer_running_info;
use super::message_query::find_by_id;
use super::send_message::any_queue;
use crate::admin::client::{self, AdminError, Session};
use crate::admin::clock;
use crate::admin::invocation::Format;
use crate::admin::produce::{self, local_ipv4, Outgoing};

/// The producer group of resends (`new DefaultMQProducer("ReSendMsgById")`).
const RESEND_PRODUCER_GROUP: &str = "ReSendMsgById";

/// `-g -d`: push message `id` of `topic` to client `client_id` of `group`; prints the result
/// as text, or returns its JSON.
pub(super) fn push(
    namesrv: &[String],
    group: &str,
    client_id: &str,
    topic: &str,
    id: &str,
    format: Format,
) -> Result<Option<Value>, AdminError> {
    let info = consumer_running_info(namesrv, group, client_id)?;
    if !info.is_push_type() {
        if format == Format::Json {
            return Ok(Some(
                json!({ "msgId": id, "clientId": client_id, "pushConsumer": false }),
            ));
        }
        // RocketMQ prints "... direct push \n": a space before the line break.
        println!("this {client_id} client is not push consumer ,not support direct push ");
        return Ok(None);
    }
    let message = find_by_id(namesrv, topic, id)?;
    let address = message.store_host.to_string();
    let mut request = RemotingCommand::request(request_code::CONSUME_MESSAGE_DIRECTLY);
    ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: group.to_owned(),
        client_id: Some(client_id.to_owned()),
        msg_id: Some(message.offset_msg_id()),
        topic: Some(topic.to_owned()),
        ..ConsumeMessageDirectlyResultRequestHeader::default()
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    let result: ConsumeMessageDirectlyResult = client::decode(&address, &response)?;
    if format == Format::Text {
        print!("{}", result.java_text());
        return Ok(None);
    }
    Ok(Some(json!({
        "msgId": id,
        "clientId": client_id,
        "pushConsumer": true,
        "order": result.order,
        "autoCommit": result.auto_commit,
        "consumeResult": result.consume_result,
        "remark": result.remark,
        "spentTimeMills": result.spent_time_mills,
    })))
}

/// `-s true`: send message `id` of `topic` again; prints the result as text, or returns its
/// JSON.
pub(super) fn resend(
    namesrv: &[String],
    topic: &str,
    id: &str,
    unit_name: Option<&str>,
    format: Format,
) -> Result<Option<Value>, AdminError> {
    let message = find_by_id(namesrv, topic, id)?;
    if format == Format::Text {
        print!("prepare resend msg. originalMsgId={id}");
    }
    let target = any_queue(namesrv, &message.topic)?;
    let mut session = Session::open("broker", &target.address)?;
    let receipt = produce::send(
        &mut session,
        &Outgoing {
            producer_group: RESEND_PRODUCER_GROUP,
            topic: &message.topic,
            broker_name: &target.broker_name,
            queue_id: target.queue_id,
            tags: None,
            keys: None,
            body: &message.body,
            stored: Some((message.flag, &message.properties)),
        },
    )?;
    leave(&mut session, unit_name);
    if format == Format::Text {
        print!(
            "SendResult [sendStatus={}, msgId={}, offsetMsgId={}, messageQueue=MessageQueue \
         [topic={}, brokerName={}, queueId={}], queueOffset={}, recallHandle=null]",
            receipt.status,
            receipt.msg_id,
            receipt.offset_msg_id,
            message.topic,
            target.broker_name,
            receipt.queue_id,
            receipt.queue_offset
        );
        return Ok(None);
    }
    Ok(Some(json!({
        "originalMsgId": id,
        "sendStatus": receipt.status,
        "msgId": receipt.msg_id,
        "offsetMsgId": receipt.offset_msg_id,
        "topic": message.topic,
        "brokerName": target.broker_name,
        "queueId": receipt.queue_id,
        "queueOffset": receipt.queue_offset,
    })))
}

/// UNREGISTER_CLIENT of the resend producer, whose client id is `ip@instance[@unitName]`
/// (`ClientConfig.buildMQClientId`; the instance name is the start time, as the tool sets it).
/// A failure only costs the broker a stale entry until the connection closes: not reported.
fn leave(session: &mut Session, unit_name: Option<&str>) {
    let [a, b, c, d] = local_ipv4(session.address());
    let mut client_id = format!("{a}.{b}.{c}.{d}@{}", clock::now_ms());
    if let Some(unit) = unit_name.filter(|unit| !unit.trim().is_empty()) {
        client_id.push('@');
        client_id.push_str(unit.trim());
    }
    let mut request = RemotingCommand::request(request_code::UNREGISTER_CLIENT);
    UnregisterClientRequestHeader {
        client_id,
        producer_group: Some(RESEND_PRODUCER_GROUP.to_owned()),
        consumer_group: None,
    }
    .write_to(&mut request);
    let _ = session.exchange(&request);
}
