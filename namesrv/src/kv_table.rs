//! The namespaced key/value config table (RocketMQ `KVConfigManager`), persisted as
//! `{"configTable":{namespace:{key:value}}}` at `kvConfigPath`.
//!
//! Durability contract: a put or delete returns only after the whole table was written to a
//! temporary file beside the target, fsynced, renamed over the target, and the directory
//! fsynced. If any step fails the in-memory table is left unchanged and the error is returned,
//! so memory never claims a change the disk does not hold.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::body::{self, KvConfigFile};
use crate::constants::KV_ENTRIES_MAX;

/// Namespace holding `topic → "brokerName:queueNum;…"` for ordered topics.
pub(crate) const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

#[derive(Debug)]
#[non_exhaustive]
pub enum KvError {
    /// Reading or writing the file failed.
    Io {
        op: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file exists but is not a KV config table.
    Corrupt {
        path: PathBuf,
        error: serde_json::Error,
    },
    /// The table already holds [`KV_ENTRIES_MAX`] entries.
    Full,
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::Io { op, path, error } => {
                write!(f, "{op} KV config file {}: {error}", path.display())
            }
            KvError::Corrupt { path, error } => write!(
                f,
                "KV config file {} is not valid JSON ({error}); repair it or move it away",
                path.display()
            ),
            KvError::Full => write!(f, "KV config table holds {KV_ENTRIES_MAX} entries already"),
        }
    }
}

impl std::error::Error for KvError {}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct KvTable {
    path: PathBuf,
    table: BTreeMap<String, BTreeMap<String, String>>,
}

impl KvTable {
    /// Load `path`; a missing or empty file is an empty table.
    pub(crate) fn load(path: &Path) -> Result<Self, KvError> {
        let table = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => BTreeMap::new(),
            Ok(bytes) => {
                let file: KvConfigFile =
                    serde_json::from_slice(&bytes).map_err(|error| KvError::Corrupt {
                        path: path.to_owned(),
                        error,
                    })?;
                file.config_table
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => {
                return Err(KvError::Io {
                    op: "read",
                    path: path.to_owned(),
                    error,
                })
            }
        };
        Ok(Self {
            path: path.to_owned(),
            table,
        })
    }

    pub(crate) fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.table.get(namespace)?.get(key).map(String::as_str)
    }

    pub(crate) fn namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.table
            .get(namespace)
            .filter(|entries| !entries.is_empty())
    }

    pub(crate) fn entry_count(&self) -> usize {
        self.table.values().map(BTreeMap::len).sum()
    }

    pub(crate) fn put(&mut self, namespace: &str, key: &str, value: &str) -> Result<(), KvError> {
        if self.get(namespace, key).is_none() && self.entry_count() >= KV_ENTRIES_MAX {
            return Err(KvError::Full);
        }
        let mut updated = self.table.clone();
        updated
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self.commit(updated)
    }

    /// Delete `key`; deleting a missing key succeeds without writing.
    pub(crate) fn delete(&mut self, namespace: &str, key: &str) -> Result<(), KvError> {
        if self.get(namespace, key).is_none() {
            return Ok(());
        }
        let mut updated = self.table.clone();
        if let Some(entries) = updated.get_mut(namespace) {
            entries.remove(key);
            if entries.is_empty() {
                updated.remove(namespace);
            }
        }
        self.commit(updated)
    }

    fn commit(
        &mut self,
        updated: BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<(), KvError> {
        let file = KvConfigFile {
            config_table: updated,
        };
        write_atomically(&self.path, &body::to_json(&file))?;
        self.table = file.config_table;
        Ok(())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KvError> {
    let io = |op: &'static str, at: &Path| {
        let at = at.to_owned();
        move |error| KvError::Io {
            op,
            path: at,
            error,
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create directory of", path))?;
    let mut temporary_name = path.file_name().unwrap_or_default().to_owned();
    temporary_name.push(".tmp");
    let temporary = dir.join(temporary_name);
    let mut file = File::create(&temporary).map_err(io("create", &temporary))?;
    file.write_all(bytes).map_err(io("write", &temporary))?;
    file.sync_all().map_err(io("fsync", &temporary))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io("rename over", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory of", path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_survives_reload_in_java_file_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let mut table = KvTable::load(&path).unwrap();
        table.put("ns", "k", "v").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"{"configTable":{"ns":{"k":"v"}}}"#);
        let reloaded = KvTable::load(&path).unwrap();
        assert_eq!(reloaded.get("ns", "k"), Some("v"));
        assert!(!dir
            .path()
            .join("namesrv")
            .join("kvConfig.json.tmp")
            .exists());
    }

    #[test]
    fn delete_of_last_key_removes_the_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        let mut table = KvTable::load(&path).unwrap();
        table.put("ns", "k", "v").unwrap();
        table.delete("ns", "k").unwrap();
        table.delete("ns", "missing").unwrap();
        assert!(table.namespace("ns").is_none());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"configTable":{}}"#
        );
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        std::fs::write(&path, "{not json").unwrap();
        let error = KvTable::load(&path).unwrap_err().to_string();
        assert!(error.contains("kv.json"), "{error}");
    }

    #[test]
    fn failed_persist_leaves_memory_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be makes the rename fail.
        let path = dir.path().join("kv.json");
        std::fs::create_dir_all(path.join("occupied")).unwrap();
        let mut table = KvTable {
            path: path.clone(),
            table: BTreeMap::new(),
        };
        assert!(table.put("ns", "k", "v").is_err());
        assert_eq!(table.get("ns", "k"), None);
    }
}
