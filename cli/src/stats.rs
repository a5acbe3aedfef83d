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
    /// The function that reported it (the `function` dimension).
    pub function: String,
    /// The metric's name, e.g. `PayloadsDone`.
    pub metric: String,
    /// The extra dimension, as `name=value` (`code=invalid_json`, `reason=rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// EMF's unit: `Count`, `Seconds` or `Bytes`.
    pub unit: String,
    /// Sum of every value counted (for a duration: of the times, which the text leaves out).
    pub total: f64,
    /// Values counted: for a duration or a size, how many were measured; for a count, how many
    /// flushes carried it.
    pub observations: u64,
    /// Sum of the values within the window.
    pub recent: f64,
    /// `recent` per minute of the window.
    pub per_minute: f64,
    /// A duration's or a size's mean and largest value (seconds, bytes).
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
    /// Lines left out: other stacks' or namespaces', older than `since`, or unreadable.
    pub skipped_lines: u64,
    /// The window `recent` covers, in seconds, ending at the summary's time.
    pub window_seconds: u64,
    /// Only lines from this time on (epoch ms) were counted: when local mode started, so a log
    /// reused across runs counts this run only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

#[derive(Default)]
struct Totals {
    unit: String,
    total: f64,
    observations: u64,
    recent: f64,
    max: Option<f64>,
}

