//! `clusterList`: every broker the name server knows, one row per (broker name, broker id),
//! with load figures from each broker's GET_BROKER_RUNTIME_INFO table, in RocketMQ 5.x's
//! column layout (`ClusterListSubCommand`). `-m` prints message totals of yesterday and today
//! instead; `-i N` repeats the report every N seconds until interrupted, and ringmq's
//! `--count K` (RocketMQ has none) stops after K reports, for scripts and tests.

use ringmq_protocol::body::kv_table::KvTable;
use ringmq_protocol::body::route::ClusterInfo;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::request_code;
use serde_json::json;

use super::{cluster_info, switch, valued, Command, Repeat, REPEAT_COUNT};
use crate::admin::client::{self, AdminError};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation, OptionSpec};
use crate::admin::json;

pub(super) const COMMAND: Command = Command {
    name: "clusterList",
    description: "List cluster infos",
    options: OPTIONS,
    run,
};

const OPTIONS: &[OptionSpec] = &[
    switch("m", "moreStats", "Print more stats"),
    valued(
        "i",
        "interval",
        false,
        "specify intervals numbers, it is in seconds",
    ),
    valued("c", "clusterName", false, "which cluster"),
    REPEAT_COUNT,
];

/// One row: where the broker is and what its runtime table said (empty if it did not answer).
#[derive(Debug)]
struct BrokerRow {
    cluster: String,
    broker_name: String,
    broker_id: i64,
    address: String,
    runtime: KvTable,
}

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let repeat = Repeat::from_flags(invocation)?;
    let namesrv = invocation.namesrv()?;
    let more = invocation.flag("moreStats");
    repeat.run(|| {
        let info = cluster_info(&namesrv)?;
        let rows = broker_rows(&info, invocation.value("clusterName"));
        match (format, more) {
            (Format::Text, false) => print_text(&rows),
            (Format::Text, true) => print_more_text(&rows),
            (Format::Json, false) => print_json(&rows),
            (Format::Json, true) => print_more_json(&rows),
        }
        Ok(())
    })
}

fn broker_rows(info: &ClusterInfo, only: Option<&str>) -> Vec<BrokerRow> {
    let mut rows = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        if only.is_some_and(|wanted| wanted != cluster) {
            continue;
        }
        for name in names {
            let Some(data) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, address) in &data.broker_addrs {
                rows.push(BrokerRow {
                    cluster: cluster.clone(),
                    broker_name: name.clone(),
                    broker_id: *id,
                    address: address.clone(),
                    runtime: runtime_info(address),
                });
            }
        }
    }
    rows
}

/// A broker's runtime table; a broker that does not answer gets an empty row, as in RocketMQ.
fn runtime_info(address: &str) -> KvTable {
    let request = RemotingCommand::request(request_code::GET_BROKER_RUNTIME_INFO);
    match client::call("broker", address, &request)
        .and_then(|response| client::decode::<KvTable>(address, &response))
    {
        Ok(table) => table,
        Err(error) => {
            eprintln!("{error}");
            KvTable::default()
        }
    }
}

fn print_text(rows: &[BrokerRow]) {
    println!(
        "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:<11}  {:<12}  {:<8}  {:<10}",
        "#Cluster Name",
        "#Broker Name",
        "#BID",
        "#Addr",
        "#Version",
        "#InTPS(LOAD)",
        "#OutTPS(LOAD)",
        "#Timer(Progress)",
        "#PCWait(ms)",
        "#Hour",
        "#SPACE",
        "#ACTIVATED"
    );
    let now_ms = clock::now_ms();
    for row in rows {
        let cells = Cells::of(&row.runtime, now_ms);
        println!(
            "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:>11}  {:<12}  {:<8}  {:>10}",
            row.cluster,
            row.broker_name,
            row.broker_id,
            row.address,
            cells.version,
            cells.in_tps,
            cells.out_tps,
            cells.timer,
            cells.page_cache_wait,
            cells.hours,
            cells.space,
            cells.activated
        );
    }
}

/// The formatted load columns of one row.
#[derive(Debug)]
struct Cells {
    version: String,
    in_tps: String,
    out_tps: String,
    timer: String,
    page_cache_wait: String,
    hours: String,
    space: String,
    activated: String,
}

