//! `ringmq bench compare BASE.json NEW.json --max-regression PCT`: two `--json` reports side
//! by side, exiting 1 when NEW regressed — throughput fell, or a latency percentile rose, by
//! more than PCT percent; new send or response failures, or a verification that passed before
//! and fails now, are regressions whatever PCT says. Means and maxima are shown but not judged:
//! a single stall moves them, and the percentiles already say what the stall cost.
//!
//! Exit codes: 0 no regression, 1 regression, 2 unusable input (unreadable files, reports of
//! different kinds).

use std::fmt::Write as _;

use serde_json::Value;

/// `--max-regression` when not given.
const MAX_REGRESSION_PERCENT_DEFAULT: f64 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judge {
    /// Regression when the change exceeds the threshold.
    Percent,
    /// Regression when the count grew from zero, or grew at all.
    Count,
    /// Shown only.
    Never,
}

/// A figure of a report, by JSON path.
struct Figure {
    path: &'static str,
    better: Better,
    judge: Judge,
}

const fn figure(path: &'static str, better: Better, judge: Judge) -> Figure {
    Figure {
        path,
        better,
        judge,
    }
}

const FIGURES: &[Figure] = &[
    figure("messages_per_second", Better::Higher, Judge::Percent),
    figure("megabytes_per_second", Better::Higher, Judge::Percent),
    figure("latency.p50_ms", Better::Lower, Judge::Percent),
    figure("latency.p90_ms", Better::Lower, Judge::Percent),
    figure("latency.p99_ms", Better::Lower, Judge::Percent),
    figure("latency.p99_9_ms", Better::Lower, Judge::Percent),
    figure("latency.p99_99_ms", Better::Lower, Judge::Percent),
    figure("latency.max_ms", Better::Lower, Judge::Never),
    figure("latency.mean_ms", Better::Lower, Judge::Never),
    figure("average_rt_ms", Better::Lower, Judge::Never),
    figure("born_to_consume_ms_average", Better::Lower, Judge::Never),
    figure("store_to_consume_ms_average", Better::Lower, Judge::Never),
    figure("send_failed", Better::Lower, Judge::Count),
    figure("response_failed", Better::Lower, Judge::Count),
    figure("verify.lost", Better::Lower, Judge::Count),
    figure("verify.out_of_order", Better::Lower, Judge::Count),
    figure("verify.misplaced", Better::Lower, Judge::Count),
    figure("verify.duplicates", Better::Lower, Judge::Never),
];

/// One row of the side-by-side table.
#[derive(Debug, PartialEq)]
struct Row {
    path: &'static str,
    base: f64,
    new: f64,
    /// Percent change from base to new; `None` when base is zero.
    change_percent: Option<f64>,
    regressed: bool,
    judged: bool,
}

fn lookup(report: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(report, |value, key| value.get(key))
        .and_then(Value::as_f64)
}

fn row(figure: &Figure, base: f64, new: f64, max_regression_percent: f64) -> Row {
    let change_percent = (base != 0.0).then(|| (new - base) / base * 100.0);
    let worse_by = match (figure.better, change_percent) {
        (Better::Higher, Some(change)) => -change,
        (Better::Lower, Some(change)) => change,
        (Better::Higher, None) => 0.0,
        (Better::Lower, None) => {
            if new > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        }
    };
    let regressed = match figure.judge {
        Judge::Percent => worse_by > max_regression_percent,
        Judge::Count => new > base,
        Judge::Never => false,
    };
    Row {
        path: figure.path,
        base,
        new,
        change_percent,
        regressed,
        judged: figure.judge != Judge::Never,
    }
}

/// Rows for every figure both reports have.
fn compare(base: &Value, new: &Value, max_regression_percent: f64) -> Vec<Row> {
    FIGURES
        .iter()
        .filter_map(|figure| {
            let base = lookup(base, figure.path)?;
            let new = lookup(new, figure.path)?;
            Some(row(figure, base, new, max_regression_percent))
        })
        .collect()
}

fn table(rows: &[Row], max_regression_percent: f64) -> String {
    let mut text = format!(
        "{:<30} {:>14} {:>14} {:>9}  verdict (max regression {max_regression_percent}%)\n",
        "figure", "base", "new", "change"
    );
    for row in rows {
        let change = row
            .change_percent
            .map_or_else(|| "-".to_owned(), |change| format!("{change:+.1}%"));
        let verdict = match (row.judged, row.regressed) {
            (false, _) => "not judged",
            (true, false) => "ok",
            (true, true) => "REGRESSION",
        };
        let _ = writeln!(
            text,
            "{:<30} {:>14.3} {:>14.3} {change:>9}  {verdict}",
            row.path, row.base, row.new
        );
    }
    text
}

/// Settings that differ between the reports: a comparison across them may be meaningless.
fn config_differences(base: &Value, new: &Value) -> Vec<String> {
    let (Some(base), Some(new)) = (
        base.get("config").and_then(Value::as_object),
        new.get("config").and_then(Value::as_object),
    ) else {
        return Vec::new();
    };
    base.iter()
        .filter(|(key, value)| new.get(key.as_str()) != Some(value))
        .map(|(key, value)| {
            let other = new.get(key.as_str()).unwrap_or(&Value::Null);
            format!("{key}: {value} -> {other}")
        })
        .collect()
}

fn verification_broke(base: &Value, new: &Value) -> bool {
    let passed = |report: &Value| report.pointer("/verify/passed").and_then(Value::as_bool);
    passed(base) == Some(true) && passed(new) == Some(false)
}

