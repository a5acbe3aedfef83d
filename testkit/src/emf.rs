//! A checker of CloudWatch Embedded Metric Format documents, written from AWS's specification
//! ("Specification: Embedded metric format", Amazon CloudWatch User Guide), independently of
//! the emitter in `claimcheck::metrics`, so the tests compare the two.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The units the specification allows.
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric value set a document carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// The directive's `Namespace`.
    pub namespace: String,
    /// The metric's `Name`.
    pub name: String,
    /// Its `Unit` (`None` when the definition leaves it out).
    pub unit: String,
    /// Every dimension of the directive, by name.
    pub dimensions: BTreeMap<String, String>,
    /// Its values (one for a number, each of an array).
    pub values: Vec<f64>,
}

/// Checks one log line against the specification and returns its metrics.
///
/// Rules: a JSON object with nothing before or after it, at most 256 KiB (a CloudWatch Logs
/// event); `_aws` an object with a numeric `Timestamp` (epoch ms) and a non-empty
/// `CloudWatchMetrics` array; each directive a non-empty `Namespace`, `Dimensions` an array of
/// dimension sets (arrays of strings, at most 30 each), `Metrics` at most 100 definitions each
/// with a non-empty `Name`, a `Unit` from [`UNITS`] when present, `StorageResolution` 1 or 60
/// when present; every dimension a root member holding a non-empty string, every metric a root
/// member holding a number or an array of at most 100 finite numbers.
pub fn check_line(line: &str) -> Result<Vec<Datum>, String> {
    if line.len() > 256 * 1024 {
        return Err(format!("{} bytes: over a log event's 256 KiB", line.len()));
    }
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("the root is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a whole number of epoch ms")?;
    if timestamp < 1_000_000_000_000 {
        return Err(format!("_aws.Timestamp {timestamp} is not in milliseconds"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    let mut data = Vec::new();
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 1024)
            .ok_or("a directive's Namespace is missing or invalid")?;
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions array")?;
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics array")?;
        if metrics.len() > 100 {
            return Err(format!(
                "{} metrics in one directive (at most 100)",
                metrics.len()
            ));
        }
        let mut dimensions = BTreeMap::new();
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err(format!("{} dimensions in one set (at most 30)", set.len()));
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                // An empty value would publish the metric without its dimensions (AWS).
                let value = root
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        format!("dimension {name} is not a non-empty string member of the root")
                    })?;
                dimensions.insert(name.to_owned(), value.to_owned());
            }
        }
        for definition in metrics {
            let name = definition
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or("a metric definition has no Name")?;
            let unit = match definition.get("Unit") {
                None => "None",
                Some(unit) => unit
                    .as_str()
                    .filter(|u| UNITS.contains(u))
                    .ok_or_else(|| format!("metric {name}: invalid Unit {unit}"))?,
            };
            if let Some(resolution) = definition.get("StorageResolution")
                && resolution.as_u64() != Some(1)
                && resolution.as_u64() != Some(60)
            {
                return Err(format!("metric {name}: StorageResolution must be 1 or 60"));
            }
            let values = match root.get(name) {
                Some(Value::Number(n)) => vec![n.as_f64().unwrap_or(f64::NAN)],
                Some(Value::Array(many)) if many.len() <= 100 => many
                    .iter()
                    .map(|v| {
                        v.as_f64()
                            .ok_or_else(|| format!("metric {name}: a value is not a number"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(Value::Array(many)) => {
                    return Err(format!(
                        "metric {name}: {} values (at most 100)",
                        many.len()
                    ));
                }
                _ => return Err(format!("metric {name} is not a numeric member of the root")),
            };
            if values.iter().any(|v: &f64| !v.is_finite()) {
                return Err(format!("metric {name}: a value is not finite"));
            }
            data.push(Datum {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                unit: unit.to_owned(),
                dimensions: dimensions.clone(),
                values,
            });
        }
    }
    Ok(data)
}

/// A sink that keeps the lines in memory, and what was written to it, checked. When the last
/// handle is dropped, the lines are appended to the file `CLAIMCHECK_METRICS_LOG` names (when
/// set; `make test` sets it): the infra check compares the metrics Terraform's alarms and
/// dashboard name with those the functions emitted in the tests.
#[derive(Clone)]
pub struct Captured(Arc<Kept>);

struct Kept(Arc<Mutex<Vec<String>>>);

impl Drop for Kept {
    fn drop(&mut self) {
        let Some(path) = std::env::var_os("CLAIMCHECK_METRICS_LOG").filter(|p| !p.is_empty())
        else {
            return;
        };
        let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
        if let Err(e) = appended {
            eprintln!("metrics log {}: {e}", path.to_string_lossy());
        }
    }
}

impl Captured {
    /// A fresh capture and the sink that writes to it.
    pub fn new() -> (Self, claimcheck::metrics::Sink) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        (
            Self(Arc::new(Kept(kept.clone()))),
            claimcheck::metrics::Sink::Memory(kept),
        )
    }

    /// `function`'s metrics in stack `stack`, written to a fresh capture.
    pub fn metrics(stack: &str, function: &'static str) -> (Self, claimcheck::metrics::Metrics) {
        let (captured, sink) = Self::new();
        (
            captured,
            claimcheck::metrics::Metrics::new(stack, function, sink),
        )
    }

    /// Every datum written so far, each line checked against the specification (panics, with
    /// the line and the rule, on a line that breaks it).
    pub fn data(&self) -> Vec<Datum> {
        let lines = self.0.0.lock().map(|l| l.clone()).unwrap_or_default();
        lines
            .iter()
            .flat_map(|line| check_line(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// The total of metric `name` (summing every value) over the data whose dimensions include
    /// every `(name, value)` of `with`.
    pub fn total(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.data()
            .iter()
            .filter(|d| d.name == name)
            .filter(|d| {
                with.iter()
                    .all(|(k, v)| d.dimensions.get(*k).map(String::as_str) == Some(*v))
            })
            .flat_map(|d| d.values.iter().copied())
            .sum()
    }

    /// How many values metric `name` got (a duration's observations).
    pub fn observations(&self, name: &str) -> usize {
        self.data()
            .iter()
            .filter(|d| d.name == name)
            .map(|d| d.values.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_breaking_a_rule_are_refused() {
        let good = r#"{"_aws":{"Timestamp":1764547200000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["f"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"f":"x","M":1}"#;
        assert_eq!(check_line(good).unwrap()[0].values, [1.0]);
        for (bad, why) in [
            (good.replace(r#""f":"x","#, ""), "dimension missing"),
            (good.replace(r#""f":"x","#, r#""f":"","#), "dimension empty"),
            (good.replace(r#""M":1"#, r#""M":"1""#), "value a string"),
            (good.replace("Count", "Counts"), "unit"),
            (good.replace("1764547200000", "1764547200"), "seconds"),
            (
                good.replace(r#""Namespace":"n""#, r#""Namespace":"""#),
                "namespace",
            ),
            (format!("{good} trailing"), "trailing text"),
        ] {
            assert!(check_line(&bad).is_err(), "{why}: {bad}");
        }
    }
}
