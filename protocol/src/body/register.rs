//! [`RegisterBrokerBody`]: the REGISTER_BROKER (103) body, a broker's topic table and filter
//! servers.
//!
//! Java brokers send it as JSON (`compressed=false` is the default and the only mode Java
//! brokers use unless `compressedRegister` is set). The zlib `compressed` variant is not
//! decoded: [`RegisterBrokerBody::decode_request`] returns [`BodyError::Compressed`] for it.

use serde::{Deserialize, Serialize};

use super::topic_config::TopicConfigSerializeWrapper;
use super::{BodyError, JsonBody};

/// A broker's registration with the name server.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl JsonBody for RegisterBrokerBody {
    const NAME: &'static str = "RegisterBrokerBody";
}

impl RegisterBrokerBody {
    /// Decode a REGISTER_BROKER body given the request header's `compressed` flag.
    pub fn decode_request(body: &[u8], compressed: bool) -> Result<Self, BodyError> {
        if compressed {
            return Err(BodyError::Compressed {
                reason: "compressed registration is not supported; \
                         set compressedRegister=false on the broker"
                    .to_owned(),
            });
        }
        Self::decode(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE_BODY: &str = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},
  "topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
                           "topicName":"T","topicSysFlag":0,"writeQueueNums":4}},
  "topicQueueMappingInfoMap":{},"topicQueueMappingDetailMap":{},"mappingDataVersion":{"counter":0}}}"#;

    #[test]
    fn reference_registration_decodes_and_round_trips() {
        let body = RegisterBrokerBody::decode_request(REFERENCE_BODY.as_bytes(), false).unwrap();
        let wrapper = &body.topic_config_serialize_wrapper;
        assert_eq!(wrapper.data_version.counter, 3);
        assert_eq!(wrapper.topic_config_table["T"].write_queue_nums, 4);
        assert_eq!(RegisterBrokerBody::decode(&body.encode()).unwrap(), body);
    }

    #[test]
    fn compressed_registration_is_refused_with_a_reason() {
        let error = RegisterBrokerBody::decode_request(b"x\x9c", true).unwrap_err();
        assert!(error.to_string().contains("not supported"));
    }
}
