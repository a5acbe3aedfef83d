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
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification,
};

pub use crate::status::Status;

use crate::pointer::PayloadPointer;
use crate::sdk_error::SdkFailure;

/// The index that lists payloads by state, oldest change first.
pub const STATUS_INDEX: &str = "status-updated_at-index";
/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Items read per page by the operations that list the ledger (native redrive, reconcile,
/// `claimcheck failed`).
pub const PAGE_SIZE: i32 = 100;
/// How long an item is kept after its last change, unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

type Item = HashMap<String, AttributeValue>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One payload as the ledger knows it. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRecord {
    /// The payload id, the table's partition key.
    pub id: String,
    /// Where the payload's object lives in S3.
    pub object: PayloadPointer,
    /// Where the payload is in the pipeline.
    pub status: Status,
    /// Expected (when pending) or stored size in bytes.
    pub size: u64,
    /// The payload's MIME content type, when recorded.
    pub content_type: Option<String>,
    /// Base64 SHA-256 announced by the uploader or computed while processing.
    pub sha256: Option<String>,
    /// Name-value metadata announced with the upload (kept in the ledger, not on the S3
    /// object).
    pub metadata: HashMap<String, String>,
    /// How many times a consumer has claimed the payload.
    pub attempts: u32,
    /// Why the last attempt or step failed, when one did.
    pub last_error: Option<String>,
    /// The consumer holding the processing lease, while one does.
    pub lease_owner: Option<String>,
    /// When the processing lease runs out; after that any consumer may claim the payload.
    pub lease_expires_at: Option<i64>,
    /// When the upload URL stops working (pending payloads).
    pub url_expires_at: Option<i64>,
    /// The S3 ETag of the uploaded object, once admitted.
    pub e_tag: Option<String>,
    /// The SQS message id of the pointer message, once sent.
    pub message_id: Option<String>,
    /// When the payload was first recorded.
    pub created_at: i64,
    /// When the item last changed: the status index's sort key, and what
    /// [`Ledger::update_if_unchanged`] compares.
    pub updated_at: i64,
}

/// A payload announced by presign-upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayload {
    /// The payload id; recorded only if no item has it yet.
    pub id: String,
    /// Where the upload lands in S3.
    pub object: PayloadPointer,
    /// The announced size, in bytes.
    pub size: u64,
    /// The announced MIME content type.
    pub content_type: String,
    /// The announced base64 SHA-256, when given.
    pub sha256: Option<String>,
    /// Name-value metadata announced with the upload.
    pub metadata: HashMap<String, String>,
    /// When the presigned upload URL expires, epoch milliseconds.
    pub url_expires_at: i64,
}

/// Fields a transition sets besides the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The stored size, in bytes.
    pub size: Option<u64>,
    /// The body's base64 SHA-256.
    pub sha256: Option<String>,
    /// The S3 ETag of the object.
    pub e_tag: Option<String>,
    /// The SQS message id of the pointer message.
    pub message_id: Option<String>,
    /// Why the step failed.
    pub last_error: Option<String>,
    /// Takes a processing lease: its owner, and when it expires (epoch milliseconds).
    pub lease: Option<(String, i64)>,
    /// Removes the lease (the holder is done with the payload).
    pub release_lease: bool,
    /// Atomically adds one to `attempts`.
    pub count_attempt: bool,
}

/// The outcome of a conditional state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The change was made; the item as it is now.
    Applied(Box<PayloadRecord>),
    /// Another writer got there first, or the payload is not in an allowed state: the item as
    /// it is (`None` when the ledger has no such payload).
    Rejected(Option<Box<PayloadRecord>>),
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

