//! `upload` and `download`: the bytes go straight between the file and S3 through presigned
//! URLs, streamed in fixed-size chunks (memory stays flat whatever the size), with a progress
//! bar and the SHA-256 pinned on the way up and checked on the way down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use claimcheck::checksum::Sha256;
use futures::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::CliError;
use crate::parts::{Source, Upload};
use claimcheck::api::{UploadRequest, UploadTicket};
use claimcheck::multipart::PartPlan;

use crate::api::Api;
use crate::progress;

// Reads and writes go in chunks of this size.
use crate::parts::CHUNK;

#[derive(Debug, Clone, Serialize)]
pub struct Uploaded {
    pub id: String,
    pub size: u64,
    /// Base64, as S3 and the ledger keep it.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Downloaded {
    pub id: String,
    pub size: u64,
    pub sha256: String,
    pub path: String,
}

/// What `upload` sends besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// The media type; default from the file name's extension.
    pub content_type: Option<String>,
    /// Kept in the ledger.
    pub metadata: BTreeMap<String, String>,
    /// Finish the multipart upload of this payload id instead of starting one.
    pub resume: Option<String>,
    /// Parts in flight at once (multipart uploads).
    pub parallel: usize,
}

/// Uploads a file (`-`: standard input, of unknown length). A file's SHA-256 comes first (S3
/// then refuses other bytes of a single PUT; the consumer verifies a multipart upload's), then
/// the API's answer decides: one presigned PUT, or a multipart upload of parallel parts
/// ([`crate::parts`]). With `options.resume`, the multipart upload of that payload is finished
/// from the parts S3 holds. Progress goes to a bar of `progress`.
pub async fn upload(
    api: &Api,
    http: &reqwest::Client,
    path: &Path,
    options: &UploadOptions,
    progress: &progress::Bars,
) -> Result<Uploaded, CliError> {
    if path.as_os_str() == "-" {
        return upload_stdin(api, http, options, progress).await;
    }
    // Looked at before it is opened: opening a named pipe with no writer would wait forever.
    let info = tokio::fs::metadata(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    if !info.is_file() {
        return Err(CliError::Input {
            path: path.display().to_string(),
            reason: "not a regular file (a stream goes through standard input: upload -)".into(),
        });
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    let size = info.len();
    if size == 0 {
        // The API refuses empty payloads (content_length is at least 1): say so before hashing
        // or asking for a URL.
        return Err(CliError::Input {
            path: path.display().to_string(),
            reason: "the file is empty; a payload is at least 1 byte".into(),
        });
    }
    let name = path.display().to_string();
    let stamp = FileStamp::of(&info);
    let sha256 = hash_file(file, path, progress.add(size, &name, "hashing")).await?;
    if let Some(id) = &options.resume {
        return resume(api, http, path, id, (sha256, stamp), options, progress).await;
    }
    let content_type = options
        .content_type
        .clone()
        .unwrap_or_else(|| guess_content_type(path).to_owned());
    let ticket = api
        .request_upload(
            &UploadRequest::new(content_type, size)
                .with_sha256(sha256.clone())
                .with_metadata(options.metadata.clone()),
        )
        .await?;
    if let Some(multipart) = ticket.multipart {
        let plan = PartPlan {
            part_size: multipart.part_size,
            length: Some(size),
        };
        // Always (`--quiet` silences progress bars only): the id is what finishes an
        // interrupted upload.
        {
            eprintln!(
                "{name}: payload {} in {} parts of {} bytes; if interrupted, finish it with: claimcheck upload {name} --resume {}",
                ticket.id,
                plan.part_count().unwrap_or(0),
                plan.part_size,
                ticket.id
            );
        }
        let job = PartsJob {
            id: ticket.id.clone(),
            plan,
            urls: multipart.parts,
            source: Source::File(path.to_owned()),
            done: BTreeMap::new(),
            sha256: Some(sha256.clone()),
            name,
            stamp: Some(stamp),
        };
        let state = send_parts(api, http, job, options, progress).await?;
        return Ok(Uploaded {
            id: state.id,
            size: state.size,
            sha256,
        });
    }
    let Some(url) = ticket.url.clone() else {
        return Err(CliError::Remote(
            "the API answered neither a URL nor a multipart upload".into(),
        ));
    };
    put_single(http, path, &ticket, &url, size, sha256, progress).await
}

/// Finishes the multipart upload of payload `id` from `path`, whose size and SHA-256 (`file`,
/// with its stamp) must be the announced ones; parts S3 holds that match the file are not
/// sent again.
async fn resume(
    api: &Api,
    http: &reqwest::Client,
    path: &Path,
    id: &str,
    (sha256, stamp): (String, FileStamp),
    options: &UploadOptions,
    progress: &progress::Bars,
) -> Result<Uploaded, CliError> {
    let name = path.display().to_string();
    let parts = match api.parts(id, 1).await {
        Err(CliError::Refused {
            status: 409, code, ..
        }) if code == "upload_closed" => {
            return Err(CliError::Usage(format!(
                "payload {id} is no longer an upload in progress (completed, aborted or past its window): see claimcheck status {id}"
            )));
        }
        Err(CliError::Refused {
            status: 409, code, ..
        }) if code == "not_multipart" => {
            return Err(CliError::Usage(format!(
                "payload {id} was a single PUT: there is nothing to resume"
            )));
        }
        other => other?,
    };
    if parts.part_count.is_none() {
        return Err(CliError::Usage(format!(
            "payload {id} is a stream of unknown length: only a file's upload can be resumed"
        )));
    }
    let view = api.payload(id, false).await?;
    let announced = view.sha256.as_deref().is_none_or(|s| s == sha256);
    if view.size != stamp.size || !announced {
        return Err(CliError::Usage(format!(
            "{name} is not the file payload {id} was announced with ({} bytes{})",
            view.size,
            view.sha256
                .as_deref()
                .map(|s| format!(", SHA-256 {s}"))
                .unwrap_or_default()
        )));
    }
    let plan = PartPlan {
        part_size: parts.part_size,
        length: Some(stamp.size),
    };
    let done = crate::parts::reusable_parts(path, &plan, &parts.uploaded).await?;
    if !progress.quiet {
        eprintln!(
            "{name}: resuming payload {id}: {} of {} parts are in S3 already",
            done.len(),
            plan.part_count().unwrap_or(0)
        );
    }
    let job = PartsJob {
        id: id.to_owned(),
        plan,
        urls: parts.parts,
        source: Source::File(path.to_owned()),
        done,
        sha256: Some(sha256.clone()),
        name,
        stamp: Some(stamp),
    };
    let state = send_parts(api, http, job, options, progress).await?;
    Ok(Uploaded {
        id: state.id,
        size: state.size,
        sha256,
    })
}

/// A multipart upload to carry out: the payload, its plan, the part URLs at hand, where the
/// bytes come from, the parts S3 holds already, the SHA-256 to complete with, and for a file
/// its stamp when it was hashed.
struct PartsJob {
    id: String,
    plan: PartPlan,
    urls: Vec<claimcheck::api::PartUrl>,
    source: Source,
    done: BTreeMap<u32, String>,
    sha256: Option<String>,
    name: String,
    stamp: Option<FileStamp>,
}

/// A file's size and modification time: a file changed in place while it is uploaded moves
/// them (its parts would no longer add up to the SHA-256 announced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    size: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(info: &std::fs::Metadata) -> Self {
        Self {
            size: info.len(),
            modified: info.modified().ok(),
        }
    }

    /// Whether `path` is no longer as stamped (or cannot be read).
    async fn changed(&self, path: &Path) -> bool {
        tokio::fs::metadata(path)
            .await
            .map_or(true, |info| Self::of(&info) != *self)
    }
}

