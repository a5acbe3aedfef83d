//! CloudWatch metrics in the Embedded Metric Format (EMF): each function records what it did
//! during an invocation ([`Metrics::count`], [`Metrics::seconds`], [`Metrics::bytes`]) and
//! writes it as JSON log lines at the end ([`Metrics::flush`]); in Lambda those lines go to
//! stdout, CloudWatch Logs extracts the metrics, and no `PutMetricData` call or permission is
//! needed.
//!
//! Every metric is in namespace [`NAMESPACE`] with dimensions `stack` (Terraform's `name`, so
//! two stacks in one account stay apart) and `function`; a metric recorded with a class (an
//! error code, a reason class) gets a third dimension, e.g. `code`. Dimension values are always
//! from a fixed, small set (never a payload id or an error message: each distinct value is a
//! metric of its own, billed as one).
//!
//! The document follows AWS's specification ("Specification: Embedded metric format", Amazon
//! CloudWatch User Guide): a root `_aws` member with `Timestamp` (epoch ms) and
//! `CloudWatchMetrics` (one directive: `Namespace`, `Dimensions`, `Metrics` with `Name` and
//! `Unit`), every declared metric and dimension a member of the root, at most
//! [`MAX_METRICS_PER_DOCUMENT`] metrics per directive and [`MAX_VALUES_PER_METRIC`] values per
//! metric (more are split over several lines).
//!
//! Why not the `metrics` crate with `metrics_cloudwatch_embedded`: its recorder is global to
//! the process, while local mode runs all five handlers in one process and each must report
//! under its own `function` dimension; a value each handler holds among its dependencies keeps
//! them apart and lets tests read what one handler emitted.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::settings::Source;

/// The CloudWatch namespace of every claimcheck metric.
pub const NAMESPACE: &str = "claimcheck";
/// The most metrics one EMF directive may declare (the EMF specification's limit).
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// The most values one metric may carry in one document (the EMF specification's limit).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// The stack name when `CLAIMCHECK_STACK_NAME` is unset (Terraform's default `name`).
pub const DEFAULT_STACK: &str = "claimcheck";

/// A metric's unit, as EMF and CloudWatch name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things (events, payloads, records).
    Count,
    /// A duration, in seconds.
    Seconds,
    /// An amount of data, in bytes.
    Bytes,
}

