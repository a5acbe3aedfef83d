//! The payload ledger: one DynamoDB item per payload, keyed by its id, so an operator can see
//! where every payload is and every step can deduplicate on it.
//!
//! States (see design.md): `pending` (upload URL issued) → `queued` (pointer message sent) →
//! `processing` (leased by a consumer) → `done`; `failed` (will retry), `dead` (in the DLQ),
//! `redriven`, `expired` (URL expired with no upload), `quarantined` (the upload did not match
//! what was announced). Every state change is a conditional write: of two writers racing on
//! one payload exactly one wins, and the loser gets [`Transition::Rejected`] with the item as
//! it is, an outcome to act on rather than an error to retry.
//!
//! Items carry a TTL attribute (`expires_at`, epoch seconds). DynamoDB deletes expired items
//! lazily (within days, and the local endpoint never does), so reads filter them out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

mod expression;
mod record;
#[cfg(feature = "provision")]
mod table;

pub use crate::status::{Status, Step};
pub use record::{Changes, MultipartUpload, NewPayload, PayloadRecord};

use crate::sdk_error::SdkFailure;
use expression::{Update, n, placeholders, s};
use record::{LedgerItem, decode};

/// The index that lists payloads by state: partition key `status_shard`
/// ([`status_shard`]: the state and one of [`STATUS_SHARDS`] shards of the id), sort key
/// `updated_at`, keys only.
///
/// Sparse: `done` and `expired` payloads — almost every item, once the pipeline has run a
/// while — are not in it (their writes remove `status_shard`), so it holds the payloads an
/// operator or the redriver may act on, and a payload's last write costs the index a delete
/// only. Sharded: a partition per state would take every write of that state (the hot key
/// DynamoDB's guidance warns of: one partition's write limit, shared by all payloads passing
/// through `queued`); spread over 16, it scales 16-fold. Keys only: an index entry is a few
/// dozen bytes, and a listing reads the current items from the table (consistent reads), never
/// an index copy that may lag.
pub const STATUS_INDEX: &str = "status_shard-updated_at-index";
/// Shards per state in [`STATUS_INDEX`]: a listing of one state reads this many partitions.
pub const STATUS_SHARDS: u8 = 16;
/// The sparse index of `pending` payloads by whom they count against (attribute
/// `pending_owner`, set only while `pending`), for the per-caller cap on upload URLs. Keys
/// only, plus `url_expires_at`: a narrow projection, written once when a payload is announced
/// and deleted when it leaves `pending`.
pub const PENDING_INDEX: &str = "pending_owner-created_at-index";
/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Items read per page by the operations that list the ledger (native redrive, reconcile,
/// `claimcheck failed`).
pub const PAGE_SIZE: i32 = 100;
/// The most keys one `BatchGetItem` may ask for (DynamoDB's limit): the largest page.
pub const BATCH_GET_LIMIT: i32 = 100;
/// How long an item is kept after its last change, unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

type Item = HashMap<String, AttributeValue>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The outcome of a conditional state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The change was made; the item as it is now.
    Applied(Box<PayloadRecord>),
    /// Another writer got there first, or the payload is not in an allowed state: the item as
    /// it is (`None` when the ledger has no such payload).
    Rejected(Option<Box<PayloadRecord>>),
}

impl Transition {
    /// Whether the change was made.
    pub fn is_applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// Whether a payload was newly recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The payload was recorded as `pending`.
    Created,
    /// An item with this id exists already.
    AlreadyExists,
}

/// A page of payloads in one state.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The page's payloads, oldest change first. Items past their TTL are dropped, so a page
    /// may hold fewer than asked for (even none) and still have a next one.
    pub records: Vec<PayloadRecord>,
    /// Pass back to get the next page; `None` after the last.
    pub next: Option<PageToken>,
}

/// Where the next page starts (opaque): a shard of the status index, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageToken {
    shard: u8,
    start: Option<Item>,
}

/// Whether a payload in `status` is in [`STATUS_INDEX`]: every state but `done` and `expired`
/// (the ends nobody acts on; `quarantined`, final too, stays listable for its operators).
pub fn is_listed(status: Status) -> bool {
    !matches!(status, Status::Done | Status::Expired)
}

/// The status index's partition key for payload `id` in `status`: `"<status>#<shard>"`, the
/// shard the first byte of the id's SHA-256 modulo [`STATUS_SHARDS`] (so any id, not only a
/// UUID, spreads evenly); `None` for a state the index leaves out ([`is_listed`]).
pub fn status_shard(status: Status, id: &str) -> Option<String> {
    use sha2::Digest;
    is_listed(status).then(|| {
        let shard = sha2::Sha256::digest(id.as_bytes())[0] % STATUS_SHARDS;
        shard_key(status, shard)
    })
}

