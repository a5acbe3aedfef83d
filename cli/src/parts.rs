//! Multipart uploads through the API (`claimcheck::api::MultipartTicket`): parts in flight in
//! parallel, each retried on its own with exponential backoff (`backon`), part URLs fetched
//! again when they run out or expire, and an interrupted upload resumed from the parts S3
//! already holds.
//!
//! Memory stays bounded whatever the size: a file's part is streamed from its offset (never
//! held whole); a stream's (stdin's) part is held once, as it must be sent again on a retry,
//! so memory is about `part_size × (parts in flight + 1)`.
//!
//! Integrity: a held part carries `Content-MD5`, which S3 checks against the bytes; a streamed
//! part's MD5 is computed on its way out and compared with the ETag S3 answers (a plain MD5
//! for objects without SSE-KMS), a mismatch sending the part again. The whole body's SHA-256
//! goes to the ledger, and the consumer verifies it while streaming the payload.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use claimcheck::api::{CompleteRequest, PartUrl, UploadState};
use claimcheck::checksum::Sha256;
use claimcheck::multipart::{CompletedPart, PartPlan, StoredPart};
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio::sync::Mutex;

use crate::CliError;
use crate::api::Api;

/// How many times a part is sent before the upload gives up (S3 and networks fail now and
/// then; a part that fails five times in a row points at something lasting).
const PART_ATTEMPTS: usize = 5;
/// Read granularity of a streamed part.
/// Reads and writes of files and streams go in chunks of this size (256 KiB).
pub(crate) const CHUNK: usize = 256 * 1024;

/// A multipart upload in progress: the payload, its plan, and the part URLs at hand.
pub struct Upload<'a> {
    api: &'a Api,
    http: &'a reqwest::Client,
    /// The payload id.
    pub id: String,
    plan: PartPlan,
    urls: Mutex<HashMap<u32, PartUrl>>,
    bar: ProgressBar,
}

/// Where the parts come from.
pub enum Source {
    /// A regular file of known size: parts streamed from their offsets.
    File(PathBuf),
    /// A stream of unknown length (stdin): parts read in order, each held until sent.
    Stream(Box<dyn AsyncRead + Unpin + Send>),
}

/// Why one attempt at a part failed.
#[derive(Debug)]
enum PartError {
    /// Worth another attempt: a network fault, S3's 5xx or 429, an expired URL (fetched
    /// again), or an ETag that is not the part's MD5.
    Transient(String),
    /// Not worth another attempt.
    Fatal(CliError),
}

impl PartError {
    fn into_cli(self) -> CliError {
        match self {
            Self::Transient(reason) => CliError::Remote(reason),
            Self::Fatal(e) => e,
        }
    }
}

impl<'a> Upload<'a> {
    /// An upload of payload `id` by `plan`, starting from the part URLs `urls`, reporting
    /// sent bytes on `bar`.
    pub fn new(
        api: &'a Api,
        http: &'a reqwest::Client,
        id: String,
        plan: PartPlan,
        urls: Vec<PartUrl>,
        bar: ProgressBar,
    ) -> Self {
        let urls = urls.into_iter().map(|u| (u.part_number, u)).collect();
        Self {
            api,
            http,
            id,
            plan,
            urls: Mutex::new(urls),
            bar,
        }
    }

    /// Sends every part not in `done` (part number → ETag, from a resumed upload) with
    /// `parallel` parts in flight; answers every part, in order, and for a stream the SHA-256
    /// computed while reading it.
    ///
    /// # Errors
    /// [`CliError`] from the API or S3 after the retries, or reading the source. The multipart
    /// upload is left open, so `--resume` can finish it.
    pub async fn send(
        &self,
        source: Source,
        done: BTreeMap<u32, String>,
        parallel: usize,
    ) -> Result<(Vec<CompletedPart>, Option<String>), CliError> {
        let (mut etags, computed) = match source {
            Source::File(path) => (self.send_file(&path, &done, parallel).await?, None),
            Source::Stream(reader) => {
                let (etags, computed) = self.send_stream(reader, parallel).await?;
                (etags, Some(computed))
            }
        };
        etags.extend(done);
        let parts = etags
            .into_iter()
            .map(|(part_number, etag)| CompletedPart { part_number, etag })
            .collect();
        Ok((parts, computed))
    }