/// Sends a multipart upload's parts and completes it, one progress bar for it. Interrupted
/// (Ctrl-C, SIGTERM): a stream's upload is aborted (it cannot be read again); a file's is left
/// for `--resume`. A file changed while it was sent: the upload is aborted and the change
/// reported (exit 4), never completed. Any other failure of a file's upload says how to
/// resume it.
async fn send_parts(
    api: &Api,
    http: &reqwest::Client,
    job: PartsJob,
    options: &UploadOptions,
    progress: &progress::Bars,
) -> Result<claimcheck::api::UploadState, CliError> {
    let PartsJob {
        id,
        plan,
        urls,
        source,
        done,
        sha256,
        name,
        stamp,
    } = job;
    let path = match &source {
        Source::File(path) => Some(path.clone()),
        Source::Stream(_) => None,
    };
    let bar = progress.add(plan.length.unwrap_or(0), &name, "uploading");
    let upload = Upload::new(api, http, id.clone(), plan, urls, bar.clone());
    let listening = crate::interrupt::Listening::start();
    let sent = tokio::select! {
        sent = upload.send(source, done, options.parallel) => sent,
        () = listening.interrupted() => Err(CliError::Remote("interrupted".into())),
    };
    bar.finish_and_clear();
    // Checked before completing: a file changed in place since it was hashed would complete
    // into an object whose SHA-256 is not the one announced.
    let changed = match (&path, stamp) {
        (Some(path), Some(stamp)) => stamp.changed(path).await,
        _ => false,
    };
    let error = match sent {
        Ok((parts, computed)) if !changed => {
            match upload.complete(parts, computed.or(sha256)).await {
                Ok(state) => return Ok(state),
                Err(e) => e,
            }
        }
        Ok(_) => CliError::Integrity(String::new()),
        Err(e) => e,
    };
    if changed {
        abort_quietly(api, &id).await;
        return Err(CliError::Integrity(format!(
            "{name} changed while it was uploaded (its size or modification time moved): payload {id} was aborted; upload the file again"
        )));
    }
    match (path, error) {
        (None, error) => {
            abort_quietly(api, &id).await;
            Err(error)
        }
        (Some(_), CliError::Remote(reason)) => Err(CliError::Remote(format!(
            "{reason}; the parts sent so far are kept: finish with claimcheck upload {name} --resume {id}"
        ))),
        (Some(_), other) => Err(other),
    }
}

