//! KV config codes: PUT_KV_CONFIG (100), GET_KV_CONFIG (101), DELETE_KV_CONFIG (102) and
//! GET_KVLIST_BY_NAMESPACE (219). Puts and deletes are persisted before the reply.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::response_code;

use ringmq_protocol::header::namesrv::{
    GetKvListByNamespaceRequestHeader, KvConfigKeyRequestHeader, PutKvConfigRequestHeader,
};

use super::{success, Arrival, Namesrv, Reply};
use crate::body::{JsonBody, KvTableBody};

pub(super) fn put(namesrv: &mut Namesrv, request: &RemotingCommand, arrival: Arrival) -> Reply {
    let PutKvConfigRequestHeader {
        namespace,
        key,
        value,
    } = PutKvConfigRequestHeader::from_command(request)?;
    match namesrv.kv.put(&namespace, &key, &value) {
        Ok(()) => {
            namesrv.log.info(
                arrival.wall,
                &format!("putKVConfig namespace={namespace} key={key} value={value}"),
            );
            Ok(success(request))
        }
        Err(error) => Ok(persist_failed(namesrv, request, arrival, &error)),
    }
}

pub(super) fn get(namesrv: &Namesrv, request: &RemotingCommand) -> Reply {
    let KvConfigKeyRequestHeader { namespace, key } =
        KvConfigKeyRequestHeader::from_command(request)?;
    Ok(match namesrv.kv.get(&namespace, &key) {
        Some(value) => success(request).with_ext("value", &value),
        None => RemotingCommand::response_to(
            request,
            response_code::QUERY_NOT_FOUND,
            Some(format!("No config item, Namespace: {namespace} Key: {key}")),
        ),
    })
}

pub(super) fn delete(namesrv: &mut Namesrv, request: &RemotingCommand, arrival: Arrival) -> Reply {
    let KvConfigKeyRequestHeader { namespace, key } =
        KvConfigKeyRequestHeader::from_command(request)?;
    match namesrv.kv.delete(&namespace, &key) {
        Ok(()) => Ok(success(request)),
        Err(error) => Ok(persist_failed(namesrv, request, arrival, &error)),
    }
}

pub(super) fn list(namesrv: &Namesrv, request: &RemotingCommand) -> Reply {
    let namespace = GetKvListByNamespaceRequestHeader::from_command(request)?.namespace;
    Ok(match namesrv.kv.namespace(&namespace) {
        Some(entries) => {
            let table = KvTableBody {
                table: entries.clone(),
            };
            success(request).with_body(table.encode())
        }
        None => RemotingCommand::response_to(
            request,
            response_code::QUERY_NOT_FOUND,
            Some(format!("No config item, Namespace: {namespace}")),
        ),
    })
}

fn persist_failed(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
    error: &crate::kv_table::KvError,
) -> RemotingCommand {
    namesrv
        .log
        .error(arrival.wall, &format!("KV config not changed: {error}"));
    RemotingCommand::response_to(
        request,
        response_code::SYSTEM_ERROR,
        Some(error.to_string()),
    )
}