    /// Completes the upload from `parts` with `sha256` (`None`: the one announced).
    ///
    /// # Errors
    /// The API's refusal ([`CliError::Refused`]) or a transfer failure.
    pub async fn complete(
        &self,
        parts: Vec<CompletedPart>,
        sha256: Option<String>,
    ) -> Result<UploadState, CliError> {
        self.api
            .complete(&self.id, &CompleteRequest::new(parts, sha256))
            .await
    }

    /// Sends a file's missing parts, each streamed from its offset.
    async fn send_file(
        &self,
        path: &Path,
        done: &BTreeMap<u32, String>,
        parallel: usize,
    ) -> Result<BTreeMap<u32, String>, CliError> {
        let count = self.plan.part_count().unwrap_or(0);
        let missing: Vec<u32> = (1..=count).filter(|n| !done.contains_key(n)).collect();
        for part in done.keys() {
            self.bar.inc(self.plan.part_len(*part).unwrap_or(0));
        }
        futures::stream::iter(missing)
            .map(|number| async move {
                let etag = self
                    .with_retries(number, |url| self.send_file_part(path, number, url))
                    .await?;
                Ok::<_, CliError>((number, etag))
            })
            .buffer_unordered(parallel)
            .try_collect()
            .await
    }

    /// Reads a stream's parts in order (hashing the whole body on the way) and sends them as
    /// they are read, `parallel` at a time.
    async fn send_stream(
        &self,
        reader: Box<dyn AsyncRead + Unpin + Send>,
        parallel: usize,
    ) -> Result<(BTreeMap<u32, String>, String), CliError> {
        let part_size = usize::try_from(self.plan.part_size).unwrap_or(usize::MAX);
        let last = self.plan.last_part_number();
        let hash = Arc::new(std::sync::Mutex::new((Sha256::new(), 0u64)));
        let hashing = hash.clone();
        let parts = futures::stream::try_unfold((reader, 1u32), move |(mut reader, number)| {
            let hashing = hashing.clone();
            async move {
                let bytes = read_part(&mut reader, part_size).await?;
                if bytes.is_empty() && number > 1 {
                    return Ok(None);
                }
                if bytes.is_empty() {
                    return Err(CliError::Input {
                        path: "-".into(),
                        reason: "standard input is empty; a payload is at least 1 byte".into(),
                    });
                }
                if number > last {
                    return Err(CliError::Input {
                        path: "-".into(),
                        reason: format!(
                            "standard input is longer than {last} parts of {part_size} bytes, the most this upload can take"
                        ),
                    });
                }
                if let Ok(mut hash) = hashing.lock() {
                    hash.0.update(&bytes);
                    hash.1 += bytes.len() as u64;
                }
                Ok(Some(((number, bytes), (reader, number + 1))))
            }
        });
        let etags = parts
            .map_ok(|(number, bytes): (u32, Bytes)| async move {
                let etag = self
                    .with_retries(number, |url| self.send_held_part(bytes.clone(), url))
                    .await?;
                Ok::<_, CliError>((number, etag))
            })
            .try_buffer_unordered(parallel)
            .try_collect()
            .await?;
        let sha256 = match hash.lock() {
            Ok(hash) => hash.0.clone().base64(),
            Err(_) => return Err(CliError::Remote("the body's hash was lost".into())),
        };
        Ok((etags, sha256))
    }

