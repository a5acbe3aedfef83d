//! A payload's state in the ledger (see design.md): `pending` (upload URL issued) → `queued`
//! (pointer message sent) → `processing` (leased by a consumer) → `done`; `failed` (will
//! retry), `dead` (in the DLQ), `redriven`, `expired` (URL expired with no upload),
//! `quarantined` (the upload did not match what was announced). Needs no feature: the HTTP
//! API's types and reports carry it too.

/// Where a payload is in the pipeline. Serialized (ledger items, the HTTP API, reports) as its
/// lower-case name: `pending`, `queued`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// An upload URL was issued; no upload has been admitted yet.
    Pending,
    /// The upload was admitted and its pointer message sent to the work queue (or due to be:
    /// reconcile sends it for a `queued` payload without a `message_id`).
    Queued,
    /// Leased by a consumer (see `Ledger::claim`).
    Processing,
    /// Processed successfully.
    Done,
    /// The last attempt failed or its lease expired; claimable again.
    Failed,
    /// Parked: its message is in the dead-letter queue (DLQ).
    Dead,
    /// Sent back from the DLQ to the work queue; claimable again.
    Redriven,
    /// The upload URL expired with no upload.
    Expired,
    /// The upload did not match what was announced (size, checksum or content type).
    Quarantined,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 9] = [
        Status::Pending,
        Status::Queued,
        Status::Processing,
        Status::Done,
        Status::Failed,
        Status::Dead,
        Status::Redriven,
        Status::Expired,
        Status::Quarantined,
    ];

    /// Where a consumer may claim a payload from (and from `processing` whose lease expired).
    pub const CLAIMABLE: [Status; 3] = [Status::Queued, Status::Failed, Status::Redriven];

    /// Where a payload whose message sits in the DLQ may be: redrive sends it back
    /// (`→ redriven`) or records why it stays parked (`→ dead`) only from these.
    pub const IN_DLQ: [Status; 4] = [
        Status::Dead,
        Status::Failed,
        Status::Queued,
        Status::Redriven,
    ];

    /// Where the consumer may park a payload from (`→ dead`): any state before `done` that a
    /// message of it can be delivered in.
    pub const PARKABLE: [Status; 5] = [
        Status::Queued,
        Status::Processing,
        Status::Failed,
        Status::Redriven,
        Status::Pending,
    ];

    /// The name stored in the ledger and shown by the API (`pending`, `queued`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Queued => "queued",
            Status::Processing => "processing",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Dead => "dead",
            Status::Redriven => "redriven",
            Status::Expired => "expired",
            Status::Quarantined => "quarantined",
        }
    }

    /// The status whose stored name is `s` (the inverse of [`Status::as_str`]); `None` for an
    /// unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
