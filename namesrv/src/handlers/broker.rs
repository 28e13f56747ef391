//! Broker-facing codes: REGISTER_BROKER (103), UNREGISTER_BROKER (104), QUERY_DATA_VERSION
//! (322), and the 5.x acting-master pair GET_BROKER_MEMBER_GROUP (901) and BROKER_HEARTBEAT
//! (904).

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::response_code;

use super::{success, Arrival, HandlerError, Namesrv, Reply};
use crate::body::{
    self, BrokerMemberGroup, BrokerMemberGroupBody, DataVersion, JsonBody, KvTableBody,
    RegisterBrokerBody,
};
use crate::constants::BROKER_CHANNEL_EXPIRED_MS_DEFAULT;
use crate::kv_table::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::route_table::{BrokerAddrKey, Registration};
use ringmq_protocol::header::namesrv::{BrokerIdentityRequestHeader, RegisterBrokerRequestHeader};
use ringmq_protocol::header::HeaderError;

/// RocketMQ `UtilAll.crc32`: CRC32 with the sign bit cleared.
pub(crate) fn body_crc32(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

pub(super) fn register(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
) -> Reply {
    let header = RegisterBrokerRequestHeader::from_command(request)?;
    let key = BrokerAddrKey {
        cluster: header.cluster_name.clone(),
        addr: header.broker_addr.clone(),
    };
    if !crc_matches(request, header.body_crc32) {
        namesrv.log.warn(
            arrival.wall,
            &format!(
                "receive registerBroker request, crc32 not match, broker {}",
                key.addr
            ),
        );
        return Ok(RemotingCommand::response_to(
            request,
            response_code::SYSTEM_ERROR,
            Some("crc32 not match".to_owned()),
        ));
    }
    let timeout_ms = header
        .heartbeat_timeout_millis
        .and_then(|millis| u64::try_from(millis).ok())
        .filter(|millis| *millis > 0)
        .unwrap_or(BROKER_CHANNEL_EXPIRED_MS_DEFAULT);
    let registration = registration_of(request, header)?;
    let first = namesrv.routes.data_version(&key).is_none();
    let outcome = namesrv.routes.register(&registration);
    if outcome.accepted {
        namesrv
            .liveness
            .heartbeat(key, arrival.now, timeout_ms, Some(arrival.connection));
        if first {
            namesrv.log.info(
                arrival.wall,
                &format!(
                    "new broker registered, cluster={} brokerName={} brokerId={} addr={} \
                     HAService: {}",
                    registration.cluster,
                    registration.broker_name,
                    registration.broker_id,
                    registration.broker_addr,
                    registration.ha_server_addr
                ),
            );
        }
    } else {
        namesrv.liveness.remove(&key);
    }
    let mut response = success(request);
    if let Some(ha_server_addr) = outcome.ha_server_addr {
        response = response.with_ext("haServerAddr", &ha_server_addr);
    }
    if let Some(master_addr) = outcome.master_addr {
        response = response.with_ext("masterAddr", &master_addr);
    }
    if namesrv.config.return_order_topic_config_to_broker {
        if let Some(entries) = namesrv.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
            let table = KvTableBody {
                table: entries.clone(),
            };
            response = response.with_body(table.encode());
        }
    }
    Ok(response)
}

/// `bodyCrc32` absent or 0 skips the check, as in RocketMQ.
fn crc_matches(request: &RemotingCommand, expected: Option<i32>) -> bool {
    let expected = expected.unwrap_or(0);
    expected == 0 || i64::from(body_crc32(&request.body)) == i64::from(expected)
}