impl Unit {
    /// The unit's name in EMF (`Count`, `Seconds`, `Bytes`).
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Where the EMF lines go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard output: in Lambda, the function's log group, where CloudWatch extracts them.
    Stdout,
    /// Appended to a file, a line each (local mode's collection, `claimcheck stats` reads it;
    /// the tests' metrics log).
    File(PathBuf),
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Values recorded since the last flush: by extra dimension (none, or one `(name, value)`),
/// then by metric name.
type Pending = BTreeMap<Option<(&'static str, String)>, BTreeMap<&'static str, Recorded>>;

#[derive(Debug)]
struct Recorded {
    unit: Unit,
    values: Vec<f64>,
}

/// One function's metrics: recorded during an invocation, written by [`Metrics::flush`].
/// Shared by concurrent invocations of one process (local mode): recording takes a lock held
/// for a map update only.
#[derive(Debug)]
pub struct Metrics {
    stack: String,
    function: &'static str,
    sink: Sink,
    pending: Mutex<Pending>,
    cold: AtomicBool,
}

impl Metrics {
    /// Metrics of `function` in `stack` (an empty name is [`DEFAULT_STACK`]), written to
    /// `sink`. The first flush also reports `ColdStart` = 1.
    pub fn new(stack: impl Into<String>, function: &'static str, sink: Sink) -> Self {
        let stack = stack.into();
        Self {
            stack: if stack.is_empty() {
                DEFAULT_STACK.to_owned()
            } else {
                stack
            },
            function,
            sink,
            pending: Mutex::new(BTreeMap::new()),
            cold: AtomicBool::new(true),
        }
    }

    /// `function`'s metrics as its environment configures them: stack name from
    /// `CLAIMCHECK_STACK_NAME` (default [`DEFAULT_STACK`]), lines to the file named by
    /// `CLAIMCHECK_METRICS_LOG` when set (tests), else to stdout (Lambda).
    pub fn from_source(function: &'static str, source: &dyn Source) -> Self {
        let stack = source
            .get("CLAIMCHECK_STACK_NAME")
            .unwrap_or_else(|| DEFAULT_STACK.to_owned());
        let sink = source
            .get("CLAIMCHECK_METRICS_LOG")
            .map_or(Sink::Stdout, |path| Sink::File(path.into()));
        Self::new(stack, function, sink)
    }

    /// The function these metrics are reported under.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Adds `n` to the count `name`.
    pub fn count(&self, name: &'static str, n: u64) {
        self.record(None, name, Unit::Count, n as f64);
    }

    /// Adds `n` to the count `name` under the extra dimension `dimension` = `class` (a value
    /// from a fixed set: an error code, a reason class). An empty class is `unknown`: EMF
    /// publishes a metric with an empty dimension value without its dimensions.
    pub fn count_by(&self, name: &'static str, dimension: &'static str, class: &str, n: u64) {
        let class = if class.is_empty() { "unknown" } else { class };
        self.record(
            Some((dimension, class.to_owned())),
            name,
            Unit::Count,
            n as f64,
        );
    }

    /// Records one duration of `name`, in seconds.
    pub fn seconds(&self, name: &'static str, duration: Duration) {
        self.record(None, name, Unit::Seconds, duration.as_secs_f64());
    }

    /// Records one amount of data of `name`, in bytes.
    pub fn bytes(&self, name: &'static str, bytes: u64) {
        self.record(None, name, Unit::Bytes, bytes as f64);
    }

    fn record(
        &self,
        dimension: Option<(&'static str, String)>,
        name: &'static str,
        unit: Unit,
        value: f64,
    ) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let recorded = pending
            .entry(dimension)
            .or_default()
            .entry(name)
            .or_insert_with(|| Recorded {
                unit,
                values: Vec::new(),
            });
        match (unit, recorded.values.first_mut()) {
            // Counts are summed: one value per flush is what CloudWatch needs of them.
            (Unit::Count, Some(sum)) => *sum += value,
            _ => recorded.values.push(value),
        }
    }

    /// Writes what was recorded since the last flush as EMF lines (none when nothing was) and
    /// starts afresh. Writing is best effort: a metrics line that cannot be written is logged,
    /// never an error of the invocation.
    pub fn flush(&self) {
        if self.cold.swap(false, Ordering::Relaxed) {
            self.count("ColdStart", 1);
        }
        let pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let lines: Vec<String> = pending
            .into_iter()
            .flat_map(|(dimension, metrics)| self.documents(timestamp, dimension, metrics))
            .map(|document| document.to_string())
            .collect();
        if !lines.is_empty() {
            self.write(&lines);
        }
    }

    /// The EMF documents of one dimension set: as many as the limits on metrics per directive
    /// and values per metric require.
    fn documents(
        &self,
        timestamp: u64,
        dimension: Option<(&'static str, String)>,
        metrics: BTreeMap<&'static str, Recorded>,
    ) -> Vec<Value> {
        let mut dimensions = vec!["stack", "function"];
        let mut root = Map::new();
        root.insert("stack".into(), json!(self.stack));
        root.insert("function".into(), json!(self.function));
        if let Some((name, value)) = &dimension {
            dimensions.push(name);
            root.insert((*name).into(), json!(value));
        }
        // Round r carries the r-th chunk of values of every metric that has one.
        let chunked: Vec<(&str, Unit, Vec<&[f64]>)> = metrics
            .iter()
            .map(|(name, r)| {
                (
                    *name,
                    r.unit,
                    r.values.chunks(MAX_VALUES_PER_METRIC).collect(),
                )
            })
            .collect();
        let rounds = chunked.iter().map(|(_, _, c)| c.len()).max().unwrap_or(0);
        let mut documents = Vec::new();
        for round in 0..rounds {
            let present: Vec<(&str, Unit, &[f64])> = chunked
                .iter()
                .filter_map(|(name, unit, chunks)| chunks.get(round).map(|c| (*name, *unit, *c)))
                .collect();
            for group in present.chunks(MAX_METRICS_PER_DOCUMENT) {
                let mut document = root.clone();
                let mut declared = Vec::new();
                for (name, unit, values) in group {
                    declared.push(json!({ "Name": name, "Unit": unit.as_str() }));
                    let value = match values {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    document.insert((*name).into(), value);
                }
                document.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": [dimensions],
                            "Metrics": declared,
                        }],
                    }),
                );
                documents.push(Value::Object(document));
            }
        }
        documents
    }

    fn write(&self, lines: &[String]) {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let written = match &self.sink {
            Sink::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            // One write per flush to a file opened for appending: concurrent writers (local
            // mode's handlers, parallel tests) do not split each other's lines.
            Sink::File(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(text.as_bytes())),
            Sink::Memory(kept) => {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(lines.iter().cloned());
                Ok(())
            }
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "metrics could not be written");
        }
    }
}

