//! `claimcheck stats`'s figures: the CloudWatch metrics local mode's handlers wrote as EMF lines
//! (see `claimcheck::metrics`), read back the way CloudWatch extracts them — each line's
//! directive names its metrics, their units and its dimensions — and summed per function,
//! metric and class, in total and over a recent window.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// One metric series: a function's metric, with its extra dimension when it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub function: String,
    pub metric: String,
    /// The extra dimension, as `name=value` (`code=invalid_json`, `reason=rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// EMF's unit: `Count`, `Seconds` or `Bytes`.
    pub unit: String,
    /// Sum of every value since the log began.
    pub total: f64,
    /// Values (observations) since the log began: for a duration, how many were timed.
    pub observations: u64,
    /// Sum of the values within the window.
    pub recent: f64,
    /// `recent` per minute of the window.
    pub per_minute: f64,
    /// A duration's mean and largest value, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The metrics of one stack read from an EMF log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Series sorted by function, metric, class.
    pub series: Vec<Series>,
    /// Lines that were not EMF documents of this stack's (other stacks', or unreadable).
    pub skipped_lines: u64,
    /// The window `recent` covers, in seconds, ending at the summary's time.
    pub window_seconds: u64,
}

#[derive(Default)]
struct Totals {
    unit: String,
    total: f64,
    observations: u64,
    recent: f64,
    max: Option<f64>,
}

/// Reads `path` (EMF lines, one JSON document each) and sums the metrics of `stack`: in total,
/// and within the `window_seconds` before `now_ms` (epoch ms). A missing file is an empty
/// summary (the handlers have reported nothing yet).
///
/// # Errors
/// The file cannot be read.
pub fn summarize(
    path: &Path,
    stack: &str,
    now_ms: u64,
    window_seconds: u64,
) -> std::io::Result<Summary> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Summary {
                window_seconds,
                ..Summary::default()
            });
        }
        Err(e) => return Err(e),
    };
    let since = now_ms.saturating_sub(window_seconds.saturating_mul(1000));
    let mut totals: BTreeMap<(String, String, Option<String>), Totals> = BTreeMap::new();
    let mut skipped = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Some(data) = data_of(&line, stack) else {
            skipped += 1;
            continue;
        };
        for datum in data {
            let entry = totals
                .entry((datum.function, datum.metric, datum.class))
                .or_default();
            entry.unit = datum.unit;
            for value in datum.values {
                entry.total += value;
                entry.observations += 1;
                entry.max = Some(entry.max.map_or(value, |m: f64| m.max(value)));
                if datum.timestamp >= since {
                    entry.recent += value;
                }
            }
        }
    }
    let minutes = (window_seconds as f64 / 60.0).max(1.0 / 60.0);
    let series = totals
        .into_iter()
        .map(|((function, metric, class), t)| {
            let duration = t.unit == "Seconds";
            Series {
                function,
                metric,
                class,
                per_minute: t.recent / minutes,
                mean: (duration && t.observations > 0).then(|| t.total / t.observations as f64),
                max: t.max.filter(|_| duration),
                unit: t.unit,
                total: t.total,
                observations: t.observations,
                recent: t.recent,
            }
        })
        .collect();
    Ok(Summary {
        series,
        skipped_lines: skipped,
        window_seconds,
    })
}

struct Datum {
    timestamp: u64,
    function: String,
    metric: String,
    class: Option<String>,
    unit: String,
    values: Vec<f64>,
}

/// The metrics of one EMF line, if it is one of `stack`'s: every metric its directive declares,
/// with the dimension beyond `stack` and `function` as the class.
fn data_of(line: &str, stack: &str) -> Option<Vec<Datum>> {
    let document: Value = serde_json::from_str(line).ok()?;
    if document.get("stack")?.as_str()? != stack {
        return None;
    }
    let function = document.get("function")?.as_str()?.to_owned();
    let aws = document.get("_aws")?;
    let timestamp = aws.get("Timestamp")?.as_u64()?;
    let mut data = Vec::new();
    for directive in aws.get("CloudWatchMetrics")?.as_array()? {
        let class = directive
            .get("Dimensions")?
            .as_array()?
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            .find(|name| !matches!(*name, "stack" | "function"))
            .and_then(|name| {
                let value = document.get(name)?.as_str()?;
                Some(format!("{name}={value}"))
            });
        for metric in directive.get("Metrics")?.as_array()? {
            let name = metric.get("Name")?.as_str()?;
            let values = match document.get(name)? {
                Value::Array(many) => many.iter().filter_map(Value::as_f64).collect(),
                one => vec![one.as_f64()?],
            };
            data.push(Datum {
                timestamp,
                function: function.clone(),
                metric: name.to_owned(),
                class: class.clone(),
                unit: metric
                    .get("Unit")
                    .and_then(Value::as_str)
                    .unwrap_or("None")
                    .to_owned(),
                values,
            });
        }
    }
    Some(data)
}