impl Cells {
    fn of(runtime: &KvTable, now_ms: i64) -> Self {
        let text = |key: &str| runtime.table.get(key).cloned().unwrap_or_default();
        let queue = |key: &str| {
            runtime
                .table
                .get(key)
                .cloned()
                .unwrap_or_else(|| "N".to_owned())
        };
        let number = |key: &str| float(runtime.table.get(key).map_or("0", String::as_str));
        let earliest_ms = number("earliestMessageTimeStamp");
        #[expect(clippy::cast_precision_loss, reason = "hours for display")]
        let hours = (now_ms as f64 - earliest_ms) / 3600.0 / 1000.0;
        Self {
            version: text("brokerVersionDesc"),
            in_tps: format!(
                "{:9.2}({},{}ms)",
                first_tps(&text("putTps")),
                queue("sendThreadPoolQueueSize"),
                queue("sendThreadPoolQueueHeadWaitTimeMills")
            ),
            out_tps: format!(
                "{:9.2}({},{}ms|{},{}ms)",
                first_tps(&text("getTransferredTps")),
                queue("pullThreadPoolQueueSize"),
                queue("pullThreadPoolQueueHeadWaitTimeMills"),
                queue("ackThreadPoolQueueSize"),
                queue("ackThreadPoolQueueHeadWaitTimeMills")
            ),
            timer: format!(
                "{}-{}({:.1}w, {:.1}, {:.1})",
                number("timerReadBehind"),
                number("timerOffsetBehind"),
                number("timerCongestNum") / 10000.0,
                number("timerEnqueueTps"),
                number("timerDequeueTps")
            ),
            page_cache_wait: text("pageCacheLockTimeMills"),
            hours: format!("{hours:2.2}"),
            space: format!("{:.4}", number("commitLogDiskRatio")),
            activated: text("brokerActive"),
        }
    }
}

/// The 10-second figure of a `"t10 t60 t600"` TPS triple.
fn first_tps(triple: &str) -> f64 {
    float(triple.split_whitespace().next().unwrap_or("0"))
}

fn float(text: &str) -> f64 {
    text.trim().parse().unwrap_or(0.0)
}

fn print_json(rows: &[BrokerRow]) {
    let brokers: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            json!({
                "cluster": row.cluster,
                "brokerName": row.broker_name,
                "brokerId": row.broker_id,
                "address": row.address,
                "runtime": row.runtime.table,
            })
        })
        .collect();
    json::print(&json!({ "brokers": brokers }));
}

/// Messages put and got yesterday and so far today, from the broker's daily counters.
#[derive(Debug, Default, PartialEq, Eq)]
struct DailyTotals {
    in_yesterday: i64,
    out_yesterday: i64,
    in_today: i64,
    out_today: i64,
}

impl DailyTotals {
    /// All zero when a counter is missing, as mqadmin prints for a broker that did not answer.
    fn of(runtime: &KvTable) -> Self {
        let counter = |key: &str| runtime.table.get(key)?.trim().parse::<i64>().ok();
        // msg{Put,Get}Total{YesterdayMorning,TodayMorning,TodayNow}.
        let day = |prefix: &str| -> Option<[i64; 3]> {
            let [yesterday, morning, now] = ["YesterdayMorning", "TodayMorning", "TodayNow"]
                .map(|suffix| counter(&format!("{prefix}{suffix}")));
            Some([yesterday?, morning?, now?])
        };
        let (
            Some([put_yesterday, put_morning, put_now]),
            Some([got_yesterday, got_morning, got_now]),
        ) = (day("msgPutTotal"), day("msgGetTotal"))
        else {
            return Self::default();
        };
        Self {
            in_yesterday: put_morning - put_yesterday,
            out_yesterday: got_morning - got_yesterday,
            in_today: put_now - put_morning,
            out_today: got_now - got_morning,
        }
    }
}

fn print_more_text(rows: &[BrokerRow]) {
    println!(
        "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
        "#Cluster Name",
        "#Broker Name",
        "#InTotalYest",
        "#OutTotalYest",
        "#InTotalToday",
        "#OutTotalToday"
    );
    for row in rows {
        let totals = DailyTotals::of(&row.runtime);
        println!(
            "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
            row.cluster,
            row.broker_name,
            totals.in_yesterday,
            totals.out_yesterday,
            totals.in_today,
            totals.out_today
        );
    }
}

fn print_more_json(rows: &[BrokerRow]) {
    let brokers: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let totals = DailyTotals::of(&row.runtime);
            json!({
                "cluster": row.cluster,
                "brokerName": row.broker_name,
                "brokerId": row.broker_id,
                "address": row.address,
                "inTotalYest": totals.in_yesterday,
                "outTotalYest": totals.out_yesterday,
                "inTotalToday": totals.in_today,
                "outTotalToday": totals.out_today,
            })
        })
        .collect();
    json::print(&json!({ "brokers": brokers }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_totals_are_differences_of_the_morning_counters() {
        let mut runtime = KvTable::default();
        for (key, value) in [
            ("msgPutTotalYesterdayMorning", "10"),
            ("msgPutTotalTodayMorning", "25"),
            ("msgPutTotalTodayNow", "40"),
            ("msgGetTotalYesterdayMorning", "1"),
            ("msgGetTotalTodayMorning", "2"),
            ("msgGetTotalTodayNow", "7"),
        ] {
            runtime.table.insert(key.to_owned(), value.to_owned());
        }
        let totals = DailyTotals::of(&runtime);
        assert_eq!(
            totals,
            DailyTotals {
                in_yesterday: 15,
                out_yesterday: 1,
                in_today: 15,
                out_today: 5,
            }
        );
        runtime.table.remove("msgGetTotalTodayNow");
        assert_eq!(DailyTotals::of(&runtime), DailyTotals::default());
    }
}
