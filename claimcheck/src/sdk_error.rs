//! What a failed AWS call tells us, read the same way for S3 and SQS: the HTTP status, the
//! error code, a message, and whether the failure is worth retrying later.
//!
//! The SDK has already retried transient failures by the time a call returns an error; this
//! only classifies what is left, so callers can tell "try this message again later" from
//! "this will never work".

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_s3::config::http::HttpResponse as Response;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// A failed AWS SDK call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkFailure {
    /// The HTTP status code, when a response arrived.
    pub status: Option<u16>,
    /// The service's error code (e.g. `NoSuchKey`, `ThrottlingException`), when it sent one.
    pub code: Option<String>,
    /// The service's error message, else the error code, else the SDK's full description.
    pub message: String,
    /// Whether a later attempt may succeed: timeouts, connection failures, unreadable
    /// responses, HTTP 5xx and 429, and throttling or busy-service error codes.
    pub transient: bool,
}

impl SdkFailure {
    /// Classifies an SDK error. Works for any service's operation error (S3, SQS, DynamoDB),
    /// since they share the SDK's error and response types.
    pub fn of<E>(err: &SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_owned);
        let transient = match err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => {
                status.is_some_and(|s| s >= 500 || s == 429)
                    || code.as_deref().is_some_and(is_retryable_code)
            }
            _ => false,
        };
        let message = match (err.message(), &code) {
            (Some(message), _) => message.to_owned(),
            (None, Some(code)) => code.clone(),
            (None, None) => one_line(err),
        };
        Self {
            status,
            code,
            message,
            transient,
        }
    }
}

/// The error and its sources' messages on one line, each said once. (The SDK's
/// `DisplayErrorContext` ends with the whole `Debug` structure — headers, raw bodies — which
/// is no message for a person or a log line.)
fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// Whether an error code means "try again later", by the SDK's own lists (aws-runtime's retry
/// classifier: throttling codes such as `SlowDown` and `ThrottlingException`, and transient ones
/// such as `RequestTimeout`), so this classification never drifts from the SDK's retries.
fn is_retryable_code(code: &str) -> bool {
    THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code)
}
