//! The typed settings: one table row per key, saying how to parse it into [`BrokerConfig`]
//! and how to print it back for `-p`.
//!
//! A table instead of a `match` keeps each key's grammar on one line and lets the loader,
//! the printer and the unknown-key suggestions share one list of names. Bounds are named
//! constants; the engine's (`engine/src/constants.rs`) are mirrored here because the broker
//! must reject a bad size with its line number before it builds an engine.

use std::path::Path;
use std::time::Duration;

use super::values::{self, int_in};
use super::BrokerConfig;

/// Most shards a broker may run (mirrors `engine::constants::SHARDS_MAX`).
pub const SHARDS_MAX: u16 = 1024;
/// Smallest commitlog segment (mirrors `engine::constants::COMMITLOG_SEGMENT_BYTES_MIN`).
pub const COMMITLOG_SEGMENT_BYTES_MIN: u64 = 64 * 1024;
/// Largest commitlog segment: RocketMQ stores the size in a Java `int`.
pub const COMMITLOG_SEGMENT_BYTES_MAX: u64 = (1 << 31) - 4096;
/// Segments are written with O_DIRECT, so their size is a multiple of the block size.
pub const COMMITLOG_SEGMENT_ALIGNMENT_BYTES: u64 = 4096;
/// One consume-queue entry (mirrors `engine::constants::CONSUME_QUEUE_ENTRY_BYTES`).
pub const CONSUME_QUEUE_ENTRY_BYTES: u64 = 20;
/// Largest Java `int`, the bound of every RocketMQ `int` setting.
const JAVA_INT_MAX: i128 = i32::MAX as i128;

const _: () = assert!(COMMITLOG_SEGMENT_BYTES_MIN % COMMITLOG_SEGMENT_ALIGNMENT_BYTES == 0);
const _: () = assert!(COMMITLOG_SEGMENT_BYTES_MAX % COMMITLOG_SEGMENT_ALIGNMENT_BYTES == 0);
const _: () = assert!(COMMITLOG_SEGMENT_BYTES_MAX <= i32::MAX as u64);

/// What a value parser may need besides the text.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// `$HOME`, for `~` in paths; `None` when unset.
    pub(crate) home: Option<&'a Path>,
}

/// One typed key.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) key: &'static str,
    /// Set on the old spelling of a renamed key: RocketMQ before 4.4 wrote `maped`, and
    /// guides still copy those files.
    pub(crate) alias_of: Option<&'static str>,
    pub(crate) apply: fn(&mut BrokerConfig, &str, &Context<'_>) -> Result<(), String>,
    pub(crate) show: fn(&BrokerConfig) -> String,
}

impl Field {
    /// The key this row sets: itself, or the one it is an old spelling of.
    pub(crate) fn canonical(&self) -> &'static str {
        self.alias_of.unwrap_or(self.key)
    }
}

/// A value parsed by `$parse` and printed with `Display`.
macro_rules! typed {
    ($key:literal, $field:ident, $parse:expr) => {
        Field {
            key: $key,
            alias_of: None,
            apply: |c, v, _| {
                c.$field = ($parse)(v)?;
                Ok(())
            },
            show: |c| c.$field.to_string(),
        }
    };
}

/// An optional value: empty text means unset, as RocketMQ treats `brokerIP2=`.
macro_rules! optional {
    ($key:literal, $field:ident, $parse:expr) => {
        Field {
            key: $key,
            alias_of: None,
            apply: |c, v, _| {
                c.$field = if v.is_empty() {
                    None
                } else {
                    Some(($parse)(v)?)
                };
                Ok(())
            },
            show: |c| {
                c.$field
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            },
        }
    };
}

/// An integer in `$min..=$max` with a unit word for the message.
macro_rules! ranged {
    ($key:literal, $field:ident, $min:expr, $max:expr, $what:literal) => {
        typed!($key, $field, |v| int_in(v, $min, $max, $what))
    };
}

