//! Local mode's share of the local endpoint's call log: what AWS runs between the calls the
//! endpoint sees. With `CLAIMCHECK_CALL_LOG` naming a file (the file tests/local_endpoint.py
//! logs every AWS request to), local mode appends one JSON line per Lambda invocation it
//! emulates and one per API request it serves, so a run's log holds every billable request:
//!
//! ```text
//! {"principal": "fn-consumer", "service": "lambda", "action": "Invoke", "resource": "consumer",
//!  "duration_ms": 12.375, "records": 10}
//! {"principal": null, "service": "apigateway", "action": "POST /uploads", "resource": null,
//!  "status": 201}
//! ```
//!
//! `duration_ms` is the handler's wall time (what Lambda bills, before its rounding up to 1 ms);
//! `records` the events in the invocation (an SQS batch's records; 1 for the API, S3 and the
//! schedule). tests/bench/cost.py prices a run from these lines. Without the variable nothing
//! is written. Each line is one `write` to a file opened for appending, as the endpoint's are, so
//! the two writers' lines never interleave.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Where local mode records invocations and API requests (see the module docs); the default
/// records nothing.
#[derive(Debug, Default)]
pub struct CallLog {
    file: Option<Mutex<std::fs::File>>,
}

impl CallLog {
    /// The log at `path`, opened for appending (created when missing); disabled for `None`.
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub fn open(path: Option<&std::path::Path>) -> std::io::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Some(Mutex::new(file)),
        })
    }

    /// One invocation of `function` that ran `duration` over `records` events.
    pub fn invocation(&self, function: &str, duration: Duration, records: usize) {
        self.append(&serde_json::json!({
            "principal": format!("fn-{function}"),
            "service": "lambda",
            "action": "Invoke",
            "resource": function,
            "duration_ms": duration.as_secs_f64() * 1000.0,
            "records": records,
        }));
    }

    /// One request API Gateway served on `route_key` (`POST /uploads`), answered `status`.
    pub fn api_request(&self, route_key: &str, status: u16) {
        self.append(&serde_json::json!({
            "principal": null,
            "service": "apigateway",
            "action": route_key,
            "resource": null,
            "status": status,
        }));
    }

    fn append(&self, line: &serde_json::Value) {
        let Some(file) = &self.file else { return };
        let mut line = line.to_string();
        line.push('\n');
        // A short blocking write on the caller's task: this is a measurement aid, and a poisoned
        // lock or a full disk costs a line of the log, never the request.
        if let Ok(mut file) = file.lock()
            && let Err(e) = file.write_all(line.as_bytes())
        {
            tracing::warn!(error = %e, "call log: a line was not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_as_json_and_a_disabled_log_writes_nothing() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("calls.jsonl");
        std::fs::write(&path, "{\"service\": \"s3\"}\n").expect("an earlier line");
        let log = CallLog::open(Some(&path)).expect("the log");
        log.invocation("consumer", Duration::from_micros(12_375), 10);
        log.api_request("POST /uploads", 201);
        CallLog::open(None)
            .expect("no log")
            .invocation("producer", Duration::from_millis(1), 1);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .expect("the log")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[1]["principal"], "fn-consumer");
        assert_eq!(lines[1]["action"], "Invoke");
        assert_eq!(lines[1]["records"], 10);
        assert!((lines[1]["duration_ms"].as_f64().expect("ms") - 12.375).abs() < 1e-9);
        assert_eq!(lines[2]["service"], "apigateway");
        assert_eq!(lines[2]["action"], "POST /uploads");
        assert_eq!(lines[2]["status"], 201);
    }
}
