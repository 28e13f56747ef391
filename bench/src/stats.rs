//! Counters shared by the load threads, RocketMQ-style periodic report lines, and the
//! latency histogram (HDR, microseconds) behind the percentiles.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

/// Counters the workers bump; the reporter snapshots them every second.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) success: AtomicU64,
    pub(crate) send_failed: AtomicU64,
    pub(crate) response_failed: AtomicU64,
    pub(crate) latency_us_total: AtomicU64,
    pub(crate) latency_ms_max: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn record(&self, latency_us: u64, bytes: u64) {
        self.record_many(1, latency_us, latency_us / 1000, bytes);
    }

    /// `count` successes at once, with their summed latency in microseconds and the largest
    /// in whole milliseconds (RocketMQ's `Max RT(ms)`). The sum is kept in microseconds so the
    /// average is not cut down by up to a millisecond per message.
    pub(crate) fn record_many(
        &self,
        count: u64,
        latency_us_total: u64,
        latency_ms_max: u64,
        bytes: u64,
    ) {
        self.success.fetch_add(count, Ordering::Relaxed);
        self.latency_us_total
            .fetch_add(latency_us_total, Ordering::Relaxed);
        self.latency_ms_max
            .fetch_max(latency_ms_max, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn snapshot(&self, at_ms: u64) -> Snapshot {
        Snapshot {
            at_ms,
            success: self.success.load(Ordering::Relaxed),
            send_failed: self.send_failed.load(Ordering::Relaxed),
            response_failed: self.response_failed.load(Ordering::Relaxed),
            latency_us_total: self.latency_us_total.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    at_ms: u64,
    success: u64,
    send_failed: u64,
    response_failed: u64,
    latency_us_total: u64,
    bytes: u64,
}

/// Snapshots of the counters, one per sampling tick, covering the last report interval; the
/// rates of a report line are the counters' change across it. The window opens with a
/// snapshot taken when the run starts, so the first interval counts what happened in its
/// first tick too: a backlog drained within the first second or two is spread over the whole
/// interval, not dropped from it. (RocketMQ's benchmark keeps ten one-second snapshots and
/// takes its first one after a second, so its first line misses that second.)
#[derive(Debug)]
pub(crate) struct Window {
    snapshots: VecDeque<Snapshot>,
    /// Samples one report interval spans; the window keeps one more, its opening snapshot.
    samples: usize,
}

/// Figures of a window.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rates {
    pub(crate) tps: u64,
    pub(crate) bytes_per_second: u64,
    pub(crate) average_ms: f64,
    pub(crate) send_failed: u64,
    pub(crate) response_failed: u64,
}

impl Window {
    /// A window over `samples` sampling ticks, opened with the counters as they are at
    /// `start_ms`.
    pub(crate) fn new(counters: &Counters, start_ms: u64, samples: usize) -> Self {
        let samples = samples.max(1);
        let mut snapshots = VecDeque::with_capacity(samples + 1);
        snapshots.push_back(counters.snapshot(start_ms));
        Self { snapshots, samples }
    }

    pub(crate) fn sample(&mut self, counters: &Counters, at_ms: u64) {
        self.snapshots.push_back(counters.snapshot(at_ms));
        if self.snapshots.len() > self.samples + 1 {
            self.snapshots.pop_front();
        }
    }

    pub(crate) fn rates(&self) -> Rates {
        let (Some(first), Some(last)) = (self.snapshots.front(), self.snapshots.back()) else {
            return Rates::default();
        };
        let elapsed_ms = last.at_ms.saturating_sub(first.at_ms).max(1);
        let sent = last.success - first.success;
        let per_second = |count: u64| count.saturating_mul(1000) / elapsed_ms;
        let average_ms = if sent == 0 {
            0.0
        } else {
            (last.latency_us_total - first.latency_us_total) as f64 / 1000.0 / sent as f64
        };
        Rates {
            tps: per_second(sent),
            bytes_per_second: per_second(last.bytes - first.bytes),
            average_ms,
            send_failed: last.send_failed,
            response_failed: last.response_failed,
        }
    }
}

/// Sampling ticks in one report interval: a tick is a second, or the interval if shorter.
pub(crate) fn samples_per_report(report_interval: std::time::Duration) -> usize {
    let tick = std::time::Duration::from_secs(1).min(report_interval);
    let ticks = report_interval.as_millis() / tick.as_millis().max(1);
    usize::try_from(ticks).unwrap_or(usize::MAX).max(1)
}

/// A fresh latency histogram: 1 µs to 10 minutes, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds are valid constants")
}

/// `p50 … max` in milliseconds.
pub(crate) fn percentiles_line(histogram: &Histogram<u64>) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "p50: {:.3} ms | p90: {:.3} ms | p99: {:.3} ms | p99.9: {:.3} ms | p99.99: {:.3} ms | max: {:.3} ms",
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.90)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.value_at_quantile(0.999)),
        ms(histogram.value_at_quantile(0.9999)),
        ms(histogram.max()),
    )
}

