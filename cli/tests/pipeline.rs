//! The end-to-end fault test: N uploads (500; `CLAIMCHECK_E2E_PAYLOADS` for quick runs)
//! through local mode — the real API, S3 trigger, SQS event source mapping and redriver over
//! the local endpoint — with the faults production has: a processor that fails transiently on
//! a fifth of its attempts, S3 events delivered twice, a consumer invocation killed mid-batch,
//! poison payloads that fail for good until their fault is switched off and they are
//! redriven, and an S3 event that is lost so only reconcile can find its upload.
//! Afterwards every payload is `done` and was processed exactly once, both queues are empty,
//! and every object in the bucket belongs to a payload.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use claimcheck::api::UploadRequest;
use claimcheck::ledger::{Ledger, Status};
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};
use claimcheck_cli::api::Api;
use claimcheck_cli::api_auth::ApiAuth;
use claimcheck_cli::local::s3_trigger::Delivery;
use claimcheck_cli::local::{Faults, LocalSettings};
use futures::StreamExt;
use sha2::Digest;

const POISON: &str = "application/x-e2e-poison";
const POISONED: usize = 3;

/// The processor with injected faults; it counts its side effects per payload.
struct Faulty {
    poison_on: AtomicBool,
    calls: AtomicUsize,
    kill_at: usize,
    killed: AtomicBool,
    transient: AtomicUsize,
    side_effects: Mutex<HashMap<String, u32>>,
}

impl Processor for Faulty {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call == self.kill_at {
            // Hangs before any side effect, so Lambda's timeout kills this invocation
            // mid-batch: its lease and its batch's messages are left to expire.
            self.killed.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        let id = meta.id.clone().unwrap_or_default();
        if meta.content_type.as_deref() == Some(POISON) && self.poison_on.load(Ordering::SeqCst) {
            return Outcome::Permanent(
                "poison payload (injected; fixed by switching it off)".into(),
            );
        }
        let roll = sha2::Sha256::digest(format!("{id}/{}/{call}", meta.receive_count));
        if roll[0] < 51 {
            self.transient.fetch_add(1, Ordering::SeqCst);
            return Outcome::Retry("injected transient failure".into());
        }
        let outcome = VerifyingProcessor.process(meta, body).await;
        if matches!(outcome, Outcome::Done { .. }) {
            *self
                .side_effects
                .lock()
                .expect("lock")
                .entry(id)
                .or_default() += 1;
        }
        outcome
    }
}

