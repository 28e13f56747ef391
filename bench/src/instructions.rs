//! The instruction-count gate: hot paths (frame codec, record codec, the engine's append path
//! on the simulated disk) run under valgrind's callgrind, and their instructions per iteration
//! are compared with a committed baseline. Instruction counts of single-threaded code on fixed
//! inputs do not depend on machine load, so a small threshold (5 %) catches real regressions
//! where wall-clock benchmarks on a shared 2-vCPU VM could not.
//!
//! The scenarios and the valgrind driver live in `bench/benches/instructions.rs`; this module
//! holds what can be tested without valgrind: reading callgrind's output, the baseline file
//! format and the verdict.
//!
//! Baseline file (`bench/instructions.baseline`):
//! ```text
//! # toolchain: rustc 1.95.0 (59807616e 2026-04-14)
//! frame_decode_send_request_json 4321
//! ```
//! Counts depend on the compiler, so the toolchain the baseline was taken with is recorded and
//! named when the gate fails under another one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Growth allowed before the gate fails, in percent, when the caller does not say.
pub const MAX_GROWTH_PERCENT_DEFAULT: f64 = 5.0;

const TOOLCHAIN_PREFIX: &str = "# toolchain: ";

/// The total of the `Ir` event in a callgrind output file (`totals:` or, from older
/// versions, `summary:`).
pub fn callgrind_total(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|line| line.starts_with("totals:"))
        .or_else(|| text.lines().find(|line| line.starts_with("summary:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The committed counts, per scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// `rustc -V` of the build the counts were taken with.
    pub toolchain: Option<String>,
    pub counts: BTreeMap<String, u64>,
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut baseline = Self::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(toolchain) = line.strip_prefix(TOOLCHAIN_PREFIX) {
                baseline.toolchain = Some(toolchain.to_owned());
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(count), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("line {}: expected `scenario count`", index + 1));
            };
            let count = count
                .parse()
                .map_err(|_| format!("line {}: {count} is not a count", index + 1))?;
            if baseline.counts.insert(name.to_owned(), count).is_some() {
                return Err(format!("line {}: {name} appears twice", index + 1));
            }
        }
        Ok(baseline)
    }

    pub fn render(&self) -> String {
        let mut text = String::from(
            "# Instructions per iteration of each hot-path scenario under callgrind.\n\
             # Written by `bench/scripts/instructions.sh --update`; see docs/benchmarks.md.\n",
        );
        if let Some(toolchain) = &self.toolchain {
            let _ = writeln!(text, "{TOOLCHAIN_PREFIX}{toolchain}");
        }
        for (name, count) in &self.counts {
            let _ = writeln!(text, "{name} {count}");
        }
        text
    }
}

/// How one scenario compares with the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Within,
    /// Grew by more than the threshold: fails.
    Grew,
    /// Shrank by more than the threshold: passes; refresh the baseline to keep the gain.
    Shrank,
    /// Measured, not in the baseline: fails until the baseline is refreshed.
    New,
    /// In the baseline, not measured: fails until the baseline is refreshed.
    Missing,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub scenario: String,
    pub baseline: Option<u64>,
    pub measured: Option<u64>,
    pub change_percent: Option<f64>,
    pub status: Status,
}

impl Row {
    pub fn fails(&self) -> bool {
        matches!(self.status, Status::Grew | Status::New | Status::Missing)
    }
}

fn status(baseline: u64, measured: u64, max_growth_percent: f64) -> (f64, Status) {
    let change = if baseline == 0 {
        if measured == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (measured as f64 - baseline as f64) / baseline as f64 * 100.0
    };
    let status = if change > max_growth_percent {
        Status::Grew
    } else if change < -max_growth_percent {
        Status::Shrank
    } else {
        Status::Within
    };
    (change, status)
}

