//! Whole-process crashes: `claimcheck local` (the API, S3 trigger, event source mapping and
//! reconcile schedule in one process) is killed with SIGKILL at moments spread over the run —
//! while uploads arrive and payloads are processed — and restarted over the same resources, at
//! least three times. Afterwards: every payload the uploader got a URL for is `done`, nothing is
//! lost, both queues are empty, every object belongs to a payload, and each payload's side
//! effect happened once — more often only if a kill fell between its side effect and the
//! ledger's `done` (the one window at-least-once processing leaves, which the README states).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use claimcheck::api::UploadRequest;
use claimcheck::ledger::{Ledger, Status};
use claimcheck_cli::api::Api;
use claimcheck_cli::api_auth::ApiAuth;
use tokio::process::{Child, Command};
use tokio::sync::RwLock;

/// One `claimcheck local` process over the stack named `name`.
struct LocalMode {
    name: String,
    port: u16,
    dir: PathBuf,
}

impl LocalMode {
    fn outputs(&self) -> PathBuf {
        self.dir.join("outputs.json")
    }

    fn effects(&self) -> PathBuf {
        self.dir.join("effects.log")
    }

    /// Starts it and waits until it serves (its outputs file is written once it runs).
    async fn start(&self) -> Child {
        let _ = std::fs::remove_file(self.outputs());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("local.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_claimcheck"))
            .args([
                "local",
                "--name",
                &self.name,
                "--port",
                &self.port.to_string(),
            ])
            .arg("--write-outputs")
            .arg(self.outputs())
            .arg("--effects-log")
            .arg(self.effects())
            // A kill between the producer's `queued` and its send leaves a payload queued
            // without a message: reconcile re-sends it after the queued stall (an hour by
            // default, seconds here).
            .args(["--visibility-timeout", "4", "--reconcile-every", "2"])
            .args(["--queued-stall-seconds", "3"])
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn claimcheck local");
        let started = Instant::now();
        while !self.outputs().exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "claimcheck local did not start; see {}",
                self.dir.join("local.log").display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child
    }
}

fn outputs(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("outputs file");
    serde_json::from_str(&text).expect("outputs JSON")
}

fn output(outputs: &serde_json::Value, name: &str) -> String {
    outputs[name]["value"].as_str().expect(name).to_owned()
}

/// Uploads `body` through the API, retrying while local mode is down (a killed process, a
/// restart); returns the payload id. A request whose answer was lost to a kill may leave a
/// `pending` payload nobody uploads to: that one was never handed out, so it is not counted.
async fn upload(api: &Api, http: &reqwest::Client, body: String) -> String {
    let request = UploadRequest::new("text/plain", body.len() as u64)
        .with_sha256(testkit::sha256_base64(body.as_bytes()));
    let mut tries = 0;
    let ticket = loop {
        match api.request_upload(&request).await {
            Ok(ticket) => break ticket,
            Err(e) => {
                tries += 1;
                assert!(tries < 600, "the API never came back: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let mut put = http
        .put(ticket.url.as_deref().expect("a single PUT"))
        .body(body);
    for (name, value) in &ticket.headers {
        put = put.header(name, value);
    }
    // The PUT goes to S3 (the local endpoint), which the kills do not touch.
    let status = put.send().await.expect("PUT").status();
    assert!(status.is_success(), "upload: {status}");
    ticket.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_local_mode_loses_nothing_and_repeats_only_in_flight_side_effects() {
    let n: usize = std::env::var("CLAIMCHECK_CRASH_PAYLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(80);
    let aws = testkit::endpoint().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let local = LocalMode {
        name: testkit::unique("crash"),
        port,
        dir: dir.path().to_owned(),
    };
    let mut child = local.start().await;
    let stack = outputs(&local.outputs());
    let (api_url, table) = (output(&stack, "api_url"), output(&stack, "table"));
    let (bucket, queue, dlq) = (
        output(&stack, "bucket"),
        output(&stack, "queue_url"),
        output(&stack, "dlq_url"),
    );
    let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&aws.config), &table);
    let api = Arc::new(Api::new(
        reqwest::Client::new(),
        reqwest::Url::parse(&api_url).expect("API URL"),
        ApiAuth::SigV4 {
            credentials: aws.config.credentials_provider().expect("credentials"),
            region: output(&stack, "region"),
        },
    ));

    // The uploader runs while the process is killed and restarted under it.
    let ids = Arc::new(RwLock::new(Vec::new()));
    let uploader = {
        let (api, ids) = (api.clone(), ids.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..n {
                let id = upload(&api, &http, format!("payload {i}\n").repeat(1 + i % 50)).await;
                ids.write().await.push(id);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };

    // Kills at moments spread over the run (fixed, so a failure reproduces), each followed by a
    // restart; a payload the dead process held in `processing` may repeat its side effect.
    let mut in_flight: HashMap<String, u32> = HashMap::new();
    let mut kills = 0;
    for pause_ms in [700u64, 1100, 1600, 900] {
        // Spread over the uploads whatever their number (80 take about 4 s).
        let pause = Duration::from_millis(pause_ms * n.max(80) as u64 / 80);
        tokio::time::sleep(pause).await;
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        kills += 1;
        for id in ids.read().await.iter() {
            let record = ledger.get(id).await.expect("ledger").expect("recorded");
            if record.status == Status::Processing {
                *in_flight.entry(id.clone()).or_default() += 1;
            }
        }
        child = local.start().await;
    }
    uploader.await.expect("uploader");
    assert!(kills >= 3);
    let ids = ids.read().await.clone();
    assert_eq!(ids.len(), n);

    // Every payload ends `done` (retries, lease take-overs and reconcile after each crash).
    let started = Instant::now();
    loop {
        let mut pending = Vec::new();
        for id in &ids {
            let record = ledger.get(id).await.expect("ledger").expect("recorded");
            if record.status != Status::Done {
                pending.push(format!("{id}: {}", record.status));
            }
        }
        if pending.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "not done after the crashes: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Both queues drain (the last deletes follow the last `done`).
    let started = Instant::now();
    while aws.approximate_count(&queue).await + aws.approximate_count(&dlq).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "queues not empty"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    child.start_kill().expect("stop");
    child.wait().await.expect("reaped");

    // Every object belongs to a payload.
    let keys: HashSet<String> = aws.keys(&bucket).await.into_iter().collect();
    let expected: HashSet<String> = ids.iter().map(|id| format!("uploads/{id}")).collect();
    assert_eq!(keys, expected, "no orphan objects");

    // Side effects: each payload at least once; again only where a kill hit its window.
    let log = std::fs::read_to_string(local.effects()).expect("effects log");
    let mut effects: HashMap<&str, u32> = HashMap::new();
    for line in log.lines() {
        *effects.entry(line).or_default() += 1;
    }
    let mut repeated = 0;
    for id in &ids {
        let count = effects.get(id.as_str()).copied().unwrap_or(0);
        let allowed = 1 + in_flight.get(id).copied().unwrap_or(0);
        assert!(
            (1..=allowed).contains(&count),
            "payload {id}: side effect {count} times, {} kills while it was processing",
            allowed - 1
        );
        repeated += usize::from(count > 1);
    }
    println!(
        "crash test: {n} payloads, {kills} kills (SIGKILL) and restarts, {} payloads in flight at a kill, {repeated} side effects repeated",
        in_flight.len()
    );
}
