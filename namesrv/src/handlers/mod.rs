//! Request dispatch: one [`Namesrv`] owns every table, and [`Namesrv::handle`] turns a request
//! into at most one response. No I/O except the KV table's persistence and log lines.
//!
//! Each request family lives in its own file; this file maps request codes to them and maps
//! [`HandlerError`] to RocketMQ response codes (header problems become SYSTEM_ERROR with the
//! reason as remark, as Java's `RemotingCommandException` does).

mod broker;
mod kv_config;
mod namesrv_config;
mod route;

use std::fmt;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::HeaderError;
use ringmq_protocol::{request_code, response_code};

use crate::clock::{MonotonicMs, WallMs};
use crate::config::NamesrvConfig;
use crate::kv_table::KvTable;
use crate::liveness::{ConnectionId, Liveness};
use crate::logger::Logger;
use crate::route_table::RouteTable;

/// Where and when a request arrived.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub(crate) connection: ConnectionId,
    pub(crate) now: MonotonicMs,
    pub(crate) wall: WallMs,
}

/// Why a request could not be served. Mapped to a response code in one place.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum HandlerError {
    /// The request header lacks a required field or a field does not parse.
    Header(HeaderError),
    /// The body does not decode.
    BadBody { what: &'static str, reason: String },
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Header(error) => write!(f, "{error}"),
            HandlerError::BadBody { what, reason } => write!(f, "bad {what} body: {reason}"),
        }
    }
}

impl From<HeaderError> for HandlerError {
    fn from(error: HeaderError) -> Self {
        HandlerError::Header(error)
    }
}

type Reply = Result<RemotingCommand, HandlerError>;

/// The name server's state, owned by the server thread.
#[derive(Debug)]
pub(crate) struct Namesrv {
    pub(crate) config: NamesrvConfig,
    pub(crate) routes: RouteTable,
    pub(crate) liveness: Liveness,
    pub(crate) kv: KvTable,
    pub(crate) log: Logger,
}

impl Namesrv {
    /// Serve one request. `None` for oneway requests: they are processed but never answered.
    pub(crate) fn handle(
        &mut self,
        request: &RemotingCommand,
        arrival: Arrival,
    ) -> Option<RemotingCommand> {
        let reply = self.dispatch(request, arrival);
        let response = reply.unwrap_or_else(|error| {
            self.log.warn(
                arrival.wall,
                &format!("request code {} failed: {error}", request.code),
            );
            RemotingCommand::response_to(
                request,
                response_code::SYSTEM_ERROR,
                Some(error.to_string()),
            )
        });
        (!request.is_oneway()).then_some(response)
    }

    fn dispatch(&mut self, request: &RemotingCommand, arrival: Arrival) -> Reply {
        match request.code {
            request_code::REGISTER_BROKER => broker::register(self, request, arrival),
            request_code::UNREGISTER_BROKER => broker::unregister(self, request, arrival),
            request_code::QUERY_DATA_VERSION => broker::query_data_version(self, request, arrival),
            request_code::BROKER_HEARTBEAT => broker::heartbeat(self, request, arrival),
            request_code::GET_BROKER_MEMBER_GROUP => broker::member_group(self, request),
            request_code::GET_ROUTEINFO_BY_TOPIC => route::route_of_topic(self, request),
            request_code::GET_BROKER_CLUSTER_INFO => Ok(route::cluster_info(self, request)),
            request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                Ok(route::all_topics(self, request))
            }
            request_code::GET_TOPICS_BY_CLUSTER => route::topics_of_cluster(self, request),
            request_code::DELETE_TOPIC_IN_NAMESRV => route::delete_topic(self, request),
            request_code::WIPE_WRITE_PERM_OF_BROKER => route::wipe_write_perm(self, request),
            request_code::ADD_WRITE_PERM_OF_BROKER => route::add_write_perm(self, request),
            request_code::PUT_KV_CONFIG => kv_config::put(self, request, arrival),
            request_code::GET_KV_CONFIG => kv_config::get(self, request),
            request_code::DELETE_KV_CONFIG => kv_config::delete(self, request, arrival),
            request_code::GET_KVLIST_BY_NAMESPACE => kv_config::list(self, request),
            request_code::GET_NAMESRV_CONFIG => Ok(namesrv_config::get(self, request)),
            request_code::UPDATE_NAMESRV_CONFIG => {
                Ok(namesrv_config::update(self, request, arrival))
            }
            code => Ok(RemotingCommand::response_to(
                request,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                Some(format!(" request type {code} not supported")),
            )),
        }
    }

    /// Periodic scan: expire silent brokers. Returns the connections they registered over,
    /// which the server closes (RocketMQ closes an expired broker's channel).
    pub(crate) fn scan(&mut self, now: MonotonicMs, wall: WallMs) -> Vec<ConnectionId> {
        let mut to_close = Vec::new();
        for expired in self.liveness.expire(now) {
            self.log.warn(
                wall,
                &format!(
                    "The broker channel expired, cluster={} brokerAddr={} silent {}ms > {}ms",
                    expired.key.cluster, expired.key.addr, expired.silent_ms, expired.timeout_ms
                ),
            );
            self.remove_address(&expired.key, wall);
            to_close.extend(expired.connection);
        }
        to_close
    }

    /// A connection closed: remove every broker that registered over it.
    pub(crate) fn connection_closed(&mut self, connection: ConnectionId, wall: WallMs) {
        for key in self.liveness.connection_closed(connection) {
            self.log.info(
                wall,
                &format!(
                    "the broker's channel destroyed, cluster={} brokerAddr={}, clean it's data",
                    key.cluster, key.addr
                ),
            );
            self.remove_address(&key, wall);
        }
    }

    fn remove_address(&mut self, key: &crate::route_table::BrokerAddrKey, wall: WallMs) {
        for removed in self.routes.remove_address(key) {
            if removed.broker_name_removed {
                self.log.info(
                    wall,
                    &format!(
                        "remove brokerName[{}] and its topic routes, no address left",
                        removed.broker_name
                    ),
                );
            }
        }
    }
}

fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response_code::SUCCESS, None)
}
