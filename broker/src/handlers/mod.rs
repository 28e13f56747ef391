//! Request handlers of the data plane: each runs on the shard that owns the queue or offset
//! the request names. Control-plane requests are handled in [`crate::control`].

pub(crate) mod pull;
pub(crate) mod query;
pub(crate) mod queue_offset;
pub(crate) mod send;
pub(crate) mod send_back;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::request_code as code;

use crate::control::OFFSET_NOT_FOUND_MARK;
use crate::error::{not_supported, HandlerError};
use crate::message::{Origin, Response};
use crate::shard::BrokerShard;

/// `Ok(None)`: the answer comes later (a parked pull, a send waiting for fdatasync).
pub(crate) type Handled = Result<Option<Response>, HandlerError>;

/// Run the data-plane handler of `request`; `None` when no response is due now.
pub(crate) fn dispatch(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
) -> Option<Response> {
    let result = match request.code {
        code::SEND_MESSAGE | code::SEND_MESSAGE_V2 | code::SEND_BATCH_MESSAGE => {
            send::handle(shard, origin, request)
        }
        code::PULL_MESSAGE => pull::handle(shard, origin, request, true),
        code::GET_MAX_OFFSET
        | code::GET_MIN_OFFSET
        | code::GET_EARLIEST_MSG_STORETIME
        | code::SEARCH_OFFSET_BY_TIMESTAMP => queue_offset::handle(shard, request),
        code::VIEW_MESSAGE_BY_ID => query::view_by_id(shard, request),
        code::CONSUMER_SEND_MSG_BACK => send_back::handle(shard, origin, request),
        code::QUERY_CONSUMER_OFFSET if request.ext(OFFSET_NOT_FOUND_MARK).is_some() => {
            queue_offset::offset_not_committed(shard, request)
        }
        _ => Ok(Some(not_supported(request))),
    };
    result.unwrap_or_else(|error| Some(error.into_response(request)))
}
