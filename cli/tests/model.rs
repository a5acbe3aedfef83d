//! The whole pipeline as a state machine under random interleavings (issue 15, case 8): the
//! real producer, consumer (through local mode's event source mapping) and redriver handlers
//! over the local endpoint, driven by random sequences of what production does to them —
//! S3 events delivered late, twice or never; SQS messages received more than once, lost
//! receipts and deliveries of stale copies; processors that fail transiently or for good;
//! invocations of any of the three functions that die between (or in the middle of) their
//! AWS calls; time passing beyond leases and stall thresholds; redrive and reconcile.
//!
//! After every step: no final state (`done`, `expired`, `quarantined`) is ever left, no side
//! effect repeated except where an invocation died after it, no payload object missing, and
//! every payload that is not final is in the status index reconcile and redrive read. After
//! every sequence, the repair loop operators run (reconcile, redrive, deliveries) brings every
//! payload to `done` with both queues empty: nothing lost, nothing stuck.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use aws_lambda_events::s3::S3Event;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use claimcheck::ledger::{Ledger, NewPayload, Status};
use claimcheck::pointer::PayloadPointer;
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor, VerifyingProcessor};
use claimcheck_cli::local::{self, LocalSettings, event_source};
use proptest::prelude::*;

/// What the processor does with the next payload it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Succeed,
    FailTransiently,
    FailForGood,
}

/// The processor: verifies the body as the default one does and counts its side effect (a
/// successful processing) per payload.
struct Counting {
    behaviour: Mutex<Behaviour>,
    effects: Mutex<HashMap<String, u32>>,
}

impl Processor for Counting {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        let behaviour = *self.behaviour.lock().expect("lock");
        match behaviour {
            Behaviour::FailTransiently => return Outcome::Retry("injected transient".into()),
            Behaviour::FailForGood => return Outcome::Permanent("injected poison".into()),
            Behaviour::Succeed => {}
        }
        let outcome = VerifyingProcessor.process(meta, body).await;
        if matches!(outcome, Outcome::Done { .. }) {
            let id = meta.id.clone().unwrap_or_default();
            *self.effects.lock().expect("lock").entry(id).or_default() += 1;
        }
        outcome
    }
}

/// One thing production does. Indices pick among what exists when the step runs (modulo).
#[derive(Debug, Clone)]
enum Action {
    /// A producer announces and uploads a new payload (its S3 event is not delivered yet).
    Upload,
    /// S3 delivers the event of payload `payload` (again, late, or for the first time).
    S3Event {
        payload: usize,
        dies_after: Option<u32>,
    },
    /// The event source receives up to `max` messages (visibility 0: they stay visible, so a
    /// later receive takes another copy of the same message).
    Receive {
        max: i32,
    },
    /// The consumer is invoked with up to `count` received copies, starting at `first`.
    Deliver {
        first: usize,
        count: usize,
        behaviour: Behaviour,
        dies_after: Option<u32>,
    },
    /// A received copy is never delivered (its invocation never happened).
    Forget {
        copy: usize,
    },
    /// Time passes beyond every lease (`long`: and beyond every stall threshold and URL).
    TimePasses {
        long: bool,
    },
    Reconcile {
        dies_after: Option<u32>,
    },
    Redrive {
        dies_after: Option<u32>,
    },
}

fn dies_after() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![1 => Just(None), 1 => (1u32..48).prop_map(Some)]
}

fn action() -> impl Strategy<Value = Action> {
    let behaviour = prop_oneof![
        4 => Just(Behaviour::Succeed),
        2 => Just(Behaviour::FailTransiently),
        1 => Just(Behaviour::FailForGood),
    ];
    prop_oneof![
        2 => Just(Action::Upload),
        3 => (0usize..64, dies_after())
            .prop_map(|(payload, dies_after)| Action::S3Event { payload, dies_after }),
        3 => (1i32..=4).prop_map(|max| Action::Receive { max }),
        4 => (0usize..64, 1usize..=3, behaviour, dies_after()).prop_map(
            |(first, count, behaviour, dies_after)| Action::Deliver { first, count, behaviour, dies_after }
        ),
        1 => (0usize..64).prop_map(|copy| Action::Forget { copy }),
        1 => any::<bool>().prop_map(|long| Action::TimePasses { long }),
        1 => dies_after().prop_map(|dies_after| Action::Reconcile { dies_after }),
        1 => dies_after().prop_map(|dies_after| Action::Redrive { dies_after }),
    ]
}