/// Aborts payload `id`'s multipart upload, best effort (its window closes it otherwise).
async fn abort_quietly(api: &Api, id: &str) {
    if let Err(e) = api.abort(id).await {
        tracing::debug!(error = %e, "could not abort the upload");
    }
}

/// Uploads standard input, of unknown length, as a multipart upload; its SHA-256 is computed
/// on the way and given at completion.
async fn upload_stdin(
    api: &Api,
    http: &reqwest::Client,
    options: &UploadOptions,
    progress: &progress::Bars,
) -> Result<Uploaded, CliError> {
    if options.resume.is_some() {
        return Err(CliError::Usage(
            "--resume needs the file again: standard input cannot be read twice".into(),
        ));
    }
    let content_type = options
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let ticket = api
        .request_upload(
            &UploadRequest::of_unknown_length(content_type).with_metadata(options.metadata.clone()),
        )
        .await?;
    let Some(multipart) = ticket.multipart else {
        return Err(CliError::Remote(
            "the API did not answer a multipart upload for a body of unknown length".into(),
        ));
    };
    // Always, as for a file: the id of what is being uploaded.
    eprintln!(
        "-: payload {} from standard input, in parts of {} bytes",
        ticket.id, multipart.part_size
    );
    let job = PartsJob {
        id: ticket.id.clone(),
        plan: PartPlan {
            part_size: multipart.part_size,
            length: None,
        },
        urls: multipart.parts,
        source: Source::Stream(Box::new(tokio::io::stdin())),
        done: BTreeMap::new(),
        sha256: None,
        name: "-".into(),
        stamp: None,
    };
    let state = send_parts(api, http, job, options, progress).await?;
    Ok(Uploaded {
        id: state.id,
        size: state.size,
        sha256: state.sha256.unwrap_or_default(),
    })
}