/// Milliseconds into a `Duration`, printed back as milliseconds.
macro_rules! millis {
    ($key:literal, $field:ident, $min:expr) => {
        Field {
            key: $key,
            alias_of: None,
            apply: |c, v, _| {
                c.$field = Duration::from_millis(int_in(v, $min, JAVA_INT_MAX, "milliseconds")?);
                Ok(())
            },
            show: |c| c.$field.as_millis().to_string(),
        }
    };
}

/// A store path that defaults to a name under `storePathRootDir`; printed as the effective
/// path so `-p` shows where the broker will really write.
macro_rules! store_path {
    ($key:literal, $field:ident, $effective:ident) => {
        Field {
            key: $key,
            alias_of: None,
            apply: |c, v, ctx| {
                c.$field = Some(values::path(v, ctx.home)?);
                Ok(())
            },
            show: |c| c.store_paths().$effective.display().to_string(),
        }
    };
}

fn commitlog_segment_bytes(text: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a multiple of {COMMITLOG_SEGMENT_ALIGNMENT_BYTES} bytes from \
             {COMMITLOG_SEGMENT_BYTES_MIN} to {COMMITLOG_SEGMENT_BYTES_MAX}"
        )
    };
    let bytes: u64 = int_in(
        text,
        COMMITLOG_SEGMENT_BYTES_MIN.into(),
        COMMITLOG_SEGMENT_BYTES_MAX.into(),
        "bytes",
    )
    .map_err(|_| expected())?;
    if bytes % COMMITLOG_SEGMENT_ALIGNMENT_BYTES != 0 {
        return Err(expected());
    }
    Ok(bytes)
}

/// RocketMQ rounds a size that is not a multiple of the entry up without saying so; the
/// engine needs whole entries, and a silent change of a file size is worth a word, so this
/// is an error.
fn consume_queue_file_bytes(text: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a positive multiple of {CONSUME_QUEUE_ENTRY_BYTES} bytes (one \
             consume-queue entry) up to {JAVA_INT_MAX}"
        )
    };
    let bytes: u64 = int_in(
        text,
        CONSUME_QUEUE_ENTRY_BYTES.into(),
        JAVA_INT_MAX,
        "bytes",
    )
    .map_err(|_| expected())?;
    if bytes % CONSUME_QUEUE_ENTRY_BYTES != 0 {
        return Err(expected());
    }
    Ok(bytes)
}

fn show_delay_levels(config: &BrokerConfig) -> String {
    let words: Vec<String> = config
        .message_delay_levels
        .iter()
        .map(|level| {
            let seconds = level.as_secs();
            match seconds {
                s if s % 86_400 == 0 => format!("{}d", s / 86_400),
                s if s % 3600 == 0 => format!("{}h", s / 3600),
                s if s % 60 == 0 => format!("{}m", s / 60),
                s => format!("{s}s"),
            }
        })
        .collect();
    words.join(" ")
}

fn show_hours(config: &BrokerConfig) -> String {
    let hours: Vec<String> = config
        .delete_hours
        .iter()
        .map(|h| format!("{h:02}"))
        .collect();
    hours.join(";")
}

/// The commitlog segment size under either spelling.
const fn segment_size(key: &'static str, alias_of: Option<&'static str>) -> Field {
    Field {
        key,
        alias_of,
        apply: |c, v, _| {
            c.commitlog_segment_bytes = commitlog_segment_bytes(v)?;
            Ok(())
        },
        show: |c| c.commitlog_segment_bytes.to_string(),
    }
}

/// The consume-queue file size under either spelling.
const fn consume_queue_size(key: &'static str, alias_of: Option<&'static str>) -> Field {
    Field {
        key,
        alias_of,
        apply: |c, v, _| {
            c.consume_queue_file_bytes = consume_queue_file_bytes(v)?;
            Ok(())
        },
        show: |c| c.consume_queue_file_bytes.to_string(),
    }
}

