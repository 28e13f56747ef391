//! QUERY_MESSAGE (12), which needs every shard's index, and VIEW_MESSAGE_BY_ID (33).
//!
//! A query is scattered to all shards as a [`Gather`]; each answers with the records its index
//! finds, and the scattering shard replies once every part is back.

use std::collections::HashMap;

use bytes::Bytes;
use ringmq_engine::types::{PhysicalOffset, TimestampMs};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ringmq_protocol::response_code as code;

use super::Handled;
use crate::error::{response, success};
use crate::message::{Message, Origin};
use crate::shard::BrokerShard;

/// Matches a unique-key query returns at most (`defaultQueryMaxNum`).
const UNIQUE_QUERY_MAX: usize = 32;
/// Matches any query returns at most.
const QUERY_MAX: usize = 64;

/// One shard's share of a query.
#[derive(Debug)]
pub(crate) struct Gather {
    id: u64,
    reply_to: u16,
    topic: String,
    key: String,
    begin: TimestampMs,
    end: TimestampMs,
    max: usize,
}

/// One shard's answer.
#[derive(Debug)]
pub(crate) struct Gathered {
    id: u64,
    records: Vec<Bytes>,
    last_update: (TimestampMs, PhysicalOffset),
}

/// A query waiting for its parts.
#[derive(Debug)]
pub(crate) struct GatherState {
    origin: Origin,
    request: RemotingCommand,
    remaining: u16,
    max: usize,
    records: Vec<Bytes>,
    last_update: (TimestampMs, PhysicalOffset),
}

/// Queries a shard scattered and waits for, by id.
#[derive(Debug, Default)]
pub(crate) struct Gathers {
    next_id: u64,
    waiting: HashMap<u64, GatherState>,
}

pub(crate) fn scatter(shard: &mut BrokerShard, origin: Origin, request: RemotingCommand) {
    let header = match QueryMessageRequestHeader::from_command(&request) {
        Ok(header) => header,
        Err(error) => {
            let reply = crate::error::HandlerError::from(error).into_response(&request);
            return shard.respond(&origin, &request, reply);
        }
    };
    let max = if header.unique_key_query == Some(true) {
        UNIQUE_QUERY_MAX
    } else {
        usize::try_from(header.max_num)
            .unwrap_or(1)
            .clamp(1, QUERY_MAX)
    };
    shard.gathers.next_id += 1;
    let id = shard.gathers.next_id;
    let shards = shard.outboxes.shard_count();
    let state = GatherState {
        origin,
        request,
        remaining: shards,
        max,
        records: Vec::new(),
        last_update: (TimestampMs(0), PhysicalOffset(0)),
    };
    shard.gathers.waiting.insert(id, state);
    let to_ms = |value: i64| TimestampMs(u64::try_from(value).unwrap_or(0));
    for target in 0..shards {
        let gather = Gather {
            id,
            reply_to: shard.index,
            topic: header.topic.clone(),
            key: header.key.clone(),
            begin: to_ms(header.begin_timestamp),
            end: to_ms(header.end_timestamp),
            max,
        };
        shard.deliver(target, Message::Gather(gather));
    }
}

pub(crate) fn on_gather(shard: &mut BrokerShard, gather: &Gather) {
    let records = shard
        .engine
        .lookup_key(
            &gather.topic,
            &gather.key,
            gather.begin,
            gather.end,
            gather.max,
        )
        .unwrap_or_default();
    let last_update = shard.engine.index_last_update();
    shard.deliver(
        gather.reply_to,
        Message::Gathered(Gathered {
            id: gather.id,
            records,
            last_update,
        }),
    );
}

pub(crate) fn on_gathered(shard: &mut BrokerShard, part: Gathered) {
    let Some(state) = shard.gathers.waiting.get_mut(&part.id) else {
        return;
    };
    state.remaining -= 1;
    state.records.extend(part.records);
    state.last_update = state.last_update.max(part.last_update);
    if state.remaining > 0 {
        return;
    }
    let Some(mut state) = shard.gathers.waiting.remove(&part.id) else {
        return;
    };
    state.records.truncate(state.max);
    let reply = if state.records.is_empty() {
        response(
            &state.request,
            code::QUERY_NOT_FOUND,
            Some("can not find message, maybe time range not correct".to_owned()),
        )
    } else {
        let mut reply = success(&state.request);
        QueryMessageResponseHeader {
            index_last_update_timestamp: state.last_update.0.as_i64(),
            index_last_update_phyoffset: state.last_update.1.as_i64(),
        }
        .write_to(&mut reply.command);
        reply.body = state.records;
        reply
    };
    shard.respond(&state.origin, &state.request, reply);
}

pub(crate) fn view_by_id(shard: &mut BrokerShard, request: &RemotingCommand) -> Handled {
    let header = ViewMessageRequestHeader::from_command(request)?;
    let offset = u64::try_from(header.offset).unwrap_or(u64::MAX);
    match shard.engine.read_record(PhysicalOffset(offset)) {
        Ok(record) => {
            let mut reply = success(request);
            reply.body = vec![record];
            Ok(Some(reply))
        }
        Err(_) => Ok(Some(response(
            request,
            code::SYSTEM_ERROR,
            Some(format!(
                "can not find message by the offset, {}",
                header.offset
            )),
        ))),
    }
}
