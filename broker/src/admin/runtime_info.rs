//! GET_BROKER_RUNTIME_INFO (28): RocketMQ's key set and value formats, which `mqadmin
//! clusterList`/`brokerStatus` and the dashboard parse (`putTps` is `"<10s> <60s> <600s>"`,
//! totals are integers, ratios plain doubles). Keys for machinery ringmq does not have
//! (thread-pool queues, timer wheel, transient store pool) are present with idle values, so
//! tools that parse every key never fail.
//!
//! TPS comes from the broker-wide put/get counters sampled once a second on the control plane
//! ([`Sampler`]), ten minutes kept; a consumer group's TPS from the growth of its committed
//! offsets between the last two 10-second samples.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ringmq_protocol::command::VERSION_OURS;

use super::gather::StoreFacts;
use crate::context::{BrokerContext, Counters};

/// Put/get samples kept: ten minutes at one per second, plus one.
const SAMPLES_MAX: usize = 601;
const SAMPLE_PERIOD: Duration = Duration::from_secs(1);
const GROUP_SAMPLE_PERIOD: Duration = Duration::from_secs(10);
const DAY_MS: i64 = 86_400_000;
/// `MQVersion` name of [`VERSION_OURS`] (475).
pub(crate) const VERSION_DESC: &str = "V5_3_1";

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Duration,
    put: u64,
    got: u64,
}

/// Counter history for TPS and daily totals.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    samples: VecDeque<Sample>,
    day: i64,
    put_today_morning: u64,
    put_yesterday_morning: u64,
    got_today_morning: u64,
    got_yesterday_morning: u64,
    groups_at: Duration,
    groups_previous: BTreeMap<String, i64>,
    groups_latest: BTreeMap<String, i64>,
    groups_span: Duration,
}

impl Sampler {
    /// Take a sample if one is due. `group_totals` is only called every 10 s.
    pub(crate) fn sample(
        &mut self,
        now: Duration,
        now_ms: i64,
        counters: &Counters,
        group_totals: impl FnOnce() -> BTreeMap<String, i64>,
    ) {
        let due = self
            .samples
            .back()
            .is_none_or(|last| now.saturating_sub(last.at) >= SAMPLE_PERIOD);
        if !due {
            return;
        }
        let put = Counters::read(&counters.messages_put);
        let got = Counters::read(&counters.messages_got);
        let day = now_ms / DAY_MS;
        if self.day != day {
            if self.day != 0 {
                self.put_yesterday_morning = self.put_today_morning;
                self.got_yesterday_morning = self.got_today_morning;
                self.put_today_morning = put;
                self.got_today_morning = got;
            }
            self.day = day;
        }
        self.samples.push_back(Sample { at: now, put, got });
        while self.samples.len() > SAMPLES_MAX {
            self.samples.pop_front();
        }
        if self.groups_latest.is_empty()
            || now.saturating_sub(self.groups_at) >= GROUP_SAMPLE_PERIOD
        {
            self.groups_span = now.saturating_sub(self.groups_at);
            self.groups_at = now;
            self.groups_previous = std::mem::replace(&mut self.groups_latest, group_totals());
        }
    }

    /// TPS of a counter over the last `window`, from the oldest sample inside it.
    fn tps(&self, window: Duration, value: impl Fn(&Sample) -> u64) -> f64 {
        let Some(latest) = self.samples.back() else {
            return 0.0;
        };
        let oldest = self
            .samples
            .iter()
            .find(|sample| latest.at.saturating_sub(sample.at) <= window)
            .unwrap_or(latest);
        let seconds = latest.at.saturating_sub(oldest.at).as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "a rate needs no more than 52 bits"
        )]
        let delta = value(latest).saturating_sub(value(oldest)) as f64;
        delta / seconds
    }

    fn tps_triple(&self, value: impl Fn(&Sample) -> u64 + Copy) -> String {
        let [ten, minute, ten_minutes] =
            [10, 60, 600].map(|seconds| self.tps(Duration::from_secs(seconds), value));
        format!("{ten:.2} {minute:.2} {ten_minutes:.2}")
    }

    /// A consumer group's consume TPS over the last group sampling period.
    pub(crate) fn group_tps(&self, group: &str) -> f64 {
        let seconds = self.groups_span.as_secs_f64();
        let (Some(latest), Some(previous)) = (
            self.groups_latest.get(group),
            self.groups_previous.get(group),
        ) else {
            return 0.0;
        };
        if seconds <= 0.0 {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "a rate needs no more than 52 bits"
        )]
        let delta = latest.saturating_sub(*previous).max(0) as f64;
        delta / seconds
    }
}

