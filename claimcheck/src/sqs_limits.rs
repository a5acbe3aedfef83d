//! SQS's quotas, named once. Source: Amazon SQS Developer Guide, "Amazon SQS message quotas"
//! and the API reference of `SendMessage`, `ReceiveMessage` and `ChangeMessageVisibility`.

/// Entries in one `SendMessageBatch`, `DeleteMessageBatch` or `ChangeMessageVisibilityBatch`,
/// and messages in one `ReceiveMessage`.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Message attributes on one message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// A message's (or a whole batch's) size in bytes: body plus attributes (1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;
/// `DelaySeconds`: 0 to 15 minutes.
pub const MAX_DELAY_SECONDS: i32 = 900;
/// A visibility timeout: 0 to 12 hours.
pub const MAX_VISIBILITY_TIMEOUT_SECONDS: i32 = 43_200;
/// [`MAX_VISIBILITY_TIMEOUT_SECONDS`] as a duration (the longest a message can stay hidden).
pub const MAX_VISIBILITY_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(MAX_VISIBILITY_TIMEOUT_SECONDS as u64);
/// `WaitTimeSeconds` of a long poll: 0 to 20 seconds.
pub const MAX_WAIT_TIME_SECONDS: i32 = 20;
