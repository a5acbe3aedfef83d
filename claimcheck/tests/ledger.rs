//! The payload ledger against the local endpoint's DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use claimcheck::PayloadPointer;
use claimcheck::ledger::{Changes, Created, Ledger, NewPayload, Status, Transition};
use testkit::endpoint;

fn payload(id: &str) -> NewPayload {
    NewPayload {
        id: id.into(),
        object: PayloadPointer::new("bucket", format!("uploads/{id}")),
        size: 42,
        content_type: "text/csv".into(),
        sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
        metadata: HashMap::from([("team".into(), "data".into())]),
        url_expires_at: 1_000,
        owner: None,
        quota_key: None,
        multipart: None,
    }
}

/// A ledger whose clock the test moves.
fn with_clock(ledger: Ledger) -> (Ledger, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(1_764_000_000_000));
    let clock = now.clone();
    (
        ledger.with_clock(Arc::new(move || clock.load(Ordering::SeqCst))),
        now,
    )
}

fn applied(t: Transition) -> claimcheck::ledger::PayloadRecord {
    match t {
        Transition::Applied(r) => *r,
        Transition::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

#[tokio::test]
async fn pending_is_created_once_and_read_back() {
    let aws = endpoint().await;
    let ledger = aws.ledger().await;
    assert_eq!(
        ledger.create_pending(&payload("p1")).await.expect("create"),
        Created::Created
    );
    assert_eq!(
        ledger.create_pending(&payload("p1")).await.expect("again"),
        Created::AlreadyExists
    );
    let record = ledger.get("p1").await.expect("get").expect("exists");
    assert_eq!(record.status, Status::Pending);
    assert_eq!(record.object, PayloadPointer::new("bucket", "uploads/p1"));
    assert_eq!(
        (record.size, record.content_type.as_deref()),
        (42, Some("text/csv"))
    );
    assert_eq!(
        record.metadata.get("team").map(String::as_str),
        Some("data")
    );
    assert_eq!(record.url_expires_at, Some(1_000));
    assert_eq!(ledger.get("unknown").await.expect("get"), None);
}

#[tokio::test]
async fn transitions_are_conditional_and_losers_see_the_winner() {
    let aws = endpoint().await;
    let ledger = aws.ledger().await;
    ledger.create_pending(&payload("p2")).await.expect("create");
    let changes = Changes {
        message_id: Some("m-1".into()),
        e_tag: Some("\"etag\"".into()),
        ..Changes::default()
    };
    let queued = applied(
        ledger
            .transition("p2", &[Status::Pending], Status::Queued, &changes)
            .await
            .expect("t"),
    );
    assert_eq!(
        (queued.status, queued.message_id.as_deref()),
        (Status::Queued, Some("m-1"))
    );
    match ledger
        .transition(
            "p2",
            &[Status::Pending],
            Status::Queued,
            &Changes::default(),
        )
        .await
        .expect("t")
    {
        Transition::Rejected(Some(current)) => assert_eq!(current.status, Status::Queued),
        other => panic!("{other:?}"),
    }
    let missing = ledger
        .transition(
            "nope",
            &[Status::Pending],
            Status::Queued,
            &Changes::default(),
        )
        .await;
    assert_eq!(missing.expect("t"), Transition::Rejected(None));
}

#[tokio::test]
async fn racing_writers_resolve_to_exactly_one_winner() {
    let aws = endpoint().await;
    let ledger = aws.ledger().await;
    ledger
        .create_pending(&payload("race"))
        .await
        .expect("create");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let changes = Changes {
                    message_id: Some(format!("writer-{i}")),
                    ..Changes::default()
                };
                ledger
                    .transition("race", &[Status::Pending], Status::Queued, &changes)
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if let Transition::Applied(_) = task.await.expect("join").expect("transition") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn a_lease_is_taken_over_only_after_it_expires() {
    let aws = endpoint().await;
    let (ledger, now) = with_clock(aws.ledger().await);
    ledger
        .create_pending(&payload("lease"))
        .await
        .expect("create");
    applied(
        ledger
            .transition(
                "lease",
                &[Status::Pending],
                Status::Queued,
                &Changes::default(),
            )
            .await
            .expect("t"),
    );
    let first = applied(
        ledger
            .claim("lease", "worker-a", Duration::from_secs(60), "")
            .await
            .expect("claim"),
    );
    assert_eq!(
        (first.status, first.attempts, first.lease_owner.as_deref()),
        (Status::Processing, 1, Some("worker-a"))
    );

    now.fetch_add(59_000, Ordering::SeqCst);
    match ledger
        .claim("lease", "worker-b", Duration::from_secs(60), "")
        .await
        .expect("claim")
    {
        Transition::Rejected(Some(current)) => {
            assert_eq!(current.lease_owner.as_deref(), Some("worker-a"))
        }
        other => panic!("taken over before expiry: {other:?}"),
    }
    now.fetch_add(2_000, Ordering::SeqCst);
    let second = applied(
        ledger
            .claim("lease", "worker-b", Duration::from_secs(60), "")
            .await
            .expect("claim"),
    );
    assert_eq!(
        (second.attempts, second.lease_owner.as_deref()),
        (2, Some("worker-b"))
    );

    let done = Changes {
        release_lease: true,
        ..Changes::default()
    };
    let done = applied(
        ledger
            .transition("lease", &[Status::Processing], Status::Done, &done)
            .await
            .expect("t"),
    );
    assert_eq!(
        (done.status, done.lease_owner, done.lease_expires_at),
        (Status::Done, None, None)
    );
    assert!(matches!(
        ledger
            .claim("lease", "worker-c", Duration::from_secs(60), "")
            .await,
        Ok(Transition::Rejected(_))
    ));
}

#[tokio::test]
async fn payloads_are_listed_by_state_page_by_page() {
    let aws = endpoint().await;
    let (ledger, now) = with_clock(aws.ledger().await);
    for i in 0..5 {
        ledger
            .create_pending(&payload(&format!("list-{i}")))
            .await
            .expect("create");
        now.fetch_add(1_000, Ordering::SeqCst);
    }
    applied(
        ledger
            .transition(
                "list-4",
                &[Status::Pending],
                Status::Queued,
                &Changes::default(),
            )
            .await
            .expect("t"),
    );
    // Every page of every shard: oldest first within a shard, so compared as sets.
    let listed = |status: Status, before: i64| {
        let ledger = ledger.clone();
        async move {
            let mut seen = Vec::new();
            let mut token = None;
            let mut pages = 0;
            loop {
                let page = ledger
                    .list_by_status(status, before, 2, token)
                    .await
                    .expect("list");
                pages += 1;
                assert!(page.records.len() <= 2);
                assert!(page.records.is_sorted_by_key(|r| r.updated_at));
                seen.extend(page.records.into_iter().map(|r| r.id));
                match page.next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            assert!(pages >= usize::from(claimcheck::ledger::STATUS_SHARDS));
            seen.sort();
            seen
        }
    };
    assert_eq!(
        listed(Status::Pending, ledger.now()).await,
        ["list-0", "list-1", "list-2", "list-3"],
        "the queued one excluded"
    );
    assert_eq!(listed(Status::Queued, ledger.now()).await, ["list-4"]);
    assert_eq!(
        listed(Status::Pending, ledger.now() - 3_500).await,
        ["list-0", "list-1"],
        "only those changed before the cut-off"
    );

    // Sparse: a done payload leaves the index (its item loses the key), and asking for done
    // payloads lists none.
    applied(
        ledger
            .transition(
                "list-4",
                &[Status::Queued],
                Status::Done,
                &Changes::default(),
            )
            .await
            .expect("t"),
    );
    let item = aws_sdk_dynamodb::Client::new(&aws.config)
        .get_item()
        .table_name(ledger.table())
        .key("id", AttributeValue::S("list-4".into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert!(!item.contains_key("status_shard"), "{item:?}");
    assert!(listed(Status::Queued, ledger.now()).await.is_empty());
    let done = ledger
        .list_by_status(Status::Done, ledger.now(), 10, None)
        .await
        .expect("list");
    assert!(done.records.is_empty() && done.next.is_none());
}

/// Ids spread evenly over the status index's shards, and each state keeps its own keys.
#[test]
fn status_shards_spread_ids_evenly() {
    use claimcheck::ledger::{STATUS_SHARDS, status_shard};
    let mut per_shard = std::collections::HashMap::new();
    for _ in 0..3200 {
        let id = uuid::Uuid::new_v4().to_string();
        let key = status_shard(Status::Queued, &id).expect("listed");
        assert!(key.starts_with("queued#"), "{key}");
        assert_eq!(
            status_shard(Status::Queued, &id),
            Some(key.clone()),
            "stable"
        );
        *per_shard.entry(key).or_insert(0u32) += 1;
    }
    assert_eq!(per_shard.len(), usize::from(STATUS_SHARDS));
    // 200 expected per shard; a shard under 100 or over 300 would be a broken hash.
    assert!(
        per_shard.values().all(|n| (100..300).contains(n)),
        "{per_shard:?}"
    );
    assert_eq!(status_shard(Status::Done, "x"), None);
    assert_eq!(status_shard(Status::Expired, "x"), None);
    assert!(status_shard(Status::Quarantined, "x").is_some());
}

/// The local endpoint, like DynamoDB within its deletion window, still returns items past
/// their TTL; the ledger filters them out itself.
#[tokio::test]
async fn items_past_their_ttl_are_not_returned() {
    let aws = endpoint().await;
    let (ledger, now) = with_clock(aws.ledger().await.with_retention(Duration::from_secs(60)));
    ledger
        .create_pending(&payload("ttl"))
        .await
        .expect("create");
    assert!(ledger.get("ttl").await.expect("get").is_some());
    now.fetch_add(61_000, Ordering::SeqCst);
    assert_eq!(ledger.get("ttl").await.expect("get"), None);
    let listed = ledger
        .list_by_status(Status::Pending, ledger.now(), 10, None)
        .await
        .expect("list");
    assert!(listed.records.is_empty());
}

/// What a model-based run does next: a step of the state machine, or time passing beyond a
/// consumer's lease (a crashed consumer).
#[derive(Debug, Clone, Copy)]
enum Action {
    Take(claimcheck::ledger::Step),
    LeaseExpires,
}

/// The model: where the payload is, and whether a consumer's lease on it is still running.
struct Model {
    status: Status,
    lease_live: bool,
}

const LEASE: Duration = Duration::from_secs(60);

/// Applies `actions` to a fresh payload in the real ledger (the local endpoint) and to the
/// model, checking after every one that the ledger took exactly the steps the state machine
/// allows from where the model says the payload is, and ended where the model says.
async fn follow(
    ledger: &Ledger,
    clock: &AtomicI64,
    actions: &[Action],
) -> Result<(), proptest::test_runner::TestCaseError> {
    use claimcheck::ledger::Step;
    use proptest::prop_assert_eq;
    let id = uuid::Uuid::new_v4().to_string();
    ledger.create_pending(&payload(&id)).await.expect("create");
    let mut model = Model {
        status: Status::Pending,
        lease_live: false,
    };
    for action in actions {
        let (result, allowed, target) = match *action {
            Action::LeaseExpires => {
                clock.fetch_add(LEASE.as_millis() as i64 + 1, Ordering::SeqCst);
                model.lease_live = false;
                continue;
            }
            Action::Take(Step::Claim) => {
                let expired = model.status == Status::Processing && !model.lease_live;
                (
                    ledger.claim(&id, "consumer", LEASE, "").await,
                    Step::Claim.from().contains(&model.status) || expired,
                    Status::Processing,
                )
            }
            Action::Take(Step::ReleaseLease) => (
                ledger.release_expired_lease(&id).await,
                model.status == Status::Processing && !model.lease_live,
                Status::Failed,
            ),
            Action::Take(step) => (
                ledger.step(&id, step, &Changes::default()).await,
                step.from().contains(&model.status),
                step.to(),
            ),
        };
        let was_final = model.status.is_final();
        match result.expect("ledger call") {
            Transition::Applied(record) => {
                prop_assert_eq!(
                    (allowed, was_final),
                    (true, false),
                    "{:?} from {:?}",
                    action,
                    model.status
                );
                prop_assert_eq!(record.status, target);
                if matches!(action, Action::Take(Step::Claim)) {
                    model.lease_live = true;
                }
                model.status = target;
            }
            Transition::Rejected(current) => {
                prop_assert_eq!(
                    allowed,
                    false,
                    "{:?} from {:?} was refused",
                    action,
                    model.status
                );
                let current = current.map(|r| r.status);
                prop_assert_eq!(
                    current,
                    Some(model.status),
                    "a refused step changed nothing"
                );
            }
        }
    }
    Ok(())
}

/// The state machine (`Step`) against the real ledger: random sequences of every step —
/// duplicates, late and out-of-order deliveries, crashed consumers whose leases run out —
/// each taken exactly when the table allows it, refused without a change otherwise, and never
/// out of `done`, `expired` or `quarantined`.
#[test]
fn the_ledger_takes_exactly_the_steps_of_the_state_machine() {
    use claimcheck::ledger::Step;
    use proptest::prelude::*;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (aws, ledger) = runtime.block_on(async {
        let aws = endpoint().await;
        let ledger = aws.ledger().await;
        (aws, ledger)
    });
    let (ledger, clock) = with_clock(ledger);
    let action = prop_oneof![
        6 => proptest::sample::select(Step::ALL.to_vec()).prop_map(Action::Take),
        1 => Just(Action::LeaseExpires),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    });
    let result = runner.run(&proptest::collection::vec(action, 1..16), |actions| {
        runtime.block_on(follow(&ledger, &clock, &actions))
    });
    drop(aws);
    if let Err(e) = result {
        panic!("{e}");
    }
}
