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
    /// `dead` is claimable because a message of a dead payload reaching the consumer has left
    /// the DLQ by a move the ledger may not know of yet (SQS's native redrive, or a redrive
    /// started in the SQS console), or is a second copy of its pointer: processing it is what
    /// the move asked for, and a copy still parked is acknowledged once the payload is done.
    pub const CLAIMABLE: [Status; 4] = [
        Status::Queued,
        Status::Failed,
        Status::Redriven,
        Status::Dead,
    ];

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

/// Every state change the pipeline makes, with the states it may start from and the state it
/// ends in: the ledger's state machine, defined once. Each is applied by one conditional write
/// (`Ledger::step`), so of two racing writers exactly one wins.
///
/// | step | from | to |
/// |---|---|---|
/// | `Admit` | pending | queued |
/// | `Unadmit` | queued | pending |
/// | `Quarantine` | pending | quarantined |
/// | `Claim` | queued, failed, redriven, dead (and processing with an expired lease) | processing |
/// | `Finish` | processing | done |
/// | `Fail` | processing | failed |
/// | `FailLast` | processing | dead |
/// | `ReleaseLease` | processing (lease expired) | failed |
/// | `Park` | queued, processing, failed, redriven, pending | dead |
/// | `KeepParked` | dead, failed, queued, redriven | dead |
/// | `Redrive` | dead, failed, queued, redriven | redriven |
/// | `RedriveFailed` | redriven | dead |
/// | `NativeRedrive` | dead | redriven |
/// | `Expire` | pending | expired |
///
/// `done`, `expired` and `quarantined` are final: no step leaves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The producer admitted the upload and is sending its pointer.
    Admit,
    /// Sending the pointer failed: back to `pending` (the next event or reconcile retries).
    Unadmit,
    /// The upload did not match what was announced.
    Quarantine,
    /// A consumer leases the payload for processing.
    Claim,
    /// Processed.
    Finish,
    /// The attempt failed; the message will be received again.
    Fail,
    /// The attempt failed on the message's last receive: SQS moves it to the DLQ.
    FailLast,
    /// The lease of a crashed or timed-out consumer expired (reconcile).
    ReleaseLease,
    /// The consumer sent the message to the DLQ.
    Park,
    /// The redriver leaves a DLQ message parked, recording why.
    KeepParked,
    /// The redriver sends a DLQ message back to the work queue.
    Redrive,
    /// Sending it back failed: parked again.
    RedriveFailed,
    /// A native message move task will carry the DLQ's messages back.
    NativeRedrive,
    /// The upload URL expired with no upload (reconcile).
    Expire,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 14] = [
        Step::Admit,
        Step::Unadmit,
        Step::Quarantine,
        Step::Claim,
        Step::Finish,
        Step::Fail,
        Step::FailLast,
        Step::ReleaseLease,
        Step::Park,
        Step::KeepParked,
        Step::Redrive,
        Step::RedriveFailed,
        Step::NativeRedrive,
        Step::Expire,
    ];

    /// The states the step may start from.
    pub fn from(self) -> &'static [Status] {
        match self {
            Step::Admit | Step::Quarantine | Step::Expire => &[Status::Pending],
            Step::Unadmit => &[Status::Queued],
            Step::Claim => &Status::CLAIMABLE,
            Step::Finish | Step::Fail | Step::FailLast | Step::ReleaseLease => {
                &[Status::Processing]
            }
            Step::Park => &Status::PARKABLE,
            Step::KeepParked | Step::Redrive => &Status::IN_DLQ,
            Step::RedriveFailed => &[Status::Redriven],
            Step::NativeRedrive => &[Status::Dead],
        }
    }

    /// The state the step ends in.
    pub fn to(self) -> Status {
        match self {
            Step::Admit => Status::Queued,
            Step::Unadmit => Status::Pending,
            Step::Quarantine => Status::Quarantined,
            Step::Claim => Status::Processing,
            Step::Finish => Status::Done,
            Step::Fail | Step::ReleaseLease => Status::Failed,
            Step::FailLast | Step::Park | Step::KeepParked | Step::RedriveFailed => Status::Dead,
            Step::Redrive | Step::NativeRedrive => Status::Redriven,
            Step::Expire => Status::Expired,
        }
    }
}

impl Status {
    /// Whether no step leaves this state: `done`, `expired`, `quarantined`.
    pub fn is_final(self) -> bool {
        !Step::ALL.iter().any(|step| step.from().contains(&self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_states_are_done_expired_and_quarantined() {
        let finals: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [Status::Done, Status::Expired, Status::Quarantined]);
        // Every state is reachable from pending.
        let mut reached = vec![Status::Pending];
        while let Some(next) = Step::ALL.iter().find_map(|step| {
            let to = step.to();
            (step.from().iter().any(|s| reached.contains(s)) && !reached.contains(&to))
                .then_some(to)
        }) {
            reached.push(next);
        }
        assert_eq!(reached.len(), Status::ALL.len(), "{reached:?}");
    }
}