    /// Sends part `number` by `attempt` up to [`PART_ATTEMPTS`] times with exponential
    /// backoff, fetching its URL again after a refusal that an expired URL explains.
    async fn with_retries<F, Fut>(&self, number: u32, attempt: F) -> Result<String, CliError>
    where
        F: Fn(PartUrl) -> Fut,
        Fut: std::future::Future<Output = Result<String, PartError>>,
    {
        let stale = std::sync::atomic::AtomicBool::new(false);
        let once = || async {
            let fresh = stale.swap(false, std::sync::atomic::Ordering::SeqCst);
            let url = self.url(number, fresh).await.map_err(PartError::Fatal)?;
            let result = attempt(url).await;
            if matches!(result, Err(PartError::Transient(_))) {
                stale.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            result
        };
        once.retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(10))
                .with_max_times(PART_ATTEMPTS - 1)
                .with_jitter(),
        )
        .when(|e| matches!(e, PartError::Transient(_)))
        .notify(|e, wait| {
            if let PartError::Transient(reason) = e {
                tracing::debug!(
                    part = number,
                    ?wait,
                    reason,
                    "part failed; sending it again"
                );
            }
        })
        .await
        .map_err(PartError::into_cli)
    }

    /// Part `number`'s URL: the one at hand, or (none at hand, or `fresh`) the API's next
    /// batch from it.
    async fn url(&self, number: u32, fresh: bool) -> Result<PartUrl, CliError> {
        let mut urls = self.urls.lock().await;
        if !fresh && let Some(url) = urls.get(&number) {
            return Ok(url.clone());
        }
        let view = self.api.parts(&self.id, number).await?;
        for url in view.parts {
            urls.insert(url.part_number, url);
        }
        urls.get(&number)
            .cloned()
            .ok_or_else(|| CliError::Remote(format!("the API gave no URL for part {number}")))
    }

    /// One attempt at a file's part: streamed from its offset, its MD5 computed on the way and
    /// compared with S3's ETag.
    async fn send_file_part(
        &self,
        path: &Path,
        number: u32,
        url: PartUrl,
    ) -> Result<String, PartError> {
        let length = self.plan.part_len(number).unwrap_or(0);
        let offset = u64::from(number - 1) * self.plan.part_size;
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| PartError::Fatal(CliError::input(path, &e)))?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| PartError::Fatal(CliError::input(path, &e)))?;
        let md5 = Arc::new(std::sync::Mutex::new(Md5::new()));
        let (hashing, bar) = (md5.clone(), self.bar.clone());
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = sent.clone();
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(length), CHUNK).inspect(
            move |chunk| {
                if let Ok(chunk) = chunk {
                    if let Ok(mut md5) = hashing.lock() {
                        md5.update(chunk);
                    }
                    counting.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    bar.inc(chunk.len() as u64);
                }
            },
        );
        let result = self
            .put(&url, reqwest::Body::wrap_stream(body), None)
            .await
            .and_then(|etag| {
                let digest = md5.lock().map(|m| m.clone().finalize()).ok();
                match digest {
                    Some(digest) if is_md5_etag(&etag) && !etag.contains(&hex::encode(digest)) => {
                        Err(PartError::Transient(format!(
                            "part {number}: S3's ETag is not the MD5 of the bytes sent"
                        )))
                    }
                    _ => Ok(etag),
                }
            });
        if result.is_err() {
            // The bytes of a failed attempt are sent again: take them off the progress bar.
            let back = sent.load(std::sync::atomic::Ordering::Relaxed);
            self.bar
                .set_position(self.bar.position().saturating_sub(back));
        }
        result
    }

    /// One attempt at a held part, with its `Content-MD5` for S3 to check.
    async fn send_held_part(&self, bytes: Bytes, url: PartUrl) -> Result<String, PartError> {
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes));
        let length = bytes.len() as u64;
        let result = self.put(&url, reqwest::Body::from(bytes), Some(md5)).await;
        if result.is_ok() {
            self.bar.inc(length);
        }
        result
    }

    /// PUTs `body` to a part URL with its headers; the ETag S3 answers.
    async fn put(
        &self,
        url: &PartUrl,
        body: reqwest::Body,
        content_md5: Option<String>,
    ) -> Result<String, PartError> {
        let mut request = self.http.put(&url.url).body(body);
        for (name, value) in &url.headers {
            request = request.header(name, value);
        }
        if let Some(md5) = content_md5 {
            request = request.header("content-md5", md5);
        }
        let number = url.part_number;
        let response = request
            .send()
            .await
            .map_err(|e| PartError::Transient(format!("part {number}: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| {
                    PartError::Transient(format!("part {number}: S3 answered without an ETag"))
                });
        }
        let text = response.text().await.unwrap_or_default();
        let code = crate::transfer::s3_code(&text).unwrap_or_default();
        let reason = format!("S3 refused part {number} ({status} {code})");
        // 403: the URL expired (fetched again); 5xx, 429 and S3's BadDigest (bytes damaged on
        // the way): worth another attempt. Anything else will not change.
        if status.as_u16() == 403
            || status.as_u16() == 429
            || status.is_server_error()
            || code == "BadDigest"
            || code == "RequestTimeout"
        {
            Err(PartError::Transient(reason))
        } else {
            Err(PartError::Fatal(CliError::Remote(reason)))
        }
    }
}