/// The summary as text lines: one per series, durations with their count, mean and maximum.
pub fn describe(summary: &Summary) -> Vec<String> {
    if summary.series.is_empty() {
        return vec!["  (no metrics reported yet)".into()];
    }
    let minutes = summary.window_seconds as f64 / 60.0;
    let recent = format!("last {minutes:.0} min");
    let mut lines = vec![format!(
        "  {:<17} {:<42} {:>11} {:>11} {:>12}",
        "function", "metric", "total", recent, "per minute"
    )];
    for s in &summary.series {
        let name = match &s.class {
            Some(class) => format!("{} {class}", s.metric),
            None => s.metric.clone(),
        };
        let (total, recent, rate) = match s.unit.as_str() {
            "Bytes" => {
                let mib = |v: f64| format!("{:.1} MiB", v / (1024.0 * 1024.0));
                (mib(s.total), mib(s.recent), mib(s.per_minute))
            }
            // A sum of durations per minute says little: their count, mean and maximum follow.
            "Seconds" => (
                format!("{:.3} s", s.total),
                format!("{:.3} s", s.recent),
                "-".to_owned(),
            ),
            _ => (
                format!("{:.0}", s.total),
                format!("{:.0}", s.recent),
                format!("{:.1}", s.per_minute),
            ),
        };
        let mut line = format!(
            "  {:<17} {:<42} {:>11} {:>11} {:>12}",
            s.function, name, total, recent, rate
        );
        if let (Some(mean), Some(max)) = (s.mean, s.max) {
            line.push_str(&format!(
                "   n={} mean {mean:.3} s max {max:.3} s",
                s.observations
            ));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use claimcheck::metrics::{Metrics, Sink};
    use std::time::Duration;

    #[test]
    fn emitted_metrics_are_summed_per_series_and_stack() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("metrics.jsonl");
        let ours = Metrics::new("ours", "consumer", Sink::File(path.clone()));
        let theirs = Metrics::new("theirs", "consumer", Sink::File(path.clone()));
        ours.count("PayloadsDone", 2);
        ours.seconds("ProcessingSeconds", Duration::from_millis(500));
        ours.seconds("ProcessingSeconds", Duration::from_millis(1500));
        ours.count_by("PayloadsParked", "reason", "rejected", 1);
        ours.flush();
        ours.count("PayloadsDone", 1);
        ours.flush();
        theirs.count("PayloadsDone", 7);
        theirs.flush();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"not json\n"))
            .expect("append");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let summary = summarize(&path, "ours", now, 300).expect("summary");
        let find = |metric: &str| {
            summary
                .series
                .iter()
                .find(|s| s.metric == metric)
                .unwrap_or_else(|| panic!("{metric}: {summary:?}"))
        };
        assert_eq!(
            (find("PayloadsDone").total, find("PayloadsDone").recent),
            (3.0, 3.0)
        );
        assert_eq!(find("PayloadsDone").per_minute, 0.6);
        let processing = find("ProcessingSeconds");
        assert_eq!(
            (processing.observations, processing.mean, processing.max),
            (2, Some(1.0), Some(1.5))
        );
        assert_eq!(
            find("PayloadsParked").class.as_deref(),
            Some("reason=rejected")
        );
        assert_eq!(find("ColdStart").total, 1.0);
        assert_eq!(
            summary.skipped_lines, 2,
            "the other stack's line and the bad one"
        );
        // Outside the window: totals stay, recent is zero.
        let later = summarize(&path, "ours", now + 600_000, 300).expect("summary");
        let done = later.series.iter().find(|s| s.metric == "PayloadsDone");
        assert_eq!(done.map(|s| (s.total, s.recent)), Some((3.0, 0.0)));
        assert!(
            describe(&summary)
                .iter()
                .any(|l| l.contains("PayloadsDone"))
        );
        // No log yet: an empty summary, not an error.
        let none = summarize(&dir.path().join("absent"), "ours", now, 300).expect("empty");
        assert!(none.series.is_empty());
    }
}
