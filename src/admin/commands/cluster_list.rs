//! `clusterList`: every broker the name server knows, one row per (broker name, broker id),
//! with load figures from each broker's GET_BROKER_RUNTIME_INFO table, in RocketMQ 5.x's
//! column layout (`ClusterListSubCommand`).

use ringmq_protocol::body::kv_table::KvTable;
use ringmq_protocol::body::route::ClusterInfo;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::request_code;

use super::{cluster_info, switch, valued, Command};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation, OptionSpec};
use crate::admin::json;

pub(super) const COMMAND: Command = Command {
    name: "clusterList",
    description: "List cluster infos",
    options: OPTIONS,
    run,
};

const OPTIONS: &[OptionSpec] = &[
    valued("c", "clusterName", false, "which cluster"),
    switch(
        "m",
        "moreStats",
        "Print more stats (not supported by ringmq yet)",
    ),
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
    let info = cluster_info(&invocation.namesrv()?)?;
    let rows = broker_rows(&info, invocation.value("clusterName"));
    match format {
        Format::Text => print_text(&rows),
        Format::Json => print_json(&rows),
    }
    Ok(())
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
    let now_ms = now_ms();
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

/// Wall-clock milliseconds, for the `#Hour` column (age of the oldest message).
#[expect(
    clippy::disallowed_methods,
    reason = "a one-shot CLI reads the wall clock once; no simulator runs it"
)]
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn print_json(rows: &[BrokerRow]) {
    let entries: Vec<String> = rows
        .iter()
        .map(|row| {
            let runtime: Vec<String> = row
                .runtime
                .table
                .iter()
                .map(|(key, value)| format!("{}:{}", json::string(key), json::string(value)))
                .collect();
            format!(
                "{{\"cluster\":{},\"brokerName\":{},\"brokerId\":{},\"address\":{},\"runtime\":{{{}}}}}",
                json::string(&row.cluster),
                json::string(&row.broker_name),
                row.broker_id,
                json::string(&row.address),
                runtime.join(",")
            )
        })
        .collect();
    println!("{{\"brokers\":[{}]}}", entries.join(","));
}