/// Runs `future` as an invocation that dies (is dropped, wherever it is: between AWS calls, or
/// with a request sent and its answer never read) after `polls` polls; `None` when it died.
async fn dying<F: Future>(polls: Option<u32>, future: F) -> Option<F::Output> {
    let Some(mut left) = polls else {
        return Some(future.await);
    };
    let mut future = pin!(future);
    std::future::poll_fn(|cx| {
        if left == 0 {
            return Poll::Ready(None);
        }
        left -= 1;
        future.as_mut().poll(cx).map(Some)
    })
    .await
}

struct World {
    aws: testkit::Endpoint,
    functions: local::Functions<Arc<Counting>>,
    processor: Arc<Counting>,
    ledger: Ledger,
    clock: Arc<AtomicI64>,
    settings: LocalSettings,
    bucket: String,
    queue_url: String,
    dlq_url: String,
    /// Each payload's id and S3 event.
    payloads: Vec<(String, S3Event)>,
    /// Received copies not yet delivered.
    held: Vec<Message>,
    /// How many times each payload's side effect may have happened: once, plus once for every
    /// invocation that died after the effect and before the ledger recorded `done`.
    allowed: HashMap<String, u32>,
    /// The final state each payload was seen in.
    finals: HashMap<String, Status>,
    /// Invocations (of any function) that died before they ended.
    deaths: usize,
}