fn shard_key(status: Status, shard: u8) -> String {
    format!("{}#{shard:02}", status.as_str())
}

/// Why a ledger operation failed. A lost conditional write (DynamoDB's
/// `ConditionalCheckFailedException`) is not an error: it is [`Transition::Rejected`] or
/// [`Created::AlreadyExists`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A DynamoDB call failed (after the SDK's own retries), or its request could not be built.
    #[error("DynamoDB {operation} failed: {message}")]
    Dynamo {
        /// The DynamoDB operation, e.g. `UpdateItem`.
        operation: &'static str,
        /// The service's error message, or the best description available.
        message: String,
        /// Whether a later attempt may succeed (throttling, 5xx, timeouts); see
        /// [`SdkFailure`].
        transient: bool,
        /// The underlying SDK error.
        #[source]
        source: BoxError,
    },
    /// An item is not a readable payload record: an attribute is missing or of the wrong type,
    /// or the status is unknown.
    #[error("ledger item {id:?} is unreadable: {problem}")]
    Corrupt {
        /// The item's id (empty when that is missing too).
        id: String,
        /// What is wrong with the item.
        problem: String,
    },
}

impl LedgerError {
    /// Whether the failure may pass on a later attempt: a transient DynamoDB error. A corrupt
    /// item never does.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Dynamo {
                transient: true,
                ..
            }
        )
    }

    fn dynamo<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let failure = SdkFailure::of(&err);
        Self::Dynamo {
            operation,
            message: failure.message,
            transient: failure.transient,
            source: Box::new(err),
        }
    }
}

/// Milliseconds since the epoch; replaceable in tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The real clock: [`SystemTime::now`] in epoch milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    })
}

