//! Administration codes of the control plane that `mqadmin` and the dashboard use.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::GetBrokerConfigResponseHeader;
use ringmq_protocol::request_code as code;

use crate::control::{ControlPlane, Outcome};
use crate::error::{success, HandlerError};
use crate::message::Origin;
use crate::shard::BrokerShard;

pub(crate) fn handle(
    control: &mut ControlPlane,
    _shard: &mut BrokerShard,
    _origin: &Origin,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    match request.code {
        code::GET_BROKER_CONFIG => {
            let mut answer = success(&request);
            answer.command.body = control.context.config.print_all().into_bytes().into();
            GetBrokerConfigResponseHeader {
                version: control.topics.version().counter.to_string(),
            }
            .write_to(&mut answer.command);
            Ok(Outcome::Reply(request, answer))
        }
        _ => crate::control::unsupported(request),
    }
}