async fn count(ledger: &Ledger, status: Status) -> usize {
    let counts = ledger.count_by_status().await.expect("count");
    counts.get(status.as_str()).copied().unwrap_or(0) as usize
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return,
            Err(state) if started.elapsed() > limit => panic!("{what}: gave up: {state}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_uploads_survive_every_fault_exactly_once() {
    let n: usize = std::env::var("CLAIMCHECK_E2E_PAYLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let aws = testkit::endpoint().await;
    let mut settings = LocalSettings::from_defaults(&testkit::unique("e2e")).expect("defaults");
    // Timings scaled down so retries happen in seconds; the rest is Terraform's configuration.
    // The order Terraform keeps, consumer timeout < lease ≤ visibility timeout, holds: a lease
    // shorter than an invocation let a slow invocation's payload be processed twice.
    settings.set_visibility_timeout(8);
    settings.upload_url_lifetime = Duration::from_secs(5);
    settings.pending_grace = Duration::ZERO;
    settings.reconcile_every = None;
    // One producer holds every upload URL of the run.
    settings.max_pending_uploads = n as u32;
    let processor = Faulty {
        poison_on: AtomicBool::new(true),
        calls: AtomicUsize::new(0),
        kill_at: n / 5,
        killed: AtomicBool::new(false),
        transient: AtomicUsize::new(0),
        side_effects: Mutex::new(HashMap::new()),
    };
    let lost: Arc<Mutex<HashSet<String>>> = Arc::default();
    let duplicated = Arc::new(AtomicUsize::new(0));
    let plan = {
        let lost = lost.clone();
        let duplicated = duplicated.clone();
        Arc::new(move |key: &str| {
            if lost.lock().expect("lock").contains(key) {
                return Delivery::Lost;
            }
            if sha2::Sha256::digest(key)[0] < 26 {
                duplicated.fetch_add(1, Ordering::SeqCst);
                return Delivery::Twice;
            }
            Delivery::Once
        })
    };
    let faults = Faults { s3_delivery: plan };
    let processor = Arc::new(processor);
    let running = claimcheck_cli::local::start(&aws.config, &settings, processor.clone(), faults)
        .await
        .expect("local mode");
    let ledger = Ledger::new(
        aws_sdk_dynamodb::Client::new(&aws.config),
        &running.stack.table,
    );

    // N uploads through the API (SigV4-signed, as Terraform's default AWS_IAM authorization
    // requires), eight at a time; a few poison, one whose event is lost.
    let http = reqwest::Client::new();
    let api = Arc::new(Api::new(
        http.clone(),
        reqwest::Url::parse(&running.api_url).expect("API URL"),
        ApiAuth::SigV4 {
            credentials: aws.config.credentials_provider().expect("credentials"),
            region: running.region.clone(),
        },
    ));
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let http = http.clone();
            let api = api.clone();
            let lost = lost.clone();
            async move {
                let body = format!("payload {i}\n").repeat(1 + i % 200);
                let content_type = if is_poison(i, n) {
                    POISON
                } else {
                    "text/plain"
                };
                let sha = base64_sha(&body);
                let ticket = api
                    .request_upload(
                        &UploadRequest::new(content_type, body.len() as u64).with_sha256(sha),
                    )
                    .await
                    .expect("POST /uploads");
                let id = ticket.id.clone();
                if i == 2 {
                    lost.lock().expect("lock").insert(format!("uploads%2F{id}"));
                }
                let mut put = http.put(ticket.url.as_deref().expect("a single PUT"));
                for (name, value) in &ticket.headers {
                    put = put.header(name, value);
                }
                let status = put.body(body).send().await.expect("PUT").status();
                assert!(status.is_success(), "upload {i}: {status}");
                id
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    println!("{n} uploads in {:.1} s", started.elapsed().as_secs_f64());

    // Everything but the poison payloads and the lost upload gets done; the poison ones are
    // parked in the DLQ (`dead`), as are any whose transient failures used up every receive.
    let poison_count = POISONED.min(n);
    wait_until("the first pass", Duration::from_secs(600), || async {
        let done = count(&ledger, Status::Done).await;
        let dead = count(&ledger, Status::Dead).await;
        let in_dlq = aws.approximate_count(&running.stack.dlq_url).await;
        let settled = done + dead + 1 == n && dead >= poison_count && in_dlq == dead;
        if settled {
            Ok(())
        } else {
            Err(format!("done {done}, dead {dead}, DLQ {in_dlq}"))
        }
    })
    .await;
    assert!(
        processor.killed.load(Ordering::SeqCst),
        "an invocation was killed"
    );
    let dead = count(&ledger, Status::Dead).await;

    // The fault is fixed: redrive brings every parked message back, checked.
    processor.poison_on.store(false, Ordering::SeqCst);
    let deadline = SystemTime::now() + Duration::from_secs(120);
    let redrive = redriver::handle(
        &running.redriver,
        &running.redriver_metrics,
        redriver::Request::default(),
        deadline,
    )
    .await
    .expect("redrive");
    let redriver::Report::Redrive(redrive) = redrive else {
        unreachable!()
    };
    assert_eq!(
        redrive.stats,
        claimcheck::repair::RedriveStats {
            scanned: dead as u32,
            redriven: dead as u32,
            parked: 0,
            skipped: 0,
            failed: 0
        },
        "{redrive:#?}"
    );

    // The lost event: only reconcile finds that upload, once its URL has expired.
    tokio::time::sleep(settings.upload_url_lifetime).await;
    let run_reconcile = || {
        let request = redriver::Request {
            mode: redriver::Mode::Reconcile,
            ..redriver::Request::default()
        };
        redriver::handle(
            &running.redriver,
            &running.redriver_metrics,
            request,
            deadline,
        )
    };
    let reconcile = run_reconcile().await.expect("reconcile");
    let redriver::Report::Reconcile(reconcile) = reconcile else {
        unreachable!()
    };
    assert_eq!(reconcile.stats.stalled, 1, "{reconcile:#?}");
    assert_eq!(reconcile.stats.reconciled, 1);
    assert_eq!(
        reconcile.actions[0].stall,
        claimcheck::repair::Stall::LostEvent
    );

    wait_until("every payload done", Duration::from_secs(300), || async {
        let done = count(&ledger, Status::Done).await;
        let queued = aws.approximate_count(&running.stack.queue_url).await;
        let parked = aws.approximate_count(&running.stack.dlq_url).await;
        if done == n && queued == 0 && parked == 0 {
            Ok(())
        } else {
            Err(format!(
                "done {done}/{n}, work queue {queued}, DLQ {parked}"
            ))
        }
    })
    .await;

    // Exactly once: each payload's side effect happened once, however often it was delivered.
    let effects = processor.side_effects.lock().expect("lock").clone();
    assert_eq!(effects.len(), n);
    for id in &ids {
        assert_eq!(effects.get(id), Some(&1), "payload {id}");
    }
    // No orphaned objects: every object belongs to a payload (all kept for the lifecycle rule).
    let keys: HashSet<String> = aws.keys(&running.stack.bucket).await.into_iter().collect();
    let expected: HashSet<String> = ids.iter().map(|id| format!("uploads/{id}")).collect();
    assert_eq!(keys, expected);
    // A second reconcile has nothing to do.
    let again = run_reconcile().await.expect("reconcile");
    let redriver::Report::Reconcile(again) = again else {
        unreachable!()
    };
    assert_eq!(again.stats.stalled, 0);
    println!(
        "{n} payloads done exactly once in {:.1} s: {} transient failures injected, {} events duplicated, 1 lost, {} parked and redriven",
        started.elapsed().as_secs_f64(),
        processor.transient.load(Ordering::SeqCst),
        duplicated.load(Ordering::SeqCst),
        dead
    );
    running.stop();
}

/// Payloads 1, n/3 + 1 and 2n/3 + 1 are poison.
fn is_poison(i: usize, n: usize) -> bool {
    let stride = (n / POISONED).max(2);
    i % stride == 1 && i / stride < POISONED
}

fn base64_sha(body: &str) -> String {
    testkit::sha256_base64(body.as_bytes())
}