/// The ledger table.
#[derive(Clone)]
pub struct Ledger {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    retention: Duration,
    clock: Clock,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// A ledger on the DynamoDB table `table`, with [`DEFAULT_RETENTION`] and the system clock.
    pub fn new(ddb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            ddb,
            table: table.into(),
            retention: DEFAULT_RETENTION,
            clock: system_clock(),
        }
    }

    /// Sets how long an item is kept after its last change: every write sets the TTL attribute
    /// (`expires_at`, epoch seconds) to the write time plus `retention`.
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    /// Replaces the clock that stamps writes and decides which items have expired (for tests).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The time by the ledger's clock, epoch milliseconds.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn expires_at(&self, now: i64) -> i64 {
        now / 1000 + self.retention.as_secs() as i64
    }

    /// Records a newly announced payload as `pending`, unless its id exists already.
    pub async fn create_pending(&self, payload: &NewPayload) -> Result<Created, LedgerError> {
        let now = self.now();
        let item = LedgerItem::pending(payload, now, self.expires_at(now)).to_item()?;
        let put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Created::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Created::AlreadyExists)
            }
            Err(e) => Err(LedgerError::dynamo("PutItem", e)),
        }
    }

    /// The payload, unless unknown or past its TTL.
    pub async fn get(&self, id: &str) -> Result<Option<PayloadRecord>, LedgerError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LedgerError::dynamo("GetItem", e))?;
        let now = self.now();
        out.item
            .map(decode)
            .transpose()
            .map(|r| r.filter(|r| self.live(r, now)))
    }

    fn live(&self, record: &PayloadRecord, now: i64) -> bool {
        self.live_since(record.updated_at, now)
    }

    /// Whether an item last changed at `updated_at` (epoch ms) is within its retention at
    /// `now`: what every read judges by.
    fn live_since(&self, updated_at: i64, now: i64) -> bool {
        self.expires_at(updated_at) * 1000 > now
    }

    /// Takes `step` of the pipeline's state machine ([`Step`]: its source states and target
    /// defined once), with `changes`, if and only if the payload is in one of the step's source
    /// states now.
    pub async fn step(
        &self,
        id: &str,
        step: Step,
        changes: &Changes,
    ) -> Result<Transition, LedgerError> {
        self.transition(id, step.from(), step.to(), changes).await
    }

    /// Moves a payload from one of `from` to `to`, with `changes`, if and only if it is in one
    /// of `from` now (an empty `from`: from any state). The pipeline's own changes go through
    /// [`Ledger::step`]; this is for tools and tests that set a payload's state directly.
    pub async fn transition(
        &self,
        id: &str,
        from: &[Status],
        to: Status,
        changes: &Changes,
    ) -> Result<Transition, LedgerError> {
        let mut condition = format!("#status IN ({})", placeholders("from", from.len()));
        if from.is_empty() {
            condition = "attribute_exists(id)".into();
        }
        self.update(id, &condition, from, to, changes, &[]).await
    }

    /// Leases a payload for processing: from `queued`, `failed` or `redriven`, or from
    /// `processing` whose lease has expired (the holder crashed). Counts an attempt, and
    /// records `message_id`, the SQS message that delivered it (none when empty): the producer
    /// does not record the id it sent, which would take a write of its own.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        lease: Duration,
        message_id: &str,
    ) -> Result<Transition, LedgerError> {
        let now = self.now();
        let claimable = Step::Claim.from();
        let condition = format!(
            "#status IN ({}) OR (#status = :processing AND lease_expires_at < :now)",
            placeholders("from", claimable.len())
        );
        let changes = Changes {
            lease: Some((owner.to_owned(), now + lease.as_millis() as i64)),
            count_attempt: true,
            message_id: (!message_id.is_empty()).then(|| message_id.to_owned()),
            ..Changes::default()
        };
        let extra = [
            (":processing", s(Status::Processing.as_str())),
            (":now", n(now)),
        ];
        self.update(
            id,
            &condition,
            claimable,
            Step::Claim.to(),
            &changes,
            &extra,
        )
        .await
    }

    /// Rewrites a payload in `status` with `changes` only if nobody changed it since
    /// `updated_at` (optimistic concurrency: of two racing writers exactly one wins).
    pub async fn update_if_unchanged(
        &self,
        id: &str,
        status: Status,
        updated_at: i64,
        changes: &Changes,
    ) -> Result<Transition, LedgerError> {
        let extra = [(":seen", n(updated_at))];
        self.update(
            id,
            "#status IN (:from0) AND updated_at = :seen",
            &[status],
            status,
            changes,
            &extra,
        )
        .await
    }

    /// Returns a payload whose lease has expired (its consumer crashed or timed out) from
    /// `processing` to `failed`, so the ledger no longer claims someone is working on it. Any
    /// consumer may claim it again from there.
    pub async fn release_expired_lease(&self, id: &str) -> Result<Transition, LedgerError> {
        let changes = Changes {
            last_error: Some("the lease expired: the consumer crashed or timed out".into()),
            release_lease: true,
            ..Changes::default()
        };
        let extra = [(":now", n(self.now()))];
        self.update(
            id,
            "#status IN (:from0) AND lease_expires_at < :now",
            Step::ReleaseLease.from(),
            Step::ReleaseLease.to(),
            &changes,
            &extra,
        )
        .await
    }

    async fn update(
        &self,
        id: &str,
        condition: &str,
        from: &[Status],
        to: Status,
        changes: &Changes,
        extra_values: &[(&str, AttributeValue)],
    ) -> Result<Transition, LedgerError> {
        let now = self.now();
        let update =
            Update::new(id, to, from, changes, now, self.expires_at(now)).with_values(extra_values);
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(update.expression)
            .condition_expression(format!("attribute_exists(id) AND ({condition})"))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Transition::Applied(Box::new(decode(item)?)))
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                )) => {
                    let current = match &failed.item {
                        Some(item) => Some(decode(item.clone())?),
                        // Older endpoints do not return the item: read it.
                        None => self.get(id).await?,
                    };
                    Ok(Transition::Rejected(current.map(Box::new)))
                }
                _ => Err(LedgerError::dynamo("UpdateItem", e)),
            },
        }
    }

    /// Payloads in `status` whose last change is at or before `changed_before` (epoch ms), up
    /// to `limit` (1–100) per page; `start` is the previous page's `next`.
    ///
    /// Reads [`STATUS_INDEX`] shard by shard (oldest change first within a shard, so across a
    /// listing only roughly oldest first), then the items themselves with one consistent
    /// `BatchGetItem` per page: a payload that moved on since the index saw it is left out.
    /// `done` and `expired` payloads are not listed ([`is_listed`]): asked for, the answer is
    /// an empty page.
    pub async fn list_by_status(
        &self,
        status: Status,
        changed_before: i64,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page, LedgerError> {
        if !is_listed(status) {
            return Ok(Page::default());
        }
        let token = start.unwrap_or(PageToken {
            shard: 0,
            start: None,
        });
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("status_shard = :shard AND updated_at <= :before")
            .expression_attribute_values(":shard", s(shard_key(status, token.shard)))
            .expression_attribute_values(":before", n(changed_before))
            .limit(limit.clamp(1, BATCH_GET_LIMIT))
            .set_exclusive_start_key(token.start)
            .send()
            .await
            .map_err(|e| LedgerError::dynamo("Query", e))?;
        let next = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(key) => Some(PageToken {
                shard: token.shard,
                start: Some(key),
            }),
            None if token.shard + 1 < STATUS_SHARDS => Some(PageToken {
                shard: token.shard + 1,
                start: None,
            }),
            None => None,
        };
        let ids: Vec<String> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|mut key| match key.remove("id") {
                Some(AttributeValue::S(id)) => Some(id),
                _ => None,
            })
            .collect();
        let now = self.now();
        let mut records: Vec<PayloadRecord> = self
            .get_many(&ids)
            .await?
            .into_iter()
            .filter(|r| r.status == status && r.updated_at <= changed_before && self.live(r, now))
            .collect();
        records.sort_by_key(|r| r.updated_at);
        Ok(Page { records, next })
    }

    /// Every payload in `status` changed at or before `changed_before` (epoch ms), up to
    /// `max`: [`Ledger::list_by_status`] page after page, over every shard.
    pub async fn list_every(
        &self,
        status: Status,
        changed_before: i64,
        max: usize,
    ) -> Result<Vec<PayloadRecord>, LedgerError> {
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < max {
            let room = (max - found.len()).min(PAGE_SIZE as usize) as i32;
            let page = self
                .list_by_status(status, changed_before, room, start)
                .await?;
            found.extend(page.records);
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        found.truncate(max);
        Ok(found)
    }

    /// How many live payloads the ledger holds in each state (states with none left out).
    ///
    /// A `Scan` of the whole table reading only each item's status and TTL: it costs read
    /// capacity for every item (0.5 read unit per 4 KiB read, eventually consistent), so it
    /// is for operators' occasional questions and local mode, not for a schedule; a deployed
    /// stack's dashboard shows the flows without reading the table.
    pub async fn count_by_status(
        &self,
    ) -> Result<std::collections::BTreeMap<&'static str, u64>, LedgerError> {
        let mut counts = std::collections::BTreeMap::new();
        let mut start = None;
        let now = self.now();
        loop {
            let out = self
                .ddb
                .scan()
                .table_name(&self.table)
                .projection_expression("#status, updated_at")
                .expression_attribute_names("#status", "status")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| LedgerError::dynamo("Scan", e))?;
            for item in out.items.unwrap_or_default() {
                // Past its retention, as the other reads judge it.
                let expired = match item.get("updated_at") {
                    Some(AttributeValue::N(at)) => {
                        at.parse::<i64>().is_ok_and(|at| !self.live_since(at, now))
                    }
                    _ => false,
                };
                let status = match item.get("status") {
                    Some(AttributeValue::S(name)) => Status::parse(name),
                    _ => None,
                };
                if let (false, Some(status)) = (expired, status) {
                    *counts.entry(status.as_str()).or_insert(0) += 1;
                }
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(counts);
            }
        }
    }

    /// The items of `ids` (at most [`BATCH_GET_LIMIT`]), read consistently with
    /// `BatchGetItem`; unknown ids are left out. Keys DynamoDB leaves unprocessed (under
    /// throttling: a partial success, not an error the SDK retries) are asked for again after
    /// a growing pause, as AWS's BatchGetItem documentation advises; still unprocessed after the
    /// last attempt, the read fails as transient.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<PayloadRecord>, LedgerError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        const ATTEMPTS: u32 = 5;
        let mut records = Vec::with_capacity(ids.len());
        let mut keys: Vec<Item> = ids
            .iter()
            .map(|id| Item::from([("id".to_owned(), s(id))]))
            .collect();
        for attempt in 0..ATTEMPTS {
            if keys.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| LedgerError::Dynamo {
                    operation: "BatchGetItem",
                    message: e.to_string(),
                    transient: false,
                    source: Box::new(e),
                })?;
            let out = self
                .ddb
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| LedgerError::dynamo("BatchGetItem", e))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                records.push(decode(item)?);
            }
            keys = out
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err(LedgerError::Dynamo {
                operation: "BatchGetItem",
                message: format!(
                    "{} keys still unprocessed after {ATTEMPTS} attempts",
                    keys.len()
                ),
                transient: true,
                source: "unprocessed keys".into(),
            });
        }
        Ok(records)
    }

    /// How many of `quota_key`'s payloads are `pending` with an upload URL that still works at
    /// `now` (epoch ms), counting up to `cap` (reading stops there). Reads [`PENDING_INDEX`],
    /// which DynamoDB updates asynchronously: a payload announced or admitted a moment ago may
    /// not be counted yet, so the cap holds give or take the requests in flight.
    pub async fn count_pending(
        &self,
        quota_key: &str,
        now: i64,
        cap: u32,
    ) -> Result<u32, LedgerError> {
        let mut count = 0u32;
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name(PENDING_INDEX)
                .key_condition_expression("pending_owner = :owner")
                .filter_expression("url_expires_at > :now")
                .expression_attribute_values(":owner", s(quota_key))
                .expression_attribute_values(":now", n(now))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| LedgerError::dynamo("Query", e))?;
            count = count.saturating_add(u32::try_from(out.count).unwrap_or(0));
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if count >= cap || start.is_none() {
                return Ok(count);
            }
        }
    }
}
