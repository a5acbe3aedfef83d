//! The receipt handle: on receive, the extended clients hand the application a handle with
//! the pointer embedded, so that a later delete knows which object to clean up:
//!
//! `-..s3BucketName..-BUCKET-..s3BucketName..--..s3Key..-KEY-..s3Key..-ORIGINAL`
//!
//! A handle is extended when each marker appears at least once. BUCKET and KEY are the text
//! between the first and second occurrence of each marker; ORIGINAL is everything after the
//! second key marker (Java's rule; Python's `split('-')[-1]` breaks on handles containing `-`).

use crate::pointer::PayloadPointer;

/// The marker written before and after the bucket name in an extended receipt handle, as the
/// Java and Python extended clients write it.
pub const BUCKET_MARKER: &str = "-..s3BucketName..-";
/// The marker written before and after the object key in an extended receipt handle, as the
/// Java and Python extended clients write it.
pub const KEY_MARKER: &str = "-..s3Key..-";

/// A receipt handle as the application holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptHandle {
    /// A plain SQS handle: the message was not offloaded.
    Plain(String),
    /// An SQS handle with the payload's location embedded.
    Extended {
        /// The payload's location, read from between the markers.
        pointer: PayloadPointer,
        /// The receipt handle SQS issued: everything after the second key marker.
        original: String,
    },
}

/// A receipt handle that contains both markers but not in the extended clients' form: a marker
/// without its closing twin, or an empty bucket, key or original handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "receipt handle has the extended-client markers but not in the form -..s3BucketName..-B-..s3BucketName..--..s3Key..-K-..s3Key..-H"
)]
pub struct MalformedReceiptHandle;

/// The handle the application sees for an offloaded message.
pub fn embed(pointer: &PayloadPointer, original: &str) -> String {
    format!(
        "{BUCKET_MARKER}{}{BUCKET_MARKER}{KEY_MARKER}{}{KEY_MARKER}{original}",
        pointer.bucket, pointer.key
    )
}

impl ReceiptHandle {
    /// Reads a handle the application passes back.
    pub fn parse(handle: &str) -> Result<Self, MalformedReceiptHandle> {
        if !(handle.contains(BUCKET_MARKER) && handle.contains(KEY_MARKER)) {
            return Ok(Self::Plain(handle.to_owned()));
        }
        let (bucket, _) = between_markers(handle, BUCKET_MARKER).ok_or(MalformedReceiptHandle)?;
        let (key, original) = between_markers(handle, KEY_MARKER).ok_or(MalformedReceiptHandle)?;
        if bucket.is_empty() || key.is_empty() || original.is_empty() {
            return Err(MalformedReceiptHandle);
        }
        Ok(Self::Extended {
            pointer: PayloadPointer::new(bucket, key),
            original: original.to_owned(),
        })
    }

    /// The handle SQS issued, to send back to SQS.
    pub fn original(&self) -> &str {
        match self {
            Self::Plain(handle) => handle,
            Self::Extended { original, .. } => original,
        }
    }

    /// The payload's location, for an extended handle; `None` for a plain one.
    pub fn pointer(&self) -> Option<&PayloadPointer> {
        match self {
            Self::Plain(_) => None,
            Self::Extended { pointer, .. } => Some(pointer),
        }
    }
}

/// The text between the first and second occurrence of `marker`, and everything after the
/// second occurrence.
fn between_markers<'a>(handle: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let start = handle.find(marker)? + marker.len();
    let len = handle[start..].find(marker)?;
    Some((
        &handle[start..start + len],
        &handle[start + len + marker.len()..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TV3_SQS: &str = "AQEBzDYhwQBHp+NIlvgL6WFKHNto=";
    const TV3_APP: &str = "-..s3BucketName..-my-bucket-..s3BucketName..--..s3Key..-queue-a/9cc30888-0e2e-40da-b594-c9ca2cd58722-..s3Key..-AQEBzDYhwQBHp+NIlvgL6WFKHNto=";

    #[test]
    fn tv3_embed_and_restore() {
        let pointer =
            PayloadPointer::new("my-bucket", "queue-a/9cc30888-0e2e-40da-b594-c9ca2cd58722");
        assert_eq!(embed(&pointer, TV3_SQS), TV3_APP);
        let parsed = ReceiptHandle::parse(TV3_APP);
        assert_eq!(
            parsed,
            Ok(ReceiptHandle::Extended {
                pointer,
                original: TV3_SQS.into()
            })
        );
    }

    #[test]
    fn original_with_dashes_is_restored_whole() {
        let handle = "-..s3BucketName..-my-bucket-..s3BucketName..--..s3Key..-queue-a/9cc30888-0e2e-40da-b594-c9ca2cd58722-..s3Key..-AQEB-abc-def==";
        let parsed = ReceiptHandle::parse(handle).map(|h| h.original().to_owned());
        assert_eq!(parsed.as_deref(), Ok("AQEB-abc-def=="));
    }

    #[test]
    fn plain_and_malformed_handles() {
        assert_eq!(
            ReceiptHandle::parse("AQEB+x=="),
            Ok(ReceiptHandle::Plain("AQEB+x==".into()))
        );
        assert_eq!(
            ReceiptHandle::parse("-..s3BucketName..-b-..s3Key..-k"),
            Err(MalformedReceiptHandle)
        );
        assert_eq!(
            ReceiptHandle::parse("-..s3BucketName..-b-..s3BucketName..--..s3Key..-k-..s3Key..-"),
            Err(MalformedReceiptHandle)
        );
    }
}