/// The percentiles as JSON (milliseconds).
pub(crate) fn percentiles_json(histogram: &Histogram<u64>) -> serde_json::Value {
    let ms = |us: u64| us as f64 / 1000.0;
    serde_json::json!({
        "count": histogram.len(),
        "p50_ms": ms(histogram.value_at_quantile(0.50)),
        "p90_ms": ms(histogram.value_at_quantile(0.90)),
        "p99_ms": ms(histogram.value_at_quantile(0.99)),
        "p99_9_ms": ms(histogram.value_at_quantile(0.999)),
        "p99_99_ms": ms(histogram.value_at_quantile(0.9999)),
        "max_ms": ms(histogram.max()),
        "mean_ms": histogram.mean() / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(success: u64) -> Counters {
        let counters = Counters::default();
        counters.success.store(success, Ordering::Relaxed);
        counters
    }

    // Hazard: a consumer that drains a backlog in the first two seconds of a ten-second report
    // interval printed a fraction of the rate (436,752 messages in ~2 s showed 13,598/s),
    // because the window's first snapshot was taken after the first second.
    #[test]
    fn a_burst_in_the_first_seconds_counts_over_the_whole_first_interval() {
        let mut window = Window::new(&counters(0), 0, 10);
        window.sample(&counters(300_000), 1_000);
        for second in 2..=10 {
            window.sample(&counters(436_752), second * 1_000);
        }
        assert_eq!(window.rates().tps, 43_675);
    }

    #[test]
    fn later_intervals_count_only_their_own_seconds() {
        let mut window = Window::new(&counters(0), 0, 10);
        for second in 1..=20 {
            window.sample(&counters(second * 100), second * 1_000);
        }
        // Seconds 10..20: 1,000 messages in 10 s.
        assert_eq!(window.rates().tps, 100);
    }

    // Hazard: each latency was cut to whole milliseconds before it was summed, so sub-millisecond
    // sends averaged 0.026 ms while their p50 was 0.3 ms.
    #[test]
    fn the_average_keeps_sub_millisecond_latencies() {
        let counters = Counters::default();
        let mut window = Window::new(&counters, 0, 1);
        for latency_us in [300, 400, 1_700] {
            counters.record(latency_us, 1024);
        }
        window.sample(&counters, 1_000);
        assert!((window.rates().average_ms - 0.8).abs() < 1e-9);
        assert_eq!(counters.latency_ms_max.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn report_intervals_map_to_one_second_ticks_or_one_short_tick() {
        use std::time::Duration;
        assert_eq!(samples_per_report(Duration::from_secs(10)), 10);
        assert_eq!(samples_per_report(Duration::from_millis(500)), 1);
        assert_eq!(samples_per_report(Duration::from_millis(2_500)), 2);
    }
}