/// Every typed key, RocketMQ's first, then ringmq's own.
pub(crate) const FIELDS: &[Field] = &[
    typed!("brokerClusterName", broker_cluster_name, values::name),
    typed!("brokerName", broker_name, values::name),
    ranged!(
        "brokerId",
        broker_id,
        0,
        i128::from(i64::MAX),
        "a broker id"
    ),
    typed!("brokerRole", broker_role, str::parse),
    typed!("flushDiskType", flush_disk_type, str::parse),
    Field {
        key: "namesrvAddr",
        alias_of: None,
        apply: |c, v, _| {
            c.namesrv_addr = values::address_list(v)?;
            Ok(())
        },
        show: |c| c.namesrv_addr.join(";"),
    },
    typed!("listenPort", listen_port, values::port),
    optional!("brokerIP1", broker_ip1, values::host),
    optional!("brokerIP2", broker_ip2, values::host),
    Field {
        key: "haListenPort",
        alias_of: None,
        apply: |c, v, _| {
            c.ha_listen_port = Some(values::port(v)?);
            Ok(())
        },
        show: |c| c.ha_port().to_string(),
    },
    optional!("haMasterAddress", ha_master_address, |v| {
        values::host_port(v).map(|_| String::from(v))
    }),
    Field {
        key: "storePathRootDir",
        alias_of: None,
        apply: |c, v, ctx| {
            c.store_path_root_dir = values::path(v, ctx.home)?;
            Ok(())
        },
        show: |c| c.store_path_root_dir.display().to_string(),
    },
    store_path!("storePathCommitLog", store_path_commit_log, commitlog),
    store_path!(
        "storePathConsumeQueue",
        store_path_consume_queue,
        consume_queue
    ),
    store_path!("storePathIndex", store_path_index, index),
    store_path!("storeCheckpoint", store_checkpoint, checkpoint),
    store_path!("abortFile", abort_file, abort),
    segment_size("mappedFileSizeCommitLog", None),
    segment_size("mapedFileSizeCommitLog", Some("mappedFileSizeCommitLog")),
    consume_queue_size("mappedFileSizeConsumeQueue", None),
    consume_queue_size(
        "mapedFileSizeConsumeQueue",
        Some("mappedFileSizeConsumeQueue"),
    ),
    Field {
        key: "deleteWhen",
        alias_of: None,
        apply: |c, v, _| {
            c.delete_hours = values::delete_hours(v)?;
            Ok(())
        },
        show: show_hours,
    },
    ranged!(
        "fileReservedTime",
        file_reserved_hours,
        0,
        JAVA_INT_MAX,
        "hours"
    ),
    ranged!(
        "diskMaxUsedSpaceRatio",
        disk_max_used_space_percent,
        10,
        95,
        "a percentage"
    ),
    millis!("flushIntervalCommitLog", flush_interval_commitlog, 1),
    ranged!(
        "flushCommitLogLeastPages",
        flush_commitlog_least_pages,
        0,
        JAVA_INT_MAX,
        "pages"
    ),
    millis!(
        "flushCommitLogThoroughInterval",
        flush_commitlog_thorough_interval,
        0
    ),
    millis!("syncFlushTimeout", sync_flush_timeout, 1),
    ranged!(
        "maxMessageSize",
        max_message_bytes,
        1,
        JAVA_INT_MAX,
        "a size in bytes"
    ),
    ranged!(
        "defaultTopicQueueNums",
        default_topic_queue_count,
        1,
        1024,
        "a queue count"
    ),
    typed!("autoCreateTopicEnable", auto_create_topic, values::boolean),
    typed!(
        "autoCreateSubscriptionGroup",
        auto_create_subscription_group,
        values::boolean
    ),
    typed!("clusterTopicEnable", cluster_topic_enable, values::boolean),
    typed!("brokerTopicEnable", broker_topic_enable, values::boolean),
    typed!("traceTopicEnable", trace_topic_enable, values::boolean),
    typed!("msgTraceTopicName", msg_trace_topic_name, values::name),
    ranged!(
        "sendMessageThreadPoolNums",
        send_message_threads,
        1,
        4096,
        "a thread count"
    ),
    ranged!(
        "pullMessageThreadPoolNums",
        pull_message_threads,
        1,
        4096,
        "a thread count"
    ),
    Field {
        key: "messageDelayLevel",
        alias_of: None,
        apply: |c, v, _| {
            c.message_delay_levels = values::delay_levels(v)?;
            Ok(())
        },
        show: show_delay_levels,
    },
    ranged!(
        "maxHashSlotNum",
        index_hash_slots,
        1,
        JAVA_INT_MAX,
        "a slot count"
    ),
    ranged!(
        "maxIndexNum",
        index_entries_max,
        2,
        JAVA_INT_MAX,
        "an entry count"
    ),
    typed!("checkCRCOnRecover", check_crc_on_recover, values::boolean),
    typed!("slaveReadEnable", slave_read_enable, values::boolean),
    ranged!("inSyncReplicas", in_sync_replicas, 1, 64, "a replica count"),
    millis!("haSendHeartbeatInterval", ha_send_heartbeat_interval, 1),
    millis!("haHousekeepingInterval", ha_housekeeping_interval, 1),
    ranged!(
        "haTransferBatchSize",
        ha_transfer_batch_bytes,
        1,
        JAVA_INT_MAX,
        "a size in bytes"
    ),
    ranged!(
        "haMaxGapNotInSync",
        ha_max_gap_not_in_sync,
        1,
        JAVA_INT_MAX,
        "a size in bytes"
    ),
    ranged!(
        "accessMessageInMemoryMaxRatio",
        access_message_in_memory_max_ratio,
        0,
        100,
        "a percentage"
    ),
    optional!(
        "maxTransferCountOnMessageInMemory",
        max_transfer_count_in_memory,
        |v| int_in(v, 1, JAVA_INT_MAX, "a message count")
    ),
    optional!(
        "maxTransferBytesOnMessageInMemory",
        max_transfer_bytes_in_memory,
        |v| int_in(v, 1, JAVA_INT_MAX, "a size in bytes")
    ),
    optional!(
        "maxTransferCountOnMessageInDisk",
        max_transfer_count_in_disk,
        |v| int_in(v, 1, JAVA_INT_MAX, "a message count")
    ),
    optional!(
        "maxTransferBytesOnMessageInDisk",
        max_transfer_bytes_in_disk,
        |v| int_in(v, 1, JAVA_INT_MAX, "a size in bytes")
    ),
    millis!("slaveTimeout", slave_timeout, 1),
    typed!("enableDLegerCommitLog", dledger_enable, values::boolean),
    optional!("dLegerGroup", dledger_group, values::name),
    Field {
        key: "dLegerPeers",
        alias_of: None,
        apply: |c, v, _| {
            c.dledger_peers = values::dledger_peers(v)?;
            Ok(())
        },
        show: |c| {
            let peers: Vec<String> = c.dledger_peers.iter().map(ToString::to_string).collect();
            peers.join(";")
        },
    },
    optional!("dLegerSelfId", dledger_self_id, values::name),
    ranged!("shards", shards, 1, i128::from(SHARDS_MAX), "a shard count"),
    typed!("ioBackend", io_backend, str::parse),
    optional!("bufferPoolBytes", buffer_pool_bytes, |v| int_in(
        v,
        1 << 20,
        1 << 40,
        "a size in bytes"
    )),
    ranged!(
        "tailCacheBytes",
        tail_cache_bytes,
        0,
        1 << 40,
        "a size in bytes"
    ),
    ranged!(
        "zeroFillAheadBytes",
        zero_fill_ahead_bytes,
        0,
        1 << 40,
        "a size in bytes (0 turns zero-filling off)"
    ),
    ranged!(
        "idlePollMicros",
        idle_poll_micros,
        0,
        1_000_000,
        "microseconds of polling before a shard sleeps (0 sleeps at once)"
    ),
    Field {
        key: "logDir",
        alias_of: None,
        apply: |c, v, ctx| {
            c.log_dir = values::path(v, ctx.home)?;
            Ok(())
        },
        show: |c| c.log_dir.display().to_string(),
    },
];

/// The typed row for `key`, matched exactly (Java keys are case-sensitive).
pub(crate) fn find(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|field| field.key == key)
}
