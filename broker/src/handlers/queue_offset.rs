//! GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32) and
//! SEARCH_OFFSET_BY_TIMESTAMP (29), answered by the queue's owner.

use ringmq_engine::shard::Boundary;
use ringmq_engine::types::{QueueId, TimestampMs};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::offset::{
    GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    SearchOffsetRequestHeader,
};
use ringmq_protocol::header::BoundaryType;
use ringmq_protocol::request_code as code;
use ringmq_protocol::response_code;

use super::Handled;
use crate::error::{response, success, HandlerError};
use crate::message::Response;
use crate::shard::BrokerShard;

fn queue_id(value: i32) -> Result<QueueId, HandlerError> {
    u32::try_from(value)
        .map(QueueId)
        .map_err(|_| HandlerError::InvalidParameter(format!("queueId {value} is negative")))
}

fn offset_response(request: &RemotingCommand, offset: u64) -> Response {
    let mut reply = success(request);
    OffsetResponseHeader {
        offset: i64::try_from(offset).unwrap_or(i64::MAX),
    }
    .write_to(&mut reply.command);
    reply
}

pub(crate) fn handle(shard: &mut BrokerShard, request: &RemotingCommand) -> Handled {
    match request.code {
        code::GET_MAX_OFFSET => {
            let header = GetMaxOffsetRequestHeader::from_command(request)?;
            let (_, max) = shard
                .engine
                .queue_bounds(&header.topic, queue_id(header.queue_id)?);
            Ok(Some(offset_response(request, max.0)))
        }
        code::GET_MIN_OFFSET => {
            let header = GetMinOffsetRequestHeader::from_command(request)?;
            let (min, _) = shard
                .engine
                .queue_bounds(&header.topic, queue_id(header.queue_id)?);
            Ok(Some(offset_response(request, min.0)))
        }
        code::GET_EARLIEST_MSG_STORETIME => {
            let header = GetEarliestMsgStoretimeRequestHeader::from_command(request)?;
            match shard
                .engine
                .earliest_store_time(&header.topic, queue_id(header.queue_id)?)
            {
                Ok(timestamp) => {
                    let mut reply = success(request);
                    GetEarliestMsgStoretimeResponseHeader {
                        timestamp: timestamp.as_i64(),
                    }
                    .write_to(&mut reply.command);
                    Ok(Some(reply))
                }
                Err(_) => Ok(Some(response(
                    request,
                    response_code::SYSTEM_ERROR,
                    Some("queue is empty".to_owned()),
                ))),
            }
        }
        _ => {
            let header = SearchOffsetRequestHeader::from_command(request)?;
            let boundary = match header.boundary_type {
                Some(BoundaryType::Upper) => Boundary::Upper,
                _ => Boundary::Lower,
            };
            let timestamp = TimestampMs(u64::try_from(header.timestamp).unwrap_or(0));
            let offset = shard.engine.search_by_timestamp(
                &header.topic,
                queue_id(header.queue_id)?,
                timestamp,
                boundary,
            )?;
            Ok(Some(offset_response(request, offset.0)))
        }
    }
}

/// QUERY_CONSUMER_OFFSET for a group with no committed offset, answered by the queue's owner:
/// offset 0 while the queue still starts at 0 and its first message is in memory (so a new
/// group reads a new topic from the start), otherwise QUERY_NOT_FOUND and the client falls
/// back to its ConsumeFromWhere (RocketMQ's behaviour).
pub(crate) fn offset_not_committed(shard: &mut BrokerShard, request: &RemotingCommand) -> Handled {
    let header =
        ringmq_protocol::header::offset::QueryConsumerOffsetRequestHeader::from_command(request)?;
    let queue = queue_id(header.queue_id)?;
    let (min, _) = shard.engine.queue_bounds(&header.topic, queue);
    if min.0 == 0
        && shard
            .engine
            .queue_offset_in_memory(&header.topic, queue, min)
    {
        return Ok(Some(offset_response(request, 0)));
    }
    let remark = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".to_owned();
    Ok(Some(response(
        request,
        response_code::QUERY_NOT_FOUND,
        Some(remark),
    )))
}
