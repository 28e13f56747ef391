//! CONSUMER_SEND_MSG_BACK (36), second step, on the shard that holds the record.
//!
//! The control plane has checked the group, created `%RETRY%group` and attached the
//! maxReconsumeTimes to apply (`routing::SEND_BACK_RESOLVED`). Here the original record is
//! read by its physical offset and re-sent as an internal SEND_MESSAGE: to `%RETRY%group` with
//! a `DELAY` level (so it waits in `SCHEDULE_TOPIC_XXXX` first), or, once it was consumed
//! maxReconsumeTimes times or the client asked (delayLevel < 0), to `%DLQ%group`. The send's
//! reply, with the client's opaque, is the send-back's reply.

use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::ext::ExtValue;
use ringmq_protocol::header::send::{ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader};
use ringmq_protocol::properties;
use ringmq_protocol::record::{self, Record};

use super::Handled;
use crate::control::topics::{AUTO_CREATE_TOPIC, DLQ_PREFIX, RETRY_PREFIX};
use crate::error::HandlerError;
use crate::handlers::send::internal_send;
use crate::message::Origin;
use crate::routing::{INTERNAL_BORN_HOST, SEND_BACK_RESOLVED};
use crate::shard::BrokerShard;

/// Where a failed message goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Destination {
    pub(crate) topic: String,
    /// `DELAY` level; `None` for the dead-letter queue.
    pub(crate) delay_level: Option<i32>,
}

/// RocketMQ's rule: the DLQ after `max` attempts or when the client asks (level < 0); else
/// the retry topic, delayed by the client's level or, for level 0, by `3 + reconsumeTimes`.
pub(crate) fn destination(group: &str, reconsumed: i32, max: i32, level: i32) -> Destination {
    if reconsumed >= max || level < 0 {
        return Destination {
            topic: format!("{DLQ_PREFIX}{group}"),
            delay_level: None,
        };
    }
    let level = if level == 0 { 3 + reconsumed } else { level };
    Destination {
        topic: format!("{RETRY_PREFIX}{group}"),
        delay_level: Some(level),
    }
}

/// The properties of the re-sent message.
fn resent_properties(
    stored: &Record<'_>,
    header: &ConsumerSendMsgBackRequestHeader,
    destination: &Destination,
) -> String {
    let mut text = stored.properties.to_owned();
    if properties::find(&text, properties::RETRY_TOPIC).is_none() {
        text = properties::with(&text, properties::RETRY_TOPIC, stored.topic);
    }
    let origin_id = header
        .origin_msg_id
        .clone()
        .filter(|id| !id.is_empty())
        .or_else(|| stored.property(properties::UNIQ_KEY).map(str::to_owned))
        .unwrap_or_else(|| stored.offset_msg_id());
    text = properties::with(&text, properties::ORIGIN_MESSAGE_ID, &origin_id);
    let attempts = stored.reconsume_times.saturating_add(1).to_string();
    text = properties::with(&text, properties::RECONSUME_TIME, &attempts);
    text = properties::with(&text, properties::WAIT, "false");
    match destination.delay_level {
        Some(level) => properties::with(&text, properties::DELAY, &level.to_string()),
        None => properties::without(&text, properties::DELAY),
    }
}

pub(crate) fn handle(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
) -> Handled {
    let header = ConsumerSendMsgBackRequestHeader::from_command(request)?;
    let max: i32 = request
        .ext(SEND_BACK_RESOLVED)
        .and_then(|max| max.parse().ok())
        .ok_or_else(|| HandlerError::System("send-back was not resolved".to_owned()))?;
    let lookup_failed = || HandlerError::System("look message by offset failed".to_owned());
    let offset = u64::try_from(header.offset).map_err(|_| lookup_failed())?;
    let bytes = shard
        .engine
        .read_record(PhysicalOffset(offset))
        .map_err(|_| lookup_failed())?;
    let stored = record::decode(&bytes).map_err(|_| lookup_failed())?;
    let destination = destination(
        &header.group,
        stored.reconsume_times,
        max,
        header.delay_level,
    );
    let resend = SendMessageRequestHeader {
        producer_group: header.group.clone(),
        topic: destination.topic.clone(),
        default_topic: AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        sys_flag: stored.sys_flag,
        born_timestamp: stored.born_timestamp,
        flag: stored.flag,
        properties: Some(resent_properties(&stored, &header, &destination)),
        reconsume_times: Some(stored.reconsume_times.saturating_add(1)),
        ..SendMessageRequestHeader::default()
    };
    let mut command = internal_send(request, &resend, bytes.slice_ref(stored.body));
    command
        .ext_fields
        .insert(INTERNAL_BORN_HOST, ExtValue::display(&stored.born_host));
    shard.on_request(origin.clone(), command);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_zero_backs_off_by_attempts_and_max_attempts_go_to_the_dlq() {
        assert_eq!(
            destination("G", 0, 16, 0),
            Destination {
                topic: "%RETRY%G".to_owned(),
                delay_level: Some(3)
            }
        );
        assert_eq!(destination("G", 2, 16, 0).delay_level, Some(5));
        assert_eq!(destination("G", 2, 16, 1).delay_level, Some(1));
        assert_eq!(destination("G", 16, 16, 0).topic, "%DLQ%G");
        assert_eq!(destination("G", 0, 16, -1).delay_level, None);
    }
}