/// A reason a payload was parked, as the `reason` dimension of `PayloadsParked`: a fixed set,
/// so the dimension stays a handful of metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkClass {
    /// The message could not be resolved: a malformed pointer, an untrusted bucket, an object
    /// gone.
    Unresolvable,
    /// The processor said the payload can never succeed.
    Rejected,
    /// The payload is in a state it cannot be processed from.
    State,
    /// The payload is over what the consumer can stream within its timeout.
    TooLarge,
    /// Every allowed receive failed: SQS's redrive policy moves it to the DLQ.
    RetriesExhausted,
}

impl ParkClass {
    /// The dimension value: `unresolvable`, `rejected`, `state`, `too_large`,
    /// `retries_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParkClass::Unresolvable => "unresolvable",
            ParkClass::Rejected => "rejected",
            ParkClass::State => "state",
            ParkClass::TooLarge => "too_large",
            ParkClass::RetriesExhausted => "retries_exhausted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> (Metrics, Arc<Mutex<Vec<String>>>) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        (
            Metrics::new("s", "consumer", Sink::Memory(kept.clone())),
            kept,
        )
    }

    fn parsed(kept: &Arc<Mutex<Vec<String>>>) -> Vec<Value> {
        let lines = std::mem::take(&mut *kept.lock().unwrap());
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn counts_are_summed_durations_kept_and_classes_get_their_own_line() {
        let (metrics, kept) = memory();
        metrics.count("PayloadsDone", 1);
        metrics.count("PayloadsDone", 2);
        metrics.seconds("ProcessingSeconds", Duration::from_millis(1500));
        metrics.seconds("ProcessingSeconds", Duration::from_millis(250));
        metrics.count_by("PayloadsParked", "reason", "rejected", 1);
        metrics.flush();
        let documents = parsed(&kept);
        assert_eq!(documents.len(), 2, "{documents:?}");
        let plain = &documents[0];
        assert_eq!(plain["PayloadsDone"], json!(3.0));
        assert_eq!(plain["ColdStart"], json!(1.0));
        assert_eq!(plain["ProcessingSeconds"], json!([1.5, 0.25]));
        assert_eq!(plain["function"], "consumer");
        assert_eq!(plain["stack"], "s");
        assert_eq!(
            plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["stack", "function"]])
        );
        let parked = &documents[1];
        assert_eq!(parked["reason"], "rejected");
        assert_eq!(
            parked["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["stack", "function", "reason"]])
        );
        // A second flush: no cold start again, and nothing to write.
        metrics.flush();
        assert!(parsed(&kept).is_empty());
    }

    #[test]
    fn more_than_a_document_holds_is_split_within_the_limits() {
        let (metrics, kept) = memory();
        const NAMES: [&str; 3] = ["A", "B", "C"];
        for i in 0..250 {
            metrics.seconds(NAMES[i % 3], Duration::from_secs(1));
        }
        metrics.flush();
        let documents = parsed(&kept);
        // 84 + 83 + 83 values: one chunk each, plus the cold start — one document.
        assert_eq!(documents.len(), 1);
        for _ in 0..250 {
            metrics.seconds("A", Duration::from_secs(1));
        }
        metrics.flush();
        let documents = parsed(&kept);
        assert_eq!(documents.len(), 3);
        let total: usize = documents
            .iter()
            .map(|d| d["A"].as_array().map_or(1, Vec::len))
            .sum();
        assert_eq!(total, 250);
        assert!(documents.iter().all(|d| {
            d["A"]
                .as_array()
                .is_none_or(|v| v.len() <= MAX_VALUES_PER_METRIC)
        }));
    }

    #[test]
    fn dimension_values_are_never_empty() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let metrics = Metrics::new("", "consumer", Sink::Memory(kept.clone()));
        metrics.count_by("PayloadsParked", "reason", "", 1);
        metrics.flush();
        let documents = parsed(&kept);
        assert!(
            documents.iter().all(|d| d["stack"] == DEFAULT_STACK),
            "{documents:?}"
        );
        assert!(
            documents.iter().any(|d| d["reason"] == "unknown"),
            "{documents:?}"
        );
    }

    #[test]
    fn more_metrics_than_a_directive_declares_go_over_several_lines() {
        let (metrics, kept) = memory();
        for i in 0..150 {
            let name: &'static str = Box::leak(format!("M{i}").into_boxed_str());
            metrics.count(name, 1);
        }
        metrics.flush();
        let documents = parsed(&kept);
        let declared: Vec<usize> = documents
            .iter()
            .map(|d| {
                d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(declared, [100, 51]);
    }
}
