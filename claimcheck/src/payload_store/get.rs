//! Gets: a payload's body handed back as a stream, never a whole buffer.

use std::fmt;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{ObjectInfo, PayloadStore, StoreError};
use crate::pointer::PayloadPointer;

/// A stored payload's body, streamed from S3.
pub struct PayloadStream {
    /// The object being read.
    pub object: PayloadPointer,
    /// What the GET response said about the object.
    pub info: ObjectInfo,
    body: ByteStream,
}

impl fmt::Debug for PayloadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadStream")
            .field("object", &self.object)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl PayloadStream {
    /// The next chunk of the body, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, StoreError>> {
        let chunk = self.body.next().await?;
        Some(chunk.map_err(|e| StoreError::Body {
            object: self.object.clone(),
            source: Box::new(e),
        }))
    }

    /// The body as an `AsyncBufRead` (S3 read errors surface as `std::io::Error`).
    pub fn into_async_read(self) -> impl tokio::io::AsyncBufRead + Send + Unpin {
        self.body.into_async_read()
    }

    /// The body as an SDK byte stream, to hand on to another SDK call.
    pub fn into_byte_stream(self) -> ByteStream {
        self.body
    }

    /// Reads a body known to be small into a string, refusing bodies over `limit` bytes.
    pub async fn read_to_string(mut self, limit: usize) -> Result<String, StoreError> {
        if self.info.size > limit as u64 {
            return Err(StoreError::TooLargeToBuffer {
                size: self.info.size,
                limit,
            });
        }
        let mut buf = Vec::with_capacity(self.info.size as usize);
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(StoreError::TooLargeToBuffer {
                    size: (buf.len() + chunk.len()) as u64,
                    limit,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| StoreError::NotUtf8)
    }
}

impl PayloadStore {
    /// Opens a payload for streaming.
    pub async fn get(&self, object: &PayloadPointer) -> Result<PayloadStream, StoreError> {
        let output = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetObject", object, e))?;
        let info = ObjectInfo {
            size: output.content_length.unwrap_or_default().max(0) as u64,
            e_tag: output.e_tag,
            content_type: output.content_type,
            checksum_sha256: output.checksum_sha256,
            metadata: output.metadata.unwrap_or_default(),
        };
        Ok(PayloadStream {
            object: object.clone(),
            info,
            body: output.body,
        })
    }
}