fn registration_of(
    request: &RemotingCommand,
    header: RegisterBrokerRequestHeader,
) -> Result<Registration, HandlerError> {
    let register_body = decode_register_body(request, header.compressed.unwrap_or(false))?;
    let wrapper = register_body.topic_config_serialize_wrapper;
    Ok(Registration {
        cluster: header.cluster_name,
        broker_name: header.broker_name,
        broker_addr: header.broker_addr,
        broker_id: header.broker_id,
        ha_server_addr: header.ha_server_addr,
        enable_acting_master: header.enable_acting_master,
        zone_name: request.ext("zoneName").map(str::to_owned),
        data_version: wrapper.data_version,
        topics: wrapper.topic_config_table,
        filter_servers: register_body.filter_server_list,
    })
}

fn decode_register_body(
    request: &RemotingCommand,
    compressed: bool,
) -> Result<RegisterBrokerBody, HandlerError> {
    if request.body.is_empty() {
        return Ok(RegisterBrokerBody::default());
    }
    if compressed {
        return crate::register_body::decode_compressed(&request.body).map_err(|reason| {
            HandlerError::BadBody {
                what: "compressed register",
                reason,
            }
        });
    }
    RegisterBrokerBody::decode(&request.body).map_err(|error| HandlerError::BadBody {
        what: "register",
        reason: error.to_string(),
    })
}

pub(super) fn unregister(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
) -> Reply {
    let header = BrokerIdentityRequestHeader::from_command(request)?;
    let key = BrokerAddrKey {
        cluster: header.cluster_name,
        addr: header.broker_addr,
    };
    namesrv.liveness.remove(&key);
    let removed = namesrv.routes.unregister(&key, &header.broker_name);
    namesrv.log.info(
        arrival.wall,
        &format!(
            "unregisterBroker, cluster={} brokerName={} brokerId={} addr={} removed={}",
            key.cluster,
            header.broker_name,
            header.broker_id,
            key.addr,
            removed.is_some()
        ),
    );
    Ok(success(request))
}

pub(super) fn query_data_version(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
) -> Reply {
    let header = BrokerIdentityRequestHeader::from_command(request)?;
    let key = BrokerAddrKey {
        cluster: header.cluster_name,
        addr: header.broker_addr,
    };
    let offered: DataVersion = if request.body.is_empty() {
        DataVersion::default()
    } else {
        DataVersion::decode(&request.body).map_err(|error| HandlerError::BadBody {
            what: "data version",
            reason: error.to_string(),
        })?
    };
    let ours = namesrv.routes.data_version(&key).cloned();
    let changed = ours.as_ref() != Some(&offered);
    if !changed {
        namesrv.liveness.touch(&key, arrival.now);
    }
    let mut response = success(request).with_ext("changed", &changed);
    if let Some(ours) = ours {
        response = response.with_body(ours.encode());
    }
    Ok(response)
}

/// BROKER_HEARTBEAT: refresh a registered broker's liveness without re-registering.
pub(super) fn heartbeat(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
) -> Reply {
    let key = BrokerAddrKey {
        cluster: required(request, "clusterName")?.to_owned(),
        addr: required(request, "brokerAddr")?.to_owned(),
    };
    namesrv.liveness.touch(&key, arrival.now);
    Ok(success(request))
}

/// GET_BROKER_MEMBER_GROUP: the addresses registered under one broker name.
pub(super) fn member_group(namesrv: &Namesrv, request: &RemotingCommand) -> Reply {
    let cluster = required(request, "clusterName")?;
    let broker_name = required(request, "brokerName")?;
    let group = BrokerMemberGroup {
        broker_addrs: namesrv
            .routes
            .broker_addrs(broker_name)
            .cloned()
            .unwrap_or_default(),
        broker_name: broker_name.to_owned(),
        cluster: cluster.to_owned(),
    };
    let body = BrokerMemberGroupBody {
        broker_member_group: group,
    };
    Ok(success(request).with_body(body::to_json(&body)))
}

/// A required ext field of a header the protocol crate does not type (901, 904).
fn required<'a>(request: &'a RemotingCommand, field: &'static str) -> Result<&'a str, HeaderError> {
    request.ext(field).ok_or(HeaderError::Missing { field })
}