/// One presigned PUT of the whole file, its bytes hashed again on the way.
async fn put_single(
    http: &reqwest::Client,
    path: &Path,
    ticket: &UploadTicket,
    url: &str,
    size: u64,
    sha256: String,
    progress: &progress::Bars,
) -> Result<Uploaded, CliError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    let bar = progress.add(size, &path.display().to_string(), "uploading");
    let counter = bar.clone();
    // What is sent is hashed again: a file changed between hashing and sending is caught here
    // (S3 refuses it too, by the signed checksum; the local endpoint does not check).
    let sent = std::sync::Arc::new(std::sync::Mutex::new((Sha256::new(), 0u64)));
    let sending = sent.clone();
    let body = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counter.inc(chunk.len() as u64);
            if let Ok(mut sent) = sending.lock() {
                sent.0.update(chunk);
                sent.1 += chunk.len() as u64;
            }
        }
    });
    let method = reqwest::Method::from_bytes(ticket.method.as_bytes())
        .map_err(|_| CliError::Remote(format!("the API asked for method {:?}", ticket.method)))?;
    let mut request = http
        .request(method, url)
        .body(reqwest::Body::wrap_stream(body));
    for (name, value) in &ticket.headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::transfer("the upload failed", e))?;
    bar.finish_and_clear();
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(CliError::Remote(format!(
            "S3 refused the upload ({status}{})",
            s3_code(&text).map(|c| format!(" {c}")).unwrap_or_default()
        )));
    }
    let (sent_sha256, sent_size) = match sent.lock() {
        Ok(sent) => (sent.0.clone().base64(), sent.1),
        Err(_) => (String::new(), 0),
    };
    if sent_sha256 != sha256 || sent_size != size {
        return Err(CliError::Integrity(format!(
            "{} changed while it was uploaded ({sent_size} bytes sent, {size} announced): the pipeline will refuse payload {} (quarantined, or parked for its checksum); upload the file again",
            path.display(),
            ticket.id
        )));
    }
    Ok(Uploaded {
        id: ticket.id.clone(),
        size,
        sha256,
    })
}

async fn hash_file(
    file: tokio::fs::File,
    path: &Path,
    bar: indicatif::ProgressBar,
) -> Result<String, CliError> {
    let mut hash = Sha256::new();
    crate::parts::each_chunk(file, path, |chunk| {
        hash.update(chunk);
        bar.inc(chunk.len() as u64);
    })
    .await?;
    bar.finish_and_clear();
    Ok(hash.base64())
}

/// Downloads a payload to `target` (default: a file named after the id; `-` is stdout),
/// checking its size and SHA-256 against the ledger. A file is written beside the target and
/// renamed into place only once it checks out.
/// Where `download` writes payload `id`, decided before anything is requested: `-` (stdout),
/// `DIR/<id>` for an existing directory, the file named, or `<id>` here by default.
///
/// # Errors
/// [`CliError::Usage`] when the file exists (without `force`), or names a directory's path
/// that does not exist.
pub fn download_target(
    id: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Result<PathBuf, CliError> {
    let target = match output {
        Some(path) if path.as_os_str() == "-" || is_stream(&path) => return Ok(path),
        Some(path) if path.is_dir() => path.join(id),
        Some(path) if path.as_os_str().to_string_lossy().ends_with('/') => {
            return Err(CliError::Usage(format!(
                "{}: no such directory",
                path.display()
            )));
        }
        Some(path) => path,
        None => PathBuf::from(id),
    };
    if target.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is a directory; name a file inside it",
            target.display()
        )));
    }
    if target.exists() && !force {
        return Err(CliError::Usage(format!(
            "{} exists; pass --force to replace it",
            target.display()
        )));
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        let what = if parent.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(CliError::Usage(format!(
            "cannot write {}: {} {what}",
            target.display(),
            parent.display()
        )));
    }
    Ok(target)
}

