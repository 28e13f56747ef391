//! Runtime config codes: GET_NAMESRV_CONFIG (319) answers with the config as properties text;
//! UPDATE_NAMESRV_CONFIG (318) applies properties text from the body.
//!
//! Updates change the running config only (like Java, keys in `configBlackList` are refused);
//! they are not written back to a file, and `listenPort`/`bindAddress` take effect on restart.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::response_code;

use super::{success, Arrival, Namesrv};

pub(super) fn get(namesrv: &Namesrv, request: &RemotingCommand) -> RemotingCommand {
    success(request).with_body(namesrv.config.to_properties_text().into_bytes())
}

pub(super) fn update(
    namesrv: &mut Namesrv,
    request: &RemotingCommand,
    arrival: Arrival,
) -> RemotingCommand {
    let Ok(text) = std::str::from_utf8(&request.body) else {
        return RemotingCommand::response_to(
            request,
            response_code::SYSTEM_ERROR,
            Some("string2Properties error".to_owned()),
        );
    };
    if !namesrv.config.black_listed_keys(text).is_empty() {
        return RemotingCommand::response_to(
            request,
            response_code::NO_PERMISSION,
            Some("Can not update config in black list.".to_owned()),
        );
    }
    match namesrv.config.apply_text(text) {
        Ok(applied) => {
            for key in applied.unknown_keys {
                namesrv.log.warn(
                    arrival.wall,
                    &format!("updateConfig: unknown config key {key}"),
                );
            }
            namesrv
                .log
                .info(arrival.wall, &format!("updateConfig: {}", text.trim()));
            success(request)
        }
        Err(error) => RemotingCommand::response_to(
            request,
            response_code::INVALID_PARAMETER,
            Some(error.to_string()),
        ),
    }
}