impl World {
    async fn new(aws: testkit::Endpoint) -> Self {
        let mut settings =
            LocalSettings::from_defaults(&testkit::unique("model")).expect("defaults");
        // A payload goes back and forth between the queues as often as the sequence says.
        settings.max_redrives = 1_000;
        settings.pending_grace = Duration::ZERO;
        // A DLQ message hidden by a redrive that died comes back within the drain's pause.
        settings.redrive_visibility = Duration::from_secs(1);
        let stack = local::stack::provision(&aws.config, &settings.stack)
            .await
            .expect("stack");
        let processor = Arc::new(Counting {
            behaviour: Mutex::new(Behaviour::Succeed),
            effects: Mutex::new(HashMap::new()),
        });
        let mut functions =
            local::functions(&aws.config, &settings, &stack, processor.clone()).expect("functions");
        // One clock the test moves for every function's ledger: leases, stall thresholds and
        // URL expiry are the ledger's times.
        let clock = Arc::new(AtomicI64::new(1_764_000_000_000));
        let time = clock.clone();
        let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&aws.config), &stack.table)
            .with_clock(Arc::new(move || time.load(Ordering::SeqCst)));
        Arc::get_mut(&mut functions.consumer)
            .expect("unshared")
            .ledger = ledger.clone();
        let producer = Arc::get_mut(&mut functions.producer).expect("unshared");
        producer.admission = producer.admission.clone().with_ledger(ledger.clone());
        let redriver = Arc::get_mut(&mut functions.redriver).expect("unshared");
        *redriver = redriver.clone().with_ledger(ledger.clone());
        Self {
            aws,
            functions,
            processor,
            ledger,
            clock,
            settings,
            bucket: stack.bucket,
            queue_url: stack.queue_url,
            dlq_url: stack.dlq_url,
            payloads: Vec::new(),
            held: Vec::new(),
            allowed: HashMap::new(),
            finals: HashMap::new(),
            deaths: 0,
        }
    }

    async fn upload(&mut self) {
        let id = uuid::Uuid::new_v4().to_string();
        let key = format!("uploads/{id}");
        let body = format!("payload {id}\n").repeat(1 + self.payloads.len() % 7);
        self.ledger
            .create_pending(&NewPayload {
                id: id.clone(),
                object: PayloadPointer::new(&self.bucket, &key),
                size: body.len() as u64,
                content_type: "text/plain".into(),
                sha256: None,
                metadata: HashMap::new(),
                url_expires_at: self.ledger.now() + 60_000,
                owner: None,
                quota_key: None,
                multipart: None,
            })
            .await
            .expect("announce");
        self.aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("text/plain")
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .expect("upload");
        let event =
            testkit::s3_event_json(&self.bucket, &key.replace('/', "%2F"), body.len() as u64);
        let event: S3Event = serde_json::from_str(&event).expect("S3 event");
        self.allowed.insert(id.clone(), 1);
        self.payloads.push((id, event));
    }

    async fn receive(&mut self, max: i32, visibility: i32) -> Vec<Message> {
        self.aws
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .visibility_timeout(visibility)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default()
    }

    /// Invokes the consumer on `batch` as the event source mapping does; an invocation that
    /// dies after a side effect makes one more effect of that payload legitimate.
    async fn deliver(&mut self, batch: Vec<Message>, behaviour: Behaviour, dies: Option<u32>) {
        *self.processor.behaviour.lock().expect("lock") = behaviour;
        let before = self.processor.effects.lock().expect("lock").clone();
        let invoked = dying(
            dies,
            event_source::invoke(
                &self.functions.consumer,
                &self.aws.sqs,
                &self.functions.mapping,
                &batch,
                &local::call_log::CallLog::default(),
            ),
        )
        .await;
        if invoked.is_none() {
            self.deaths += 1;
            let after = self.processor.effects.lock().expect("lock").clone();
            for (id, count) in after {
                let rise = count - before.get(&id).copied().unwrap_or(0);
                *self.allowed.entry(id).or_default() += rise;
            }
        }
    }

    async fn repair(&mut self, mode: redriver::Mode, dies: Option<u32>) {
        let request = redriver::Request {
            mode,
            ..redriver::Request::default()
        };
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let ran = dying(
            dies,
            redriver::handle(
                &self.functions.redriver,
                &self.functions.redriver_metrics,
                request,
                deadline,
            ),
        )
        .await;
        self.deaths += usize::from(ran.is_none());
    }

    async fn apply(&mut self, action: &Action) {
        match *action {
            Action::Upload => self.upload().await,
            Action::S3Event {
                payload,
                dies_after,
            } => {
                if let Some((_, event)) = self.payloads.get(payload % self.payloads.len().max(1)) {
                    let event = event.clone();
                    let ran = dying(
                        dies_after,
                        producer::handle(&self.functions.producer, event),
                    )
                    .await;
                    self.deaths += usize::from(ran.is_none());
                }
            }
            Action::Receive { max } => {
                let received = self.receive(max, 0).await;
                self.held.extend(received);
            }
            Action::Deliver {
                first,
                count,
                behaviour,
                dies_after,
            } => {
                if self.held.is_empty() {
                    return;
                }
                let start = first % self.held.len();
                let end = (start + count).min(self.held.len());
                let batch: Vec<Message> = self.held.drain(start..end).collect();
                self.deliver(batch, behaviour, dies_after).await;
            }
            Action::Forget { copy } => {
                if !self.held.is_empty() {
                    let copy = copy % self.held.len();
                    self.held.remove(copy);
                }
            }
            Action::TimePasses { long } => {
                let past = if long {
                    self.settings.queued_stall.max(Duration::from_secs(3600))
                } else {
                    self.settings.lease
                };
                self.clock
                    .fetch_add(past.as_millis() as i64 + 1_000, Ordering::SeqCst);
            }
            Action::Reconcile { dies_after } => {
                self.repair(redriver::Mode::Reconcile, dies_after).await;
            }
            Action::Redrive { dies_after } => {
                self.repair(redriver::Mode::Redrive, dies_after).await;
            }
        }
    }

    async fn record(&self, id: &str) -> claimcheck::ledger::PayloadRecord {
        self.ledger
            .get(id)
            .await
            .expect("ledger")
            .expect("recorded")
    }

    /// The invariants that hold after every step.
    async fn check(&mut self, step: usize, action: &Action) -> Result<(), TestCaseError> {
        let effects = self.processor.effects.lock().expect("lock").clone();
        for (id, _) in &self.payloads {
            let record = self.record(id).await;
            if let Some(last) = self.finals.get(id) {
                prop_assert_eq!(
                    record.status,
                    *last,
                    "step {} ({:?}): payload {} left its final state",
                    step,
                    action,
                    id
                );
            } else if record.status.is_final() {
                self.finals.insert(id.clone(), record.status);
            }
            let effects = effects.get(id).copied().unwrap_or(0);
            let allowed = self.allowed.get(id).copied().unwrap_or(1);
            prop_assert!(
                effects <= allowed,
                "step {} ({:?}): payload {} processed {} times, {} allowed",
                step,
                action,
                id,
                effects,
                allowed
            );
            let object = self
                .aws
                .s3
                .head_object()
                .bucket(&self.bucket)
                .key(format!("uploads/{id}"))
                .send()
                .await;
            prop_assert!(
                object.is_ok(),
                "step {} ({:?}): payload {}'s object is gone while it is {}",
                step,
                action,
                id,
                record.status
            );
            if !record.status.is_final() {
                // Its entry in the status index, under its own shard's key: what reconcile and
                // `claimcheck failed` read.
                let shard = claimcheck::ledger::status_shard(record.status, id)
                    .expect("an open state is listed");
                let indexed = aws_sdk_dynamodb::Client::new(&self.aws.config)
                    .query()
                    .table_name(self.ledger.table())
                    .index_name(claimcheck::ledger::STATUS_INDEX)
                    .key_condition_expression("status_shard = :shard")
                    .expression_attribute_values(
                        ":shard",
                        aws_sdk_dynamodb::types::AttributeValue::S(shard),
                    )
                    .send()
                    .await
                    .expect("status index")
                    .items
                    .unwrap_or_default();
                prop_assert!(
                    indexed.iter().any(|item| item.get("id")
                        == Some(&aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))),
                    "step {} ({:?}): payload {} ({}) is missing from the status index",
                    step,
                    action,
                    id,
                    record.status
                );
            }
        }
        Ok(())
    }

    /// The operators' repair loop, with every function healthy: time passes beyond leases,
    /// stalls and URLs, reconcile and redrive run, and every visible message is delivered,
    /// until every payload is done and both queues are empty.
    async fn drain(&mut self) -> Result<(), TestCaseError> {
        self.held.clear();
        let mut state = String::new();
        for round in 1..=12 {
            self.apply(&Action::TimePasses { long: true }).await;
            self.repair(redriver::Mode::Reconcile, None).await;
            self.repair(redriver::Mode::Redrive, None).await;
            loop {
                let batch = self.receive(10, 30).await;
                if batch.is_empty() {
                    break;
                }
                self.deliver(batch, Behaviour::Succeed, None).await;
            }
            let mut stuck = Vec::new();
            let mut redriven = 0;
            for (id, _) in &self.payloads {
                let record = self.record(id).await;
                redriven += usize::from(record.redrives > 0);
                if record.status != Status::Done {
                    stuck.push(format!("{id}: {}", record.status));
                }
            }
            let queued = self.aws.approximate_count(&self.queue_url).await;
            let parked = self.aws.approximate_count(&self.dlq_url).await;
            if stuck.is_empty() && queued == 0 && parked == 0 {
                println!(
                    "{} payloads done after {round} repair rounds; {} invocations died, {redriven} payloads redriven from the DLQ",
                    self.payloads.len(),
                    self.deaths
                );
                let effects = self.processor.effects.lock().expect("lock").clone();
                for (id, _) in &self.payloads {
                    let effects = effects.get(id).copied().unwrap_or(0);
                    let allowed = self.allowed.get(id).copied().unwrap_or(1);
                    prop_assert!(
                        (1..=allowed).contains(&effects),
                        "payload {} processed {} times, {} allowed",
                        id,
                        effects,
                        allowed
                    );
                }
                return Ok(());
            }
            state = format!("not done: {stuck:?}; work queue {queued}, DLQ {parked}");
            // Messages a dying redrive left hidden in the DLQ come back after its visibility.
            tokio::time::sleep(self.settings_redrive_visibility()).await;
        }
        Err(TestCaseError::fail(format!(
            "the repair loop did not finish the pipeline: {state}"
        )))
    }

    fn settings_redrive_visibility(&self) -> Duration {
        self.functions.redriver.settings().visibility
    }
}