/// Reads `path` (EMF lines, one JSON document each) and sums the metrics of `stack` in
/// namespace `claimcheck` from `since` (epoch ms) on: in total, and within the
/// `window_seconds` before `now_ms` (epoch ms).
///
/// # Errors
/// The file cannot be read (a missing one included: the caller decides what that means).
pub fn summarize(
    path: &Path,
    stack: &str,
    since: Option<u64>,
    now_ms: u64,
    window_seconds: u64,
) -> std::io::Result<Summary> {
    let file = std::fs::File::open(path)?;
    let recent_from = now_ms.saturating_sub(window_seconds.saturating_mul(1000));
    let mut totals: BTreeMap<(String, String, Option<String>), Totals> = BTreeMap::new();
    let mut skipped = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Some(data) = data_of(&line, stack).filter(|data| {
            since.is_none_or(|since| data.first().is_none_or(|d| d.timestamp >= since))
        }) else {
            skipped += 1;
            continue;
        };
        for datum in data {
            let entry = totals
                .entry((datum.function, datum.metric, datum.class))
                .or_default();
            entry.unit = datum.unit;
            for value in datum.values.into_iter().filter(|v| v.is_finite()) {
                entry.total += value;
                entry.observations += 1;
                entry.max = Some(entry.max.map_or(value, |m: f64| m.max(value)));
                if datum.timestamp >= recent_from {
                    entry.recent += value;
                }
            }
        }
    }
    let minutes = (window_seconds as f64 / 60.0).max(1.0 / 60.0);
    let series = totals
        .into_iter()
        .map(|((function, metric, class), t)| {
            // Durations and sizes are measured one by one: their mean and largest tell.
            let measured = matches!(t.unit.as_str(), "Seconds" | "Bytes");
            Series {
                function,
                metric,
                class,
                per_minute: t.recent / minutes,
                mean: (measured && t.observations > 0).then(|| t.total / t.observations as f64),
                max: t.max.filter(|_| measured),
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
        since,
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

/// The metrics of one EMF line, if it is one of `stack`'s in namespace `claimcheck`: every
/// metric its directive declares, with the dimension beyond `stack` and `function` as the
/// class (a line whose dimension is not a string is not one of ours).
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
        if directive.get("Namespace")?.as_str()? != claimcheck::metrics::NAMESPACE {
            return None;
        }
        let class = directive
            .get("Dimensions")?
            .as_array()?
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            .find(|name| !matches!(*name, "stack" | "function"))
            .map(|name| {
                let value = document.get(name)?.as_str()?;
                Some(format!("{name}={value}"))
            })
            .map_or(Some(None), |class| class.map(Some))?;
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

/// The summary as text lines: counts with their total, the window's and the rate per minute;
/// sizes and durations with how many were measured, their mean and largest.
pub fn describe(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    if summary.series.is_empty() {
        lines.push("  (no metrics reported yet)".into());
    } else {
        let recent = format!("last {}", span(summary.window_seconds));
        let names: Vec<String> = summary
            .series
            .iter()
            .map(|s| match &s.class {
                Some(class) => format!("{} {class}", s.metric),
                None => s.metric.clone(),
            })
            .collect();
        let width = names.iter().map(String::len).max().unwrap_or(0).max(6);
        let recent_width = recent.len().max(9);
        lines.push(format!(
            "  {:<17} {:<width$} {:>10} {:>recent_width$} {:>10}",
            "function", "metric", "total", recent, "per minute"
        ));
        for (s, name) in summary.series.iter().zip(names) {
            let line = match s.unit.as_str() {
                "Seconds" | "Bytes" => {
                    let show = |v: f64| match s.unit.as_str() {
                        "Seconds" => seconds(v),
                        _ => bytes(v),
                    };
                    let mean = s.total / (s.observations.max(1) as f64);
                    format!(
                        "  {:<17} {:<width$} n={} mean {} max {}",
                        s.function,
                        name,
                        s.observations,
                        show(mean),
                        show(s.max.unwrap_or(0.0))
                    )
                }
                _ => format!(
                    "  {:<17} {:<width$} {:>10} {:>recent_width$} {:>10.1}",
                    s.function,
                    name,
                    format!("{:.0}", s.total),
                    format!("{:.0}", s.recent),
                    s.per_minute
                ),
            };
            lines.push(line);
        }
    }
    if summary.skipped_lines > 0 {
        lines.push(format!(
            "  ({} lines of the log left out: other stacks' or namespaces', from before this run, or unreadable)",
            summary.skipped_lines
        ));
    }
    lines
}

/// A window's length: seconds below two minutes, else minutes (or hours).
fn span(window_seconds: u64) -> String {
    match window_seconds {
        s if s < 120 => format!("{s} s"),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{:.1} min", s as f64 / 60.0),
    }
}

/// A size, in the largest unit that keeps it at 1 or more.
fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = v;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration: milliseconds below a second.
fn seconds(v: f64) -> String {
    if v < 1.0 {
        format!("{:.1} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
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
        let summary = summarize(&path, "ours", None, now, 300).expect("summary");
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
        let later = summarize(&path, "ours", None, now + 600_000, 300).expect("summary");
        let done = later.series.iter().find(|s| s.metric == "PayloadsDone");
        assert_eq!(done.map(|s| (s.total, s.recent)), Some((3.0, 0.0)));
        let text = describe(&summary);
        assert!(text.iter().any(|l| l.contains("PayloadsDone")), "{text:?}");
        assert!(
            text.iter().any(
                |l| l.contains("ProcessingSeconds") && l.contains("n=2 mean 1.00 s max 1.50 s")
            ),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains("2 lines of the log left out"))
        );
        // Lines from before `since` (an earlier run's) are left out.
        let fresh = summarize(&path, "ours", Some(now + 1), now, 300).expect("summary");
        assert!(fresh.series.is_empty(), "{fresh:?}");
        // A log that is not there is the caller's to judge: an error here.
        assert!(summarize(&dir.path().join("absent"), "ours", None, now, 300).is_err());
        // Another namespace, or a dimension that is not a string: not ours.
        let other = dir.path().join("other.jsonl");
        std::fs::write(
            &other,
            concat!(
                r#"{"_aws":{"Timestamp":1764547200000,"CloudWatchMetrics":[{"Namespace":"x","Dimensions":[["stack","function"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"stack":"ours","function":"f","M":1}"#,
                "\n",
                r#"{"_aws":{"Timestamp":1764547200000,"CloudWatchMetrics":[{"Namespace":"claimcheck","Dimensions":[["stack","function","reason"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"stack":"ours","function":"f","reason":7,"M":1}"#,
                "\n"
            ),
        )
        .expect("write");
        let other = summarize(&other, "ours", None, now, 300).expect("summary");
        assert_eq!((other.series.len(), other.skipped_lines), (0, 2));
        assert_eq!(span(30), "30 s");
        assert_eq!(span(300), "5 min");
        assert_eq!(span(86_400), "24 h");
        assert_eq!(bytes(6013.0), "5.9 KiB");
        assert_eq!(seconds(0.0012), "1.2 ms");
    }
}
