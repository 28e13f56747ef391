//! Reading a queue as RocketMQ's pull consumer does, for `consumeMessage` and
//! `queryMsgByOffset`: PULL_MESSAGE (11) with the subscription in the request (so no heartbeat
//! is needed) and without committing or suspending, and the queue-offset lookups
//! GET_MIN_OFFSET (31), GET_MAX_OFFSET (30) and SEARCH_OFFSET_BY_TIMESTAMP (29).

use ringmq_protocol::body::heartbeat::{EXPRESSION_TYPE_TAG, SUB_ALL};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::offset::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    SearchOffsetRequestHeader,
};
use ringmq_protocol::header::pull::{
    PullMessageRequestHeader, PullMessageResponseHeader, PULL_FLAG_SUBSCRIPTION,
};
use ringmq_protocol::{request_code, response_code};

use super::client::{AdminError, Session};
use super::message::StoredMessage;

/// The group mqadmin's own consumers use (`MixAll.TOOLS_CONSUMER_GROUP`).
pub(crate) const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";

/// Java's `PullStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PullStatus {
    Found,
    NoNewMsg,
    NoMatchedMsg,
    OffsetIllegal,
}

impl PullStatus {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Found => "FOUND",
            Self::NoNewMsg => "NO_NEW_MSG",
            Self::NoMatchedMsg => "NO_MATCHED_MSG",
            Self::OffsetIllegal => "OFFSET_ILLEGAL",
        }
    }
}

/// One queue of one broker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueRef<'a> {
    pub(crate) topic: &'a str,
    pub(crate) broker_name: &'a str,
    pub(crate) queue_id: i32,
}

impl QueueRef<'_> {
    /// Java's `MessageQueue.toString`.
    pub(crate) fn java_text(&self) -> String {
        format!(
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// The result of one pull.
#[derive(Debug)]
pub(crate) struct Pulled {
    pub(crate) status: PullStatus,
    pub(crate) next_begin_offset: i64,
    pub(crate) min_offset: i64,
    pub(crate) max_offset: i64,
    /// Empty unless `status` is [`PullStatus::Found`].
    pub(crate) messages: Vec<StoredMessage>,
}

/// Pull up to `count` messages of `queue` from `offset`, every tag accepted.
pub(crate) fn pull(
    session: &mut Session,
    group: &str,
    queue: QueueRef<'_>,
    offset: i64,
    count: i32,
) -> Result<Pulled, AdminError> {
    let mut request = RemotingCommand::request(request_code::PULL_MESSAGE);
    PullMessageRequestHeader {
        consumer_group: group.to_owned(),
        topic: queue.topic.to_owned(),
        queue_id: queue.queue_id,
        queue_offset: offset,
        max_msg_nums: count,
        sys_flag: PULL_FLAG_SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some(SUB_ALL.to_owned()),
        sub_version: 0,
        expression_type: Some(EXPRESSION_TYPE_TAG.to_owned()),
        broker_name: Some(queue.broker_name.to_owned()),
        ..PullMessageRequestHeader::default()
    }
    .write_to(&mut request);
    let response = session.exchange(&request)?;
    let status = match response.code {
        response_code::SUCCESS => PullStatus::Found,
        response_code::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        response_code::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        response_code::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => return Err(session.refused(&request, &response)),
    };
    let header =
        PullMessageResponseHeader::from_command(&response).map_err(|cause| AdminError::Header {
            address: session.address().to_owned(),
            cause,
        })?;
    let mut messages = Vec::new();
    if status == PullStatus::Found {
        messages = StoredMessage::decode_response(session.address(), &response.body)?;
        for message in &mut messages {
            message.broker_name = Some(queue.broker_name.to_owned());
        }
    }
    Ok(Pulled {
        status,
        next_begin_offset: header.next_begin_offset,
        min_offset: header.min_offset,
        max_offset: header.max_offset,
        messages,
    })
}

/// Which offset of a queue to look up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OffsetLookup {
    Min,
    Max,
    /// The first offset stored at or after this time (ms).
    At(i64),
}

/// An offset of `queue` on the broker of `session`.
pub(crate) fn queue_offset(
    session: &mut Session,
    queue: QueueRef<'_>,
    lookup: OffsetLookup,
) -> Result<i64, AdminError> {
    let topic = queue.topic.to_owned();
    let queue_id = queue.queue_id;
    let mut request;
    match lookup {
        OffsetLookup::Min => {
            request = RemotingCommand::request(request_code::GET_MIN_OFFSET);
            GetMinOffsetRequestHeader { topic, queue_id }.write_to(&mut request);
        }
        OffsetLookup::Max => {
            request = RemotingCommand::request(request_code::GET_MAX_OFFSET);
            GetMaxOffsetRequestHeader {
                topic,
                queue_id,
                committed: None,
            }
            .write_to(&mut request);
        }
        OffsetLookup::At(timestamp) => {
            request = RemotingCommand::request(request_code::SEARCH_OFFSET_BY_TIMESTAMP);
            SearchOffsetRequestHeader {
                topic,
                queue_id,
                timestamp,
                boundary_type: None,
            }
            .write_to(&mut request);
        }
    }
    let response = session.call(&request)?;
    OffsetResponseHeader::from_command(&response)
        .map(|header| header.offset)
        .map_err(|cause| AdminError::Header {
            address: session.address().to_owned(),
            cause,
        })
}