/// Random interleavings of every fault the pipeline meets, against the real handlers on the
/// local endpoint; the invariants are checked after every step and the repair loop must finish
/// every payload afterwards. (Whether an invocation dies between two AWS calls or with a
/// request in flight depends on the endpoint's timing, so a failing sequence may not shrink
/// reproducibly: the failure names the step and the payload.)
#[test]
fn every_interleaving_of_faults_ends_with_every_payload_done_once() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Ten sequences in `make test` (about 40 s); CLAIMCHECK_MODEL_CASES for a longer hunt.
    let cases = std::env::var("CLAIMCHECK_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 0,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    // Every sequence starts with two uploads, so its first steps have payloads to act on.
    let sequences = proptest::collection::vec(action(), 10..40).prop_map(|actions| {
        let mut all = vec![Action::Upload, Action::Upload];
        all.extend(actions);
        all
    });
    let deaths = std::cell::Cell::new(0);
    let result = runner.run(&sequences, |actions| {
        runtime.block_on(async {
            let mut world = World::new(testkit::endpoint().await).await;
            for (step, action) in actions.iter().enumerate() {
                world.apply(action).await;
                world.check(step, action).await?;
            }
            deaths.set(deaths.get() + world.deaths);
            world.drain().await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The sequences did what they are for: invocations died along the way.
    assert!(deaths.get() > 0, "no invocation died in {cases} sequences");
}
