//! [`KvTable`] (Java `KVTable`): a string map, used for GET_BROKER_RUNTIME_INFO (28) and
//! GET_KVLIST_BY_NAMESPACE (219) responses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// `{"table":{...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    pub table: BTreeMap<String, String>,
}

impl JsonBody for KvTable {
    const NAME: &'static str = "KVTable";
}