/// Downloads payload `id` to `target` (see [`download_target`]), verifying its size and
/// SHA-256 against the ledger's. A file is written under a name of its own (two downloads
/// to one target never share one) and put in place only once verified: replacing the target
/// with `force`, else only if it still does not exist.
pub async fn download(
    api: &Api,
    http: &reqwest::Client,
    id: &str,
    target: PathBuf,
    force: bool,
    quiet: bool,
) -> Result<Downloaded, CliError> {
    let view = api.payload(id, true).await?;
    let Some(link) = &view.download else {
        return Err(CliError::NotFound(format!(
            "payload {id} has nothing to download (status {})",
            view.status
        )));
    };
    let to_stdout = target.as_os_str() == "-";
    // Stdout, a device or a pipe gets the bytes as they arrive (verified at the end); only a
    // regular file is written aside and put in place once verified.
    let streamed = to_stdout || is_stream(&target);
    let partial = partial_path(&target);
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = if to_stdout {
        Box::new(tokio::io::stdout())
    } else if streamed {
        Box::new(
            tokio::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .await
                .map_err(|e| CliError::output(&target, &e))?,
        )
    } else {
        Box::new(
            tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&partial)
                .await
                .map_err(|e| CliError::output(&target, &e))?,
        )
    };
    let bar = progress::bar(view.size, "downloading", quiet);
    let mut received = Received {
        hash: Sha256::new(),
        size: 0,
        etag: None,
    };
    let written = receive(
        api,
        http,
        id,
        &link.url,
        &mut received,
        &mut sink,
        &target,
        &bar,
    )
    .await;
    let (hash, size) = (received.hash, received.size);
    bar.finish_and_clear();
    drop(sink);
    let sha256 = hash.base64();
    let checked = written.and_then(|()| verify(&view, size, &sha256));
    if let Err(e) = checked {
        if !streamed {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        return Err(e);
    }
    if !streamed {
        put_in_place(&partial, &target, force).await?;
    }
    Ok(Downloaded {
        id: id.to_owned(),
        size,
        sha256,
        path: target.display().to_string(),
    })
}

/// What a download has received so far: its hash, its size, and the object's ETag (so a
/// resumed range comes from the same object).
struct Received {
    hash: Sha256,
    size: u64,
    etag: Option<String>,
}

/// How many times a download goes on after a failure (each time from the byte it had reached).
const DOWNLOAD_ATTEMPTS: usize = 5;

/// Receives the object at `url` into `sink`, going on after a dropped connection or a
/// throttled answer with a ranged GET from the byte it reached (`Range: bytes=N-`, with
/// `If-Match` on the first answer's ETag, so the rest comes from the same object), and asking
/// the API for a fresh URL when S3 refuses one that expired. Waits between attempts follow
/// `backon`'s exponential backoff with jitter.
#[allow(clippy::too_many_arguments)]
async fn receive(
    api: &Api,
    http: &reqwest::Client,
    id: &str,
    url: &str,
    received: &mut Received,
    sink: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    target: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<(), CliError> {
    use backon::BackoffBuilder;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(200))
        .with_max_delay(std::time::Duration::from_secs(10))
        .with_max_times(DOWNLOAD_ATTEMPTS)
        .with_jitter()
        .build();
    let mut url = url.to_owned();
    loop {
        let failure = match receive_once(http, &url, received, sink, target, bar).await {
            Ok(()) => return Ok(()),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Expired) => {
                match api.payload(id, true).await?.download {
                    Some(link) => url = link.url,
                    None => {
                        return Err(CliError::NotFound(format!(
                            "payload {id} is no longer there to download"
                        )));
                    }
                }
                CliError::Remote("the download URL expired".into())
            }
            Err(Attempt::Again(e)) => e,
        };
        match delays.next() {
            Some(wait) => {
                tracing::debug!(?wait, error = %failure, "download interrupted; resuming");
                tokio::time::sleep(wait).await;
            }
            None => return Err(failure),
        }
    }
}

/// Why one download attempt stopped.
enum Attempt {
    /// Worth going on from where it stopped.
    Again(CliError),
    /// S3 refused the URL (it expired): ask the API for another.
    Expired,
    /// Not worth another attempt.
    Fatal(CliError),
}

