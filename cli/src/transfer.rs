//! `upload` and `download`: the bytes go straight between the file and S3 through presigned
//! URLs, streamed in fixed-size chunks (memory stays flat whatever the size), with a progress
//! bar and the SHA-256 pinned on the way up and checked on the way down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use claimcheck::checksum::Sha256;
use futures::StreamExt;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::CliError;
use claimcheck::api::UploadRequest;

use crate::api::Api;
use crate::progress;

/// Read and write in chunks of this size.
const CHUNK: usize = 256 * 1024;

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

/// Uploads a file: its SHA-256 first (S3 then refuses any other bytes), then a presigned PUT.
pub async fn upload(
    api: &Api,
    http: &reqwest::Client,
    path: &Path,
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    quiet: bool,
) -> Result<Uploaded, CliError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    let info = file
        .metadata()
        .await
        .map_err(|e| CliError::input(path, &e))?;
    if !info.is_file() {
        return Err(CliError::Input {
            path: path.display().to_string(),
            reason: "not a regular file".into(),
        });
    }
    let size = info.len();
    if size == 0 {
        // The API refuses empty payloads (content_length is at least 1): say so before hashing
        // or asking for a URL.
        return Err(CliError::Input {
            path: path.display().to_string(),
            reason: "the file is empty; a payload is 1 byte to 5 GiB".into(),
        });
    }
    let sha256 = hash_file(file, path, size, quiet).await?;
    let ticket = api
        .request_upload(
            &UploadRequest::new(
                content_type.unwrap_or_else(|| guess_content_type(path).to_owned()),
                size,
            )
            .with_sha256(sha256.clone())
            .with_metadata(metadata),
        )
        .await?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::input(path, &e))?;
    let bar = progress::bar(size, "uploading", quiet);
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
        .request(method, &ticket.url)
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
        id: ticket.id,
        size,
        sha256,
    })
}

async fn hash_file(
    mut file: tokio::fs::File,
    path: &Path,
    size: u64,
    quiet: bool,
) -> Result<String, CliError> {
    let bar = progress::bar(size, "hashing", quiet);
    let mut hash = Sha256::new();
    let mut buffer = vec![0; CHUNK];
    loop {
        let n = file
            .read(&mut buffer)
            .await
            .map_err(|e| CliError::input(path, &e))?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        bar.inc(n as u64);
    }
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
    let response = http
        .get(&link.url)
        .send()
        .await
        .map_err(|e| CliError::transfer("the download failed", e))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(CliError::Remote(format!(
            "S3 refused the download ({status}{})",
            s3_code(&text).map(|c| format!(" {c}")).unwrap_or_default()
        )));
    }
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
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut chunks = response.bytes_stream();
    let written: Result<(), CliError> = async {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| CliError::transfer("the download failed", e))?;
            hash.update(&chunk);
            size += chunk.len() as u64;
            sink.write_all(&chunk)
                .await
                .map_err(|e| CliError::output(&target, &e))?;
            bar.inc(chunk.len() as u64);
        }
        sink.flush()
            .await
            .map_err(|e| CliError::output(&target, &e))
    }
    .await;
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
fn s3_code(body: &str) -> Option<String> {
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
