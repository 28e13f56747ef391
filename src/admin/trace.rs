//! Message trace records of `sendMessage -m true`, as a Java producer with message trace
//! enabled writes them (`SendMessageTraceHookImpl`, `TraceDataEncoder`,
//! `AsyncTraceDispatcher`): after a send the broker acknowledged with a region and
//! `TRACE_ON=true`, one `Pub` record goes to `RMQ_SYS_TRACE_TOPIC`:
//!
//! ```text
//! Pub␁<send start ms>␁<region>␁<producer group>␁<topic>␁<msgId>␁<tags>␁<keys>␁<broker addr>␁
//!     <body length>␁<cost ms>␁<message type: 0 normal>␁<offsetMsgId>␁<success>␂
//! ```
//!
//! (␁ is `\u{1}`, ␂ `\u{2}`; absent tags or keys print `null`, as Java's StringBuilder does.)
//! The trace message's keys are the msgId and the message's keys; it is sent by producer group
//! `_INNER_TRACE_PRODUCER-<group>-PRODUCE-1` to a queue of the trace topic's route, or along
//! TBW102's when the topic does not exist (a broker creates it at start with
//! `traceTopicEnable=true`). Java sends traces in the background and only logs a failure;
//! ringmq sends it before exiting and reports a failure on stderr, without failing the send.

use super::client::{AdminError, Session};
use super::clock;
use super::produce::{self, Outgoing, Receipt};

/// Where Java producers send trace records unless configured otherwise.
pub(crate) const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// `TraceConstants.CONTENT_SPLITOR` and `FIELD_SPLITOR`.
const CONTENT_SPLITOR: char = '\u{1}';
const FIELD_SPLITOR: char = '\u{2}';

/// One traced send.
#[derive(Debug)]
pub(crate) struct TracedSend<'a> {
    pub(crate) producer_group: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) tags: Option<&'a str>,
    pub(crate) keys: Option<&'a str>,
    pub(crate) body_len: usize,
    /// The broker the message went to, `ip:port`.
    pub(crate) broker_address: &'a str,
    /// Wall-clock milliseconds when the send started.
    pub(crate) started_ms: i64,
    pub(crate) receipt: &'a Receipt,
}

/// The `Pub` record of `send`, or `None` when the broker gave no region or turned tracing
/// off (Java then records nothing).
pub(crate) fn pub_record(send: &TracedSend<'_>, now_ms: i64) -> Option<String> {
    let region = send.receipt.region_id.as_deref()?;
    if !send.receipt.trace_on {
        return None;
    }
    let cost_ms = now_ms - send.started_ms;
    let fields = [
        "Pub".to_owned(),
        send.started_ms.to_string(),
        region.to_owned(),
        send.producer_group.to_owned(),
        send.topic.to_owned(),
        send.receipt.msg_id.clone(),
        send.tags.unwrap_or("null").to_owned(),
        send.keys.unwrap_or("null").to_owned(),
        send.broker_address.to_owned(),
        send.body_len.to_string(),
        cost_ms.to_string(),
        "0".to_owned(),
        send.receipt.offset_msg_id.clone(),
        (send.receipt.status == "SEND_OK").to_string(),
    ];
    let mut record = fields.join(&CONTENT_SPLITOR.to_string());
    record.push(FIELD_SPLITOR);
    Some(record)
}

/// The trace message's keys: the msgId, then the message's own keys (space-separated).
fn trace_keys(send: &TracedSend<'_>) -> String {
    let mut keys = vec![send.receipt.msg_id.as_str()];
    for key in send.keys.unwrap_or_default().split(' ') {
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.join(" ")
}

/// Send the trace record of `send`, if the broker asked for one; `namesrv` finds the trace
/// topic's route.
pub(crate) fn record(namesrv: &[String], send: &TracedSend<'_>) -> Result<(), AdminError> {
    let Some(record) = pub_record(send, clock::now_ms()) else {
        return Ok(());
    };
    let target = super::commands::any_queue(namesrv, TRACE_TOPIC)?;
    let group = format!("_INNER_TRACE_PRODUCER-{}-PRODUCE-1", send.producer_group);
    let keys = trace_keys(send);
    let mut session = Session::open("broker", &target.address)?;
    produce::send(
        &mut session,
        &Outgoing {
            producer_group: &group,
            topic: TRACE_TOPIC,
            broker_name: &target.broker_name,
            queue_id: target.queue_id,
            tags: None,
            keys: Some(&keys),
            body: record.as_bytes(),
            stored: None,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(region: Option<&str>, trace_on: bool) -> Receipt {
        Receipt {
            status: "SEND_OK",
            msg_id: "UNIQ".to_owned(),
            offset_msg_id: "OFFSET".to_owned(),
            queue_id: 1,
            queue_offset: 2,
            region_id: region.map(str::to_owned),
            trace_on,
        }
    }

    fn traced<'a>(receipt: &'a Receipt, tags: Option<&'a str>) -> TracedSend<'a> {
        TracedSend {
            producer_group: "1700000000000",
            topic: "T",
            tags,
            keys: Some("k1 k2"),
            body_len: 5,
            broker_address: "127.0.0.1:10911",
            started_ms: 1_700_000_000_100,
            receipt,
        }
    }

    // Hazard: trace consumers (the dashboard, mqadmin queryMsgTraceById) split the record by
    // position; a field out of place or missing shifts every later one.
    #[test]
    fn pub_record_has_trace_data_encoders_fields_in_order() {
        let receipt = receipt(Some("DefaultRegion"), true);
        let record = pub_record(&traced(&receipt, None), 1_700_000_000_107).unwrap();
        assert_eq!(
            record,
            "Pub\u{1}1700000000100\u{1}DefaultRegion\u{1}1700000000000\u{1}T\u{1}UNIQ\u{1}null\
             \u{1}k1 k2\u{1}127.0.0.1:10911\u{1}5\u{1}7\u{1}0\u{1}OFFSET\u{1}true\u{2}"
        );
        assert_eq!(trace_keys(&traced(&receipt, None)), "UNIQ k1 k2");
    }

    #[test]
    fn no_record_without_a_region_or_with_tracing_off() {
        let without_region = receipt(None, true);
        assert!(pub_record(&traced(&without_region, Some("A")), 0).is_none());
        let off = receipt(Some("DefaultRegion"), false);
        assert!(pub_record(&traced(&off, Some("A")), 0).is_none());
    }
}