/// One GET (ranged from the bytes already received), streamed into `sink`.
async fn receive_once(
    http: &reqwest::Client,
    url: &str,
    received: &mut Received,
    sink: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    target: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<(), Attempt> {
    let mut request = http.get(url);
    if received.size > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={}-", received.size));
        if let Some(etag) = &received.etag {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
    }
    let response = request
        .send()
        .await
        .map_err(|e| Attempt::Again(CliError::transfer("the download failed", e)))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let code = s3_code(&text).map(|c| format!(" {c}")).unwrap_or_default();
        let error = CliError::Remote(format!("S3 refused the download ({status}{code})"));
        return Err(match status.as_u16() {
            403 => Attempt::Expired,
            412 => Attempt::Fatal(CliError::Integrity(
                "the payload's object changed during the download".into(),
            )),
            429 | 500..=599 => Attempt::Again(error),
            _ => Attempt::Fatal(error),
        });
    }
    if received.size > 0 && status != reqwest::StatusCode::PARTIAL_CONTENT {
        return Err(Attempt::Fatal(CliError::Remote(
            "S3 answered the whole object to a ranged GET".into(),
        )));
    }
    if received.etag.is_none() {
        received.etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| Attempt::Again(CliError::transfer("the download failed", e)))?;
        received.hash.update(&chunk);
        received.size += chunk.len() as u64;
        sink.write_all(&chunk)
            .await
            .map_err(|e| Attempt::Fatal(CliError::output(target, &e)))?;
        bar.inc(chunk.len() as u64);
    }
    sink.flush()
        .await
        .map_err(|e| Attempt::Fatal(CliError::output(target, &e)))
}

fn verify(view: &claimcheck::api::PayloadView, size: u64, sha256: &str) -> Result<(), CliError> {
    if size != view.size {
        return Err(CliError::Integrity(format!(
            "payload {}: got {size} bytes, the ledger says {}",
            view.id, view.size
        )));
    }
    if let Some(expected) = &view.sha256
        && expected != sha256
    {
        return Err(CliError::Integrity(format!(
            "payload {}: SHA-256 {sha256} does not match the ledger's {expected}",
            view.id
        )));
    }
    Ok(())
}

/// Whether `path` is something to write into rather than replace: a device (`/dev/null`), a
/// named pipe or a socket.
fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `<target>.<random>.claimcheck-partial` beside the target: each download writes its own.
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    name.push(format!(".{}.claimcheck-partial", &unique[..12]));
    target.with_file_name(name)
}

/// Moves the verified `partial` file to `target`: replacing it with `force` (an atomic
/// rename), else without ever replacing a file that appeared meanwhile (a hard link fails if
/// the target exists; a filesystem without hard links gets the rename).
async fn put_in_place(partial: &Path, target: &Path, force: bool) -> Result<(), CliError> {
    let placed = if force {
        tokio::fs::rename(partial, target).await
    } else {
        match tokio::fs::hard_link(partial, target).await {
            Ok(()) => tokio::fs::remove_file(partial).await,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = tokio::fs::remove_file(partial).await;
                return Err(CliError::Usage(format!(
                    "{} appeared while downloading; nothing replaced (pass --force to replace it)",
                    target.display()
                )));
            }
            Err(_) => tokio::fs::rename(partial, target).await,
        }
    };
    placed.map_err(|e| CliError::output(target, &e))
}

/// The error code of an S3 XML error body (`<Error><Code>BadDigest</Code>...</Error>`).
pub(crate) fn s3_code(body: &str) -> Option<String> {
    let document = roxmltree::Document::parse(body).ok()?;
    let error = document.root_element();
    if !error.has_tag_name("Error") {
        return None;
    }
    error
        .children()
        .find(|node| node.has_tag_name("Code"))
        .and_then(|code| code.text())
        .map(str::to_owned)
}