/// `[ d days, h hours, m minutes, s seconds ]`, as RocketMQ prints uptime.
fn uptime(milliseconds: i64) -> String {
    let seconds = milliseconds.max(0) / 1000;
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The part of the table the control plane knows; store facts are added by [`complete`].
pub(crate) fn control_part(
    context: &BrokerContext,
    sampler: &Sampler,
    now_ms: i64,
    delay_offsets: &BTreeMap<i32, i64>,
) -> BTreeMap<String, String> {
    let counters = &context.counters;
    let put = Counters::read(&counters.messages_put);
    let got = Counters::read(&counters.messages_got);
    let bytes = Counters::read(&counters.bytes_put);
    let mut table = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        table.insert(key.to_owned(), value);
    };
    set("brokerVersionDesc", VERSION_DESC.to_owned());
    set("brokerVersion", VERSION_OURS.to_string());
    set("brokerActive", "true".to_owned());
    set("msgPutTotalTodayNow", put.to_string());
    set(
        "msgPutTotalTodayMorning",
        sampler.put_today_morning.to_string(),
    );
    set(
        "msgPutTotalYesterdayMorning",
        sampler.put_yesterday_morning.to_string(),
    );
    set("msgGetTotalTodayNow", got.to_string());
    set(
        "msgGetTotalTodayMorning",
        sampler.got_today_morning.to_string(),
    );
    set(
        "msgGetTotalYesterdayMorning",
        sampler.got_yesterday_morning.to_string(),
    );
    set("putTps", sampler.tps_triple(|sample| sample.put));
    set("getTransferredTps", sampler.tps_triple(|sample| sample.got));
    set("getFoundTps", sampler.tps_triple(|sample| sample.got));
    set("getMissTps", "0.00 0.00 0.00".to_owned());
    set("getTotalTps", sampler.tps_triple(|sample| sample.got));
    set("putMessageTimesTotal", put.to_string());
    set("putMessageSizeTotal", bytes.to_string());
    #[allow(
        clippy::cast_precision_loss,
        reason = "an average needs no more than 52 bits"
    )]
    let average = if put == 0 {
        0.0
    } else {
        bytes as f64 / put as f64
    };
    set("putMessageAverageSize", average.to_string());
    set("bootTimestamp", context.started_ms.to_string());
    set("runtime", uptime(now_ms - context.started_ms));
    for level in 1..=context.config.message_delay_levels.len() {
        let level = i32::try_from(level).unwrap_or(i32::MAX);
        let delivered = delay_offsets.get(&level).copied().unwrap_or(0);
        set(
            &format!("scheduleMessageOffset_{level}"),
            delivered.to_string(),
        );
    }
    idle_keys(&mut table);
    table
}