/// Where the next page starts (opaque).
#[derive(Debug, Clone, PartialEq)]
pub struct PageToken(Item);

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
        let mut item = Item::from([
            ("id".into(), s(&payload.id)),
            ("bucket".into(), s(&payload.object.bucket)),
            ("key".into(), s(&payload.object.key)),
            ("status".into(), s(Status::Pending.as_str())),
            ("size".into(), n(payload.size)),
            ("content_type".into(), s(&payload.content_type)),
            ("attempts".into(), n(0)),
            ("url_expires_at".into(), n(payload.url_expires_at)),
            ("created_at".into(), n(now)),
            ("updated_at".into(), n(now)),
            (TTL_ATTRIBUTE.into(), n(self.expires_at(now))),
        ]);
        if let Some(sha) = &payload.sha256 {
            item.insert("sha256".into(), s(sha));
        }
        if !payload.metadata.is_empty() {
            let map = payload
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            item.insert("metadata".into(), AttributeValue::M(map));
        }
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
            .map(|item| record(&item))
            .transpose()
            .map(|r| r.filter(|r| self.live(r, now)))
    }

    fn live(&self, record: &PayloadRecord, now: i64) -> bool {
        self.expires_at(record.updated_at) * 1000 > now
    }

    /// Moves a payload from one of `from` to `to`, with `changes`, if and only if it is in one
    /// of `from` now.
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
    /// `processing` whose lease has expired (the holder crashed). Counts an attempt.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Transition, LedgerError> {
        let now = self.now();
        let claimable = Status::CLAIMABLE;
        let condition = format!(
            "#status IN ({}) OR (#status = :processing AND lease_expires_at < :now)",
            placeholders("from", claimable.len())
        );
        let changes = Changes {
            lease: Some((owner.to_owned(), now + lease.as_millis() as i64)),
            count_attempt: true,
            ..Changes::default()
        };
        let extra = [
            (":processing", s(Status::Processing.as_str())),
            (":now", n(now)),
        ];
        self.update(
            id,
            &condition,
            &claimable,
            Status::Processing,
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
            &[Status::Processing],
            Status::Failed,
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
        let mut sets = vec![
            "#status = :to".to_owned(),
            "updated_at = :now_set".into(),
            format!("{TTL_ATTRIBUTE} = :ttl"),
        ];
        let mut values = Item::from([
            (":to".into(), s(to.as_str())),
            (":now_set".into(), n(now)),
            (":ttl".into(), n(self.expires_at(now))),
        ]);
        for (i, status) in from.iter().enumerate() {
            values.insert(format!(":from{i}"), s(status.as_str()));
        }
        for (name, value) in extra_values {
            values.insert((*name).to_owned(), value.clone());
        }
        // Every field goes through a name placeholder: some (`size`) are DynamoDB reserved words.
        let mut names = HashMap::from([("#status".to_owned(), "status".to_owned())]);
        let mut set = |field: &str, value: AttributeValue| {
            sets.push(format!("#{field} = :{field}"));
            names.insert(format!("#{field}"), field.to_owned());
            values.insert(format!(":{field}"), value);
        };
        if let Some(size) = changes.size {
            set("size", n(size));
        }
        if let Some(sha) = &changes.sha256 {
            set("sha256", s(sha));
        }
        if let Some(e_tag) = &changes.e_tag {
            set("e_tag", s(e_tag));
        }
        if let Some(message_id) = &changes.message_id {
            set("message_id", s(message_id));
        }
        if let Some(error) = &changes.last_error {
            set("last_error", s(error));
        }
        if let Some((owner, until)) = &changes.lease {
            set("lease_owner", s(owner));
            set("lease_expires_at", n(*until));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if changes.count_attempt {
            expression.push_str(" ADD attempts :one");
            values.insert(":one".into(), n(1));
        }
        if changes.release_lease {
            expression.push_str(" REMOVE lease_owner, lease_expires_at");
        }
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(expression)
            .condition_expression(format!("attribute_exists(id) AND ({condition})"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Transition::Applied(Box::new(record(&item)?)))
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                )) => {
                    let current = match &failed.item {
                        Some(item) => Some(record(item)?),
                        // Older endpoints do not return the item: read it.
                        None => self.get(id).await?,
                    };
                    Ok(Transition::Rejected(current.map(Box::new)))
                }
                _ => Err(LedgerError::dynamo("UpdateItem", e)),
            },
        }
    }

    /// Payloads in `status` whose last change is at or before `changed_before` (epoch ms),
    /// oldest first, `limit` at a time.
    pub async fn list_by_status(
        &self,
        status: Status,
        changed_before: i64,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page, LedgerError> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("#status = :status AND updated_at <= :before")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":before", n(changed_before))
            .limit(limit.max(1))
            .set_exclusive_start_key(start.map(|t| t.0))
            .send()
            .await
            .map_err(|e| LedgerError::dynamo("Query", e))?;
        let now = self.now();
        let records = out
            .items
            .unwrap_or_default()
            .iter()
            .map(record)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|r| self.live(r, now))
            .collect();
        Ok(Page {
            records,
            next: out
                .last_evaluated_key
                .filter(|k| !k.is_empty())
                .map(PageToken),
        })
    }

    /// Creates the table with its status index and TTL, as Terraform does in AWS (for local
    /// runs and tests). Succeeds if the table exists already.
    pub async fn create_table(&self) -> Result<(), LedgerError> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| build_error("CreateTable", e))
        };
        let attribute = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(|e| build_error("CreateTable", e))
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(STATUS_INDEX)
            .key_schema(key("status", KeyType::Hash)?)
            .key_schema(key("updated_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| build_error("CreateTable", e))?;
        let created = self
            .ddb
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash)?)
            .attribute_definitions(attribute("id", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("status", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("updated_at", ScalarAttributeType::N)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(LedgerError::dynamo("CreateTable", e)),
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| build_error("UpdateTimeToLive", e))?;
        self.ddb
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| LedgerError::dynamo("UpdateTimeToLive", e))?;
        Ok(())
    }
}

fn build_error(operation: &'static str, e: aws_sdk_dynamodb::error::BuildError) -> LedgerError {
    LedgerError::Dynamo {
        operation,
        message: e.to_string(),
        transient: false,
        source: Box::new(e),
    }
}

fn placeholders(prefix: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!(":{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn record(item: &Item) -> Result<PayloadRecord, LedgerError> {
    let id = item
        .get("id")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |problem: String| LedgerError::Corrupt {
        id: id.clone(),
        problem,
    };
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| -> Result<Option<i64>, LedgerError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| corrupt(format!("{name} is not an integer: {v:?}"))),
            Some(other) => Err(corrupt(format!("{name} is not a number: {other:?}"))),
        }
    };
    let required = |name: &str| text(name).ok_or_else(|| corrupt(format!("{name} is missing")));
    let status_text = required("status")?;
    let status = Status::parse(&status_text)
        .ok_or_else(|| corrupt(format!("unknown status {status_text:?}")))?;
    let metadata = match item.get("metadata") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
            .collect(),
        _ => HashMap::new(),
    };
    Ok(PayloadRecord {
        object: PayloadPointer::new(required("bucket")?, required("key")?),
        status,
        size: number("size")?.unwrap_or(0).max(0) as u64,
        content_type: text("content_type"),
        sha256: text("sha256"),
        metadata,
        attempts: number("attempts")?.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
        last_error: text("last_error"),
        lease_owner: text("lease_owner"),
        lease_expires_at: number("lease_expires_at")?,
        url_expires_at: number("url_expires_at")?,
        e_tag: text("e_tag"),
        message_id: text("message_id"),
        created_at: number("created_at")?.unwrap_or(0),
        updated_at: number("updated_at")?.unwrap_or(0),
        id,
    })
}