/// A content type from the file name's extension (`mime_guess`'s table, plus the line-delimited
/// JSON and Parquet types it lacks); `--content-type` overrides.
pub fn guess_content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "jsonl" | "ndjson" => "application/x-ndjson",
        "parquet" => "application/vnd.apache.parquet",
        _ => mime_guess::from_ext(&extension)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection dropped part-way through a download goes on with a ranged GET from the
    /// byte it reached, on the same object (`If-Match`), and the bytes come out whole.
    #[cfg(feature = "local")]
    #[tokio::test]
    async fn a_dropped_download_resumes_with_a_ranged_get() {
        use axum::http::{HeaderMap, StatusCode};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let served = std::sync::Arc::new((body.clone(), AtomicUsize::new(0)));
        let state = served.clone();
        let app = axum::Router::new().route(
            "/object",
            axum::routing::get(move |headers: HeaderMap| {
                let state = state.clone();
                async move {
                    let (body, requests) = (&state.0, &state.1);
                    let first = requests.fetch_add(1, Ordering::SeqCst) == 0;
                    let mut response = axum::response::Response::builder().header("etag", "\"e1\"");
                    if first {
                        // Announce it all, send a third, then fail the connection.
                        let third = bytes::Bytes::copy_from_slice(&body[..body.len() / 3]);
                        // The error comes a moment later, once the third has gone out.
                        let chunks = futures::stream::iter(vec![Ok(third)]).chain(
                            futures::stream::once(async {
                                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                Err(std::io::Error::other("connection reset"))
                            }),
                        );
                        response = response.header("content-length", body.len());
                        return response
                            .body(axum::body::Body::from_stream(chunks))
                            .expect("response");
                    }
                    let from: usize = headers["range"]
                        .to_str()
                        .ok()
                        .and_then(|r| r.strip_prefix("bytes="))
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse().ok())
                        .expect("a ranged GET");
                    assert_eq!(headers["if-match"], "\"e1\"");
                    response
                        .status(StatusCode::PARTIAL_CONTENT)
                        .body(axum::body::Body::from(body[from..].to_vec()))
                        .expect("response")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let api = Api::new(
            http.clone(),
            reqwest::Url::parse("http://127.0.0.1:9/").expect("url"),
            crate::api_auth::ApiAuth::None,
        );
        let mut received = Received {
            hash: Sha256::new(),
            size: 0,
            etag: None,
        };
        let mut sink: Vec<u8> = Vec::new();
        let bar = indicatif::ProgressBar::hidden();
        receive(
            &api,
            &http,
            "id",
            &format!("http://{address}/object"),
            &mut received,
            &mut sink,
            Path::new("out"),
            &bar,
        )
        .await
        .expect("resumed");
        assert_eq!(sink, body);
        assert_eq!(received.size, body.len() as u64);
        assert_eq!(served.1.load(Ordering::SeqCst), 2, "one drop, one resume");
    }

    #[test]
    fn s3_error_codes_and_content_types() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>BadDigest</Code><Message>x</Message></Error>";
        assert_eq!(s3_code(body).as_deref(), Some("BadDigest"));
        assert_eq!(s3_code("not xml"), None);
        assert_eq!(s3_code("<Other><Code>X</Code></Other>"), None);
        assert_eq!(
            guess_content_type(Path::new("data.json")),
            "application/json"
        );
        assert_eq!(
            guess_content_type(Path::new("events.jsonl")),
            "application/x-ndjson"
        );
        assert_eq!(guess_content_type(Path::new("a/b.CSV")), "text/csv");
        assert_eq!(
            guess_content_type(Path::new("noext")),
            "application/octet-stream"
        );
        // Beside the target, a name of its own each time.
        let (one, two) = (
            partial_path(Path::new("/tmp/x.bin")),
            partial_path(Path::new("/tmp/x.bin")),
        );
        assert_ne!(one, two);
        let name = one.to_string_lossy();
        assert!(
            name.starts_with("/tmp/x.bin.") && name.ends_with(".claimcheck-partial"),
            "{name}"
        );
    }
}