struct Arguments {
    base: String,
    new: String,
    max_regression_percent: f64,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let mut files = Vec::new();
    let mut max_regression_percent = MAX_REGRESSION_PERCENT_DEFAULT;
    let mut iterator = args.iter();
    while let Some(argument) = iterator.next() {
        if argument == "--max-regression" {
            let value = iterator
                .next()
                .ok_or("--max-regression needs a percentage")?;
            max_regression_percent = value
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|percent: &f64| percent.is_finite() && *percent >= 0.0)
                .ok_or_else(|| format!("--max-regression {value}: expected a percentage"))?;
        } else {
            files.push(argument.clone());
        }
    }
    let [base, new] = <[String; 2]>::try_from(files)
        .map_err(|_| "expected two reports: BASE.json NEW.json".to_owned())?;
    Ok(Arguments {
        base,
        new,
        max_regression_percent,
    })
}

fn load(path: &str) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("{path} is not a bench report (written by --json FILE): {error}"))
}

/// Entry point of `ringmq bench compare`; returns the exit code.
pub(crate) fn run(args: &[String]) -> i32 {
    let loaded = parse(args)
        .and_then(|arguments| Ok((load(&arguments.base)?, load(&arguments.new)?, arguments)));
    let (base, new, arguments) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("ringmq bench compare: {message}");
            return 2;
        }
    };
    if base.get("kind") != new.get("kind") {
        eprintln!(
            "ringmq bench compare: {} is a {} report and {} a {} report",
            arguments.base, base["kind"], arguments.new, new["kind"]
        );
        return 2;
    }
    for difference in config_differences(&base, &new) {
        println!("note: the configurations differ: {difference}");
    }
    let rows = compare(&base, &new, arguments.max_regression_percent);
    print!("{}", table(&rows, arguments.max_regression_percent));
    let regressions = rows.iter().filter(|row| row.regressed).count();
    let broke = verification_broke(&base, &new);
    if broke {
        println!(
            "verify: passed in {} and FAILED in {}",
            arguments.base, arguments.new
        );
    }
    if regressions > 0 || broke {
        println!("RESULT: regression ({regressions} figures)");
        1
    } else {
        println!(
            "RESULT: no regression beyond {}%",
            arguments.max_regression_percent
        );
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(tps: f64, p99_ms: f64, response_failed: u64) -> Value {
        json!({
            "kind": "produce",
            "config": {"threads": 64},
            "messages_per_second": tps,
            "latency": {"p50_ms": 1.0, "p99_ms": p99_ms, "max_ms": 50.0},
            "response_failed": response_failed,
        })
    }

    fn regressed(rows: &[Row]) -> Vec<&str> {
        rows.iter()
            .filter(|r| r.regressed)
            .map(|r| r.path)
            .collect()
    }

    #[test]
    fn throughput_drop_beyond_threshold_is_a_regression() {
        let rows = compare(&report(1000.0, 5.0, 0), &report(900.0, 5.0, 0), 5.0);
        assert_eq!(regressed(&rows), ["messages_per_second"]);
    }

    #[test]
    fn latency_rise_beyond_threshold_is_a_regression_and_within_it_is_not() {
        let rows = compare(&report(1000.0, 5.0, 0), &report(1000.0, 5.5, 0), 5.0);
        assert_eq!(regressed(&rows), ["latency.p99_ms"]);
        let rows = compare(&report(1000.0, 5.0, 0), &report(1000.0, 5.2, 0), 5.0);
        assert!(regressed(&rows).is_empty());
    }

    #[test]
    fn improvements_and_unjudged_maxima_never_fail() {
        let base = report(1000.0, 5.0, 0);
        let mut new = report(2000.0, 1.0, 0);
        new["latency"]["max_ms"] = json!(500.0);
        assert!(regressed(&compare(&base, &new, 5.0)).is_empty());
    }

    #[test]
    fn failures_appearing_are_a_regression_whatever_the_threshold() {
        let rows = compare(&report(1000.0, 5.0, 0), &report(1000.0, 5.0, 3), 1000.0);
        assert_eq!(regressed(&rows), ["response_failed"]);
    }

    #[test]
    fn a_verification_that_starts_failing_is_a_regression() {
        let mut base = report(1000.0, 5.0, 0);
        let mut new = base.clone();
        base["verify"] = json!({"passed": true});
        new["verify"] = json!({"passed": false});
        assert!(verification_broke(&base, &new));
        assert!(!verification_broke(&new, &base));
    }

    #[test]
    fn command_exits_one_on_a_synthetic_regression_and_zero_without() {
        let directory = std::env::temp_dir().join(format!("ringmq-compare-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let write = |name: &str, value: &Value| {
            let path = directory.join(name);
            std::fs::write(&path, value.to_string()).expect("write report");
            path.to_string_lossy().into_owned()
        };
        let base = write("base.json", &report(1000.0, 5.0, 0));
        let slower = write("slower.json", &report(800.0, 5.0, 0));
        let same = write("same.json", &report(990.0, 5.0, 0));
        let args = |new: &str, percent: &str| {
            vec![
                base.clone(),
                new.to_owned(),
                "--max-regression".to_owned(),
                percent.to_owned(),
            ]
        };
        assert_eq!(run(&args(&slower, "10")), 1);
        assert_eq!(run(&args(&slower, "25")), 0);
        assert_eq!(run(&args(&same, "5")), 0);
        assert_eq!(run(std::slice::from_ref(&base)), 2);
        let _ = std::fs::remove_dir_all(&directory);
    }
}