/// Keys of machinery ringmq does not have, with the values an idle RocketMQ broker reports.
fn idle_keys(table: &mut BTreeMap<String, String>) {
    let capacity = crate::message::INBOX_MESSAGES_MAX.to_string();
    for pool in ["send", "pull", "litePull", "query", "ack"] {
        table.insert(format!("{pool}ThreadPoolQueueSize"), "0".to_owned());
        table.insert(format!("{pool}ThreadPoolQueueCapacity"), capacity.clone());
        table.insert(
            format!("{pool}ThreadPoolQueueHeadWaitTimeMills"),
            "0".to_owned(),
        );
    }
    for (key, value) in [
        ("EndTransactionQueueSize", "0"),
        ("EndTransactionThreadPoolQueueCapacity", capacity.as_str()),
        ("pageCacheLockTimeMills", "0"),
        ("startAcceptSendRequestTimeStamp", "0"),
        ("timerReadBehind", "0"),
        ("timerOffsetBehind", "0"),
        ("timerCongestNum", "0"),
        ("timerEnqueueTps", "0.0"),
        ("timerDequeueTps", "0.0"),
        ("remainTransientStoreBufferNumbs", "0"),
        ("remainHowManyDataToCommit", "0 B"),
        ("putMessageEntireTimeMax", "0"),
        ("putMessageFailedTimes", "0"),
        ("dispatchMaxBuffer", "0"),
        ("getMessageEntireTimeMax", "0"),
        ("putLatency99", "0.0"),
        ("putLatency999", "0.0"),
        (
            "putMessageDistributeTime",
            "[<=0ms]:0 [0~10ms]:0 [10~50ms]:0 [50~100ms]:0 [100~200ms]:0 [200~500ms]:0 \
             [500ms~1s]:0 [1~2s]:0 [2~3s]:0 [3~4s]:0 [4~5s]:0 [5~10s]:0 [10s~]:0 ",
        ),
    ] {
        table.insert(key.to_owned(), value.to_owned());
    }
}

/// Add the facts gathered from the shards.
pub(crate) fn complete(table: &mut BTreeMap<String, String>, store: &StoreFacts) {
    let mut set = |key: &str, value: String| {
        table.insert(key.to_owned(), value);
    };
    set("earliestMessageTimeStamp", store.earliest_ms.to_string());
    set("commitLogMinOffset", store.min_offset.to_string());
    set("commitLogMaxOffset", store.max_offset.to_string());
    set("dispatchBehindBytes", store.behind_bytes.to_string());
    set(
        "remainHowManyDataToFlush",
        format!("{} B", store.behind_bytes),
    );
    set("commitLogDiskRatio", store.disk_ratio.to_string());
    set("consumeQueueDiskRatio", store.disk_ratio.to_string());
    let percent = store.disk_ratio * 100.0;
    set(
        "commitLogDirCapacity",
        format!("Total : N/A, Free : N/A (used {percent:.1}%)."),
    );
    if let Some(master) = &store.ha.master_ha {
        set("haMasterAddress", master.clone());
        set("haConnectedShards", store.ha.connected_shards.to_string());
        set("haReceivedBytes", store.ha.received_bytes.to_string());
    } else {
        set("haSlaveCount", store.ha.slaves.to_string());
        set("slaveFallBehindMuch", store.ha.behind_bytes.to_string());
        let addrs: Vec<&str> = store.ha.slave_addrs.iter().map(String::as_str).collect();
        set("haSlaveAddresses", addrs.join(","));
    }
    let scheduled: Vec<(String, String)> = table
        .iter()
        .filter(|(key, _)| key.starts_with("scheduleMessageOffset_"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for (key, delivered) in scheduled {
        let level: i32 = key
            .trim_start_matches("scheduleMessageOffset_")
            .parse()
            .unwrap_or(0);
        let max = store.schedule_max.get(&level).copied().unwrap_or(0);
        table.insert(key, format!("{delivered},{max}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tps_is_the_growth_over_each_window() {
        let mut sampler = Sampler::default();
        let counters = Counters::default();
        for second in 0..=20u64 {
            Counters::add(&counters.messages_put, 5);
            sampler.sample(Duration::from_secs(second), 1, &counters, BTreeMap::new);
        }
        let tps = sampler.tps_triple(|sample| sample.put);
        assert_eq!(tps, "5.00 5.00 5.00");
    }

    #[test]
    fn uptime_reads_like_rocketmqs() {
        assert_eq!(
            uptime(90_061_000),
            "[ 1 days, 1 hours, 1 minutes, 1 seconds ]"
        );
    }
}