/// One row per scenario of either side.
pub fn check(
    baseline: &Baseline,
    measured: &BTreeMap<String, u64>,
    max_growth_percent: f64,
) -> Vec<Row> {
    let mut names: Vec<&String> = baseline.counts.keys().chain(measured.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let base = baseline.counts.get(name).copied();
            let now = measured.get(name).copied();
            let (change_percent, status) = match (base, now) {
                (Some(base), Some(now)) => {
                    let (change, status) = status(base, now, max_growth_percent);
                    (Some(change), status)
                }
                (None, _) => (None, Status::New),
                (Some(_), None) => (None, Status::Missing),
            };
            Row {
                scenario: name.clone(),
                baseline: base,
                measured: now,
                change_percent,
                status,
            }
        })
        .collect()
}

/// The table the gate prints.
pub fn table(rows: &[Row], max_growth_percent: f64) -> String {
    let mut text = format!(
        "{:<36} {:>12} {:>12} {:>8}  verdict (max growth {max_growth_percent}%)\n",
        "scenario", "baseline", "measured", "change"
    );
    let number = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for row in rows {
        let change = row
            .change_percent
            .map_or_else(|| "-".to_owned(), |change| format!("{change:+.2}%"));
        let verdict = match row.status {
            Status::Within => "ok",
            Status::Grew => "GREW",
            Status::Shrank => "shrank (refresh the baseline to keep the gain)",
            Status::New => "NEW (not in the baseline)",
            Status::Missing => "MISSING (in the baseline, not measured)",
        };
        let _ = writeln!(
            text,
            "{:<36} {:>12} {:>12} {change:>8}  {verdict}",
            row.scenario,
            number(row.baseline),
            number(row.measured)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(counts: &[(&str, u64)]) -> Baseline {
        Baseline {
            toolchain: Some("rustc 1.95.0".to_owned()),
            counts: counts.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect(),
        }
    }

    fn measured(counts: &[(&str, u64)]) -> BTreeMap<String, u64> {
        baseline(counts).counts
    }

    #[test]
    fn callgrind_totals_line_is_read_and_a_file_without_one_is_refused() {
        let output = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=(1) main\n3 10\n\
                      totals: 123456\n";
        assert_eq!(callgrind_total(output), Some(123_456));
        assert_eq!(callgrind_total("summary: 77\n"), Some(77));
        assert_eq!(callgrind_total("events: Ir\n"), None);
    }

    #[test]
    fn growth_beyond_the_threshold_fails_and_within_passes() {
        let base = baseline(&[("append", 1000), ("decode", 1000)]);
        let rows = check(&base, &measured(&[("append", 1051), ("decode", 1049)]), 5.0);
        let failing: Vec<&str> = rows
            .iter()
            .filter(|r| r.fails())
            .map(|r| r.scenario.as_str())
            .collect();
        assert_eq!(failing, ["append"]);
    }

    #[test]
    fn shrinking_passes_but_is_flagged_for_a_baseline_refresh() {
        let rows = check(
            &baseline(&[("append", 1000)]),
            &measured(&[("append", 900)]),
            5.0,
        );
        assert_eq!(rows[0].status, Status::Shrank);
        assert!(!rows[0].fails());
    }

    #[test]
    fn scenarios_added_or_removed_without_refreshing_the_baseline_fail() {
        let rows = check(&baseline(&[("old", 10)]), &measured(&[("new", 10)]), 5.0);
        let statuses: Vec<Status> = rows.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::New, Status::Missing]);
        assert!(rows.iter().all(Row::fails));
    }

    #[test]
    fn baseline_round_trips_and_rejects_malformed_lines() {
        let base = baseline(&[("a", 1), ("b", 22)]);
        assert_eq!(Baseline::parse(&base.render()), Ok(base));
        assert!(Baseline::parse("a 1 2\n").is_err());
        assert!(Baseline::parse("a x\n").is_err());
        assert!(Baseline::parse("a 1\na 2\n").is_err());
    }
}