/// Whether an ETag is a plain MD5 (32 hex digits, quoted): S3's for a part without SSE-KMS.
fn is_md5_etag(etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Up to `size` bytes from `reader` (fewer only at its end).
async fn read_part(
    reader: &mut (dyn AsyncRead + Unpin + Send),
    size: usize,
) -> Result<Bytes, CliError> {
    let mut buffer = BytesMut::with_capacity(size);
    while buffer.len() < size {
        let want = (size - buffer.len()).min(CHUNK);
        let mut chunk = (&mut *reader).take(want as u64);
        let n = chunk
            .read_buf(&mut buffer)
            .await
            .map_err(|e| CliError::input(Path::new("-"), &e))?;
        if n == 0 {
            break;
        }
    }
    Ok(buffer.freeze())
}

/// The parts of a resumed upload S3 holds that match the file: the right size and, where the
/// ETag is a plain MD5, the file's bytes (a part that does not match is sent again).
///
/// # Errors
/// [`CliError::Input`] when the file cannot be read.
pub async fn reusable_parts(
    path: &Path,
    plan: &PartPlan,
    stored: &[StoredPart],
) -> Result<BTreeMap<u32, String>, CliError> {
    let mut reusable = BTreeMap::new();
    for part in stored {
        if plan.part_len(part.part_number) != Some(part.size) {
            continue;
        }
        if is_md5_etag(&part.etag) {
            let offset = u64::from(part.part_number - 1) * plan.part_size;
            let digest = md5_of(path, offset, part.size).await?;
            if !part.etag.contains(&digest) {
                continue;
            }
        }
        reusable.insert(part.part_number, part.etag.clone());
    }
    Ok(reusable)
}

/// Hex MD5 of `length` bytes of `path` from `offset`.
async fn md5_of(path: &Path, offset: u64, length: u64) -> Result<String, CliError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| CliError::input(path, &e))?;
    let mut md5 = Md5::new();
    each_chunk(file.take(length), path, |chunk| md5.update(chunk)).await?;
    Ok(hex::encode(md5.finalize()))
}

/// Reads `reader` (from the file `path`, for errors) to its end in [`CHUNK`]s, handing each to
/// `take`: one buffer, however long the input.
pub(crate) async fn each_chunk(
    mut reader: impl AsyncRead + Unpin,
    path: &Path,
    mut take: impl FnMut(&[u8]),
) -> Result<(), CliError> {
    let mut buffer = vec![0; CHUNK];
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .map_err(|e| CliError::input(path, &e))?;
        if n == 0 {
            return Ok(());
        }
        take(&buffer[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_etags_are_recognised() {
        assert!(is_md5_etag("\"9e107d9d372bb6826bd81d3542a419d6\""));
        assert!(!is_md5_etag("\"9e107d9d372bb6826bd81d3542a419d6-3\""));
        assert!(!is_md5_etag("\"kms\""));
    }

    #[tokio::test]
    async fn parts_of_a_stream_are_full_until_its_end() {
        let data = vec![7u8; 10];
        let mut reader: &[u8] = &data;
        assert_eq!(read_part(&mut reader, 4).await.expect("read").len(), 4);
        assert_eq!(read_part(&mut reader, 4).await.expect("read").len(), 4);
        assert_eq!(read_part(&mut reader, 4).await.expect("read").len(), 2);
        assert!(read_part(&mut reader, 4).await.expect("read").is_empty());
    }
}
