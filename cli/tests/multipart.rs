//! Multipart uploads through local mode's API, end to end: the `claimcheck` binary uploading
//! files, standard input and an upload interrupted (SIGKILL) and resumed; every bad request
//! to the multipart routes refused with a clear 4xx that changes nothing; the payloads flowing
//! through the producer (`ObjectCreated:CompleteMultipartUpload`) and the verifying consumer to
//! `done`; reconcile aborting a multipart upload past its window.

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use claimcheck::api::{CompleteRequest, UploadRequest};
use claimcheck::ledger::{Ledger, Status};
use claimcheck::multipart::{CompletedPart, MIN_PART_SIZE};
use claimcheck::processor::VerifyingProcessor;
use claimcheck_cli::CliError;
use claimcheck_cli::api::Api;
use claimcheck_cli::api_auth::ApiAuth;
use claimcheck_cli::local::auth::sigv4::LocalCredential;
use claimcheck_cli::local::{self, AuthSettings, Faults, LocalSettings, Running};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const OTHER_USER: &str = "arn:aws:iam::123456789012:user/someone-else";

struct Stack {
    running: Running,
    aws: testkit::Endpoint,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Stack {
    /// Local mode with S3's smallest parts (5 MiB), so a few parts stay small, and a second
    /// caller in the credentials table.
    async fn start(customise: impl FnOnce(&mut LocalSettings)) -> Self {
        let aws = testkit::endpoint().await;
        let mut settings =
            LocalSettings::from_defaults(&testkit::unique("multipart")).expect("defaults");
        settings.multipart_threshold = MIN_PART_SIZE;
        settings.part_size = MIN_PART_SIZE;
        settings.reconcile_every = None;
        settings.authorization = AuthSettings::AwsIam {
            credentials: vec![
                LocalCredential::standard_test(),
                LocalCredential {
                    access_key_id: "other".into(),
                    secret_access_key: "other-secret".into(),
                    session_token: None,
                    user_arn: OTHER_USER.into(),
                },
            ],
        };
        customise(&mut settings);
        let running = local::start(
            &aws.config,
            &settings,
            VerifyingProcessor,
            Faults::default(),
        )
        .await
        .expect("local mode");
        Self {
            running,
            aws,
            http: reqwest::Client::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The API as the standard test user (`other`: as someone else).
    fn api(&self, other: bool) -> Api {
        Api::new(
            self.http.clone(),
            reqwest::Url::parse(&self.running.api_url).expect("API URL"),
            self.auth(other),
        )
    }

    /// SigV4 as the standard test user (`other`: as someone else).
    fn auth(&self, other: bool) -> ApiAuth {
        let credentials = if other {
            aws_credential_types::Credentials::new("other", "other-secret", None, None, "test")
        } else {
            aws_credential_types::Credentials::new(
                "testing",
                "testing",
                Some("testing".into()),
                None,
                "test",
            )
        };
        ApiAuth::SigV4 {
            credentials: aws_credential_types::provider::SharedCredentialsProvider::new(
                credentials,
            ),
            region: self.running.region.clone(),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimcheck"));
        command
            .args(args)
            .env("CLAIMCHECK_API_URL", &self.running.api_url)
            .env("CLAIMCHECK_API_AUTH", "AWS_IAM")
            .env("CLAIMCHECK_TABLE", &self.running.stack.table)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `claimcheck ARGS --json` with `stdin`; its JSON answer.
    async fn claimcheck(&self, args: &[&str], stdin: Option<&[u8]>) -> serde_json::Value {
        let mut child = self.command(args).arg("--json").spawn().expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).await.expect("write stdin");
        }
        drop(input);
        let output = child.wait_with_output().await.expect("ran");
        assert!(
            output.status.success(),
            "claimcheck {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON")
    }

    fn ledger(&self) -> Ledger {
        Ledger::new(
            aws_sdk_dynamodb::Client::new(&self.aws.config),
            &self.running.stack.table,
        )
    }

    /// Waits until payload `id` is `done`, and downloads it through the binary; its SHA-256
    /// (hex).
    async fn done_and_downloaded(&self, id: &str) -> String {
        let started = Instant::now();
        loop {
            let record = self.ledger().get(id).await.expect("ledger").expect("known");
            match record.status {
                Status::Done => break,
                Status::Pending | Status::Queued | Status::Processing => {}
                other => panic!("payload {id} is {other}: {:?}", record.last_error),
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "payload {id} is still {}",
                record.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let target = self.dir.path().join(format!("{id}.out"));
        let target = target.display().to_string();
        let downloaded = self
            .claimcheck(&["download", id, "-o", &target], None)
            .await;
        assert_eq!(
            downloaded["size"],
            self.ledger()
                .get(id)
                .await
                .expect("ledger")
                .expect("known")
                .size
        );
        hex_of_base64(downloaded["sha256"].as_str().expect("sha256"))
    }
}

fn hex_of_base64(b64: &str) -> String {
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64"),
    )
}

async fn generated_file(dir: &std::path::Path, name: &str, size: u64) -> (String, String) {
    let path = dir.join(name);
    let mut source = testkit::Generated::new(size);
    let mut file = tokio::fs::File::create(&path).await.expect("create");
    tokio::io::copy(&mut source, &mut file)
        .await
        .expect("write");
    (path.display().to_string(), source.hash.hex())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_standard_input_go_in_parts_through_the_pipeline_to_done() {
    let s = Stack::start(|_| {}).await;
    // 12 MiB + 1: three parts of 5 MiB, the last 2 MiB + 1 byte; and a small one in the same
    // command (a single PUT), each with its own answer.
    let (big, big_sha) = generated_file(s.dir.path(), "big.bin", 12 * 1024 * 1024 + 1).await;
    let (small, small_sha) = generated_file(s.dir.path(), "small.bin", 1000).await;
    let uploaded = s.claimcheck(&["upload", &big, &small], None).await;
    let uploaded = uploaded.as_array().expect("one answer per file");
    assert_eq!(uploaded.len(), 2);
    let big_id = uploaded[0]["id"].as_str().expect("id");
    let record = s
        .ledger()
        .get(big_id)
        .await
        .expect("ledger")
        .expect("known");
    let multipart = record.multipart.expect("uploaded in parts");
    assert_eq!(
        (multipart.part_size, multipart.part_count),
        (MIN_PART_SIZE, Some(3))
    );
    assert_eq!(s.done_and_downloaded(big_id).await, big_sha);
    let small_id = uploaded[1]["id"].as_str().expect("id");
    assert_eq!(s.done_and_downloaded(small_id).await, small_sha);

    // Standard input of unknown length: parts as it is read, the SHA-256 given at completion.
    let bytes = testkit::pseudo_random(11 * 1024 * 1024 + 7, 7);
    let expected = hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        &bytes,
    )));
    let piped = s.claimcheck(&["upload", "-"], Some(&bytes)).await;
    let id = piped["id"].as_str().expect("id");
    assert_eq!(piped["size"], bytes.len() as u64);
    let record = s.ledger().get(id).await.expect("ledger").expect("known");
    assert_eq!(record.multipart.expect("in parts").part_count, None);
    assert_eq!(s.done_and_downloaded(id).await, expected);

    // An empty standard input is refused, and its upload aborted.
    let mut child = s.command(&["upload", "-"]).spawn().expect("spawn");
    drop(child.stdin.take());
    let output = child.wait_with_output().await.expect("ran");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("standard input is empty"));

    // `claimcheck stats`: the ledger by state, and the sums of what the handlers reported in
    // their metrics (local mode's EMF log).
    let log = s
        .running
        .metrics_log
        .clone()
        .expect("local mode writes a metrics log");
    let log = log.display().to_string();
    let stats = s
        .claimcheck(
            &[
                "stats",
                "--metrics-log",
                &log,
                "--stack",
                &s.running.stack_name,
            ],
            None,
        )
        .await;
    assert_eq!(stats["ledger"]["done"], 3, "{stats}");
    let total = |function: &str, metric: &str| {
        stats["metrics"]["series"]
            .as_array()
            .expect("series")
            .iter()
            .filter(|s| s["function"] == function && s["metric"] == metric)
            .map(|s| s["total"].as_f64().expect("total"))
            .sum::<f64>()
    };
    assert_eq!(total("consumer", "PayloadsDone"), 3.0, "{stats}");
    assert_eq!(total("producer", "PayloadsQueued"), 3.0);
    assert_eq!(total("presign-upload", "MultipartUploadsCompleted"), 2.0);
    assert_eq!(total("presign-upload", "MultipartUploadsAborted"), 1.0);
    assert_eq!(
        total("consumer", "BytesProcessed"),
        (12 * 1024 * 1024 + 1 + 1000 + bytes.len()) as f64
    );
    for function in ["presign-upload", "presign-download", "producer", "consumer"] {
        assert_eq!(total(function, "ColdStart"), 1.0, "{function}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_part_way_is_resumed_from_the_parts_s3_holds() {
    let s = Stack::start(|_| {}).await;
    const PARTS: u64 = 24;
    let (file, sha) = generated_file(s.dir.path(), "resume.bin", PARTS * MIN_PART_SIZE - 3).await;
    let (mut child, id, line) =
        upload_in_flight(&s, &["upload", &file, "--parallel", "1"], None, 3).await;
    // "FILE: payload ID in 24 parts of 5242880 bytes; if interrupted, ..."
    assert!(line.contains(&format!("--resume {id}")), "{line}");
    let api = s.api(false);
    child.kill().await.expect("killed");
    let held = api.parts(&id, 1).await.expect("parts").uploaded.len();
    assert!(
        (3..PARTS as usize).contains(&held),
        "killed part-way: {held} parts"
    );
    assert_eq!(
        s.ledger()
            .get(&id)
            .await
            .expect("ledger")
            .expect("known")
            .status,
        Status::Pending
    );

    // The wrong file is refused before anything is sent.
    let (other, _) = generated_file(s.dir.path(), "other.bin", 1000).await;
    let output = s
        .command(&["upload", &other, "--resume", &id])
        .output()
        .await
        .expect("ran");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not the file"));

    let output = s
        .command(&["upload", &file, "--resume", &id, "--json"])
        .output()
        .await
        .expect("ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let reused: usize = stderr
        .split("resuming payload ")
        .nth(1)
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("how many parts were reused");
    assert!(reused >= held.min(3), "{stderr}");
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(s.done_and_downloaded(&id).await, sha);
}

/// A multipart upload opened through the API for parts of `sizes` and parts of `sent` sizes
/// sent, not completed: the payload id and each part's ETag.
async fn opened_sending(
    s: &Stack,
    api: &Api,
    sizes: &[usize],
    sent: &[usize],
    sha256: Option<String>,
) -> (String, Vec<String>) {
    let length: usize = sizes.iter().sum();
    let mut request = UploadRequest::new("application/octet-stream", length as u64);
    if let Some(sha) = sha256 {
        request = request.with_sha256(sha);
    }
    let ticket = api.request_upload(&request).await.expect("opened");
    let multipart = ticket.multipart.expect("multipart");
    let mut etags = Vec::new();
    for (index, (part, size)) in multipart.parts.iter().zip(sent).enumerate() {
        // Sent as a client would, with exactly the signed headers except the length, which
        // the local endpoint does not check against the signature (AWS refuses a different
        // one: the sizes are checked server-side at completion too).
        let response = s
            .http
            .put(&part.url)
            .body(vec![index as u8; *size])
            .send()
            .await
            .expect("part sent");
        assert!(response.status().is_success());
        etags.push(
            response.headers()["etag"]
                .to_str()
                .expect("ETag")
                .to_owned(),
        );
    }
    (ticket.id, etags)
}

/// A multipart upload opened through the API with its parts sent, not completed.
async fn opened(
    s: &Stack,
    api: &Api,
    sizes: &[usize],
    sha256: Option<String>,
) -> (String, Vec<String>) {
    opened_sending(s, api, sizes, sizes, sha256).await
}

fn parts(etags: &[String], numbers: &[u32]) -> Vec<CompletedPart> {
    numbers
        .iter()
        .map(|&n| CompletedPart {
            part_number: n,
            etag: etags
                .get(n as usize - 1)
                .cloned()
                .unwrap_or_else(|| "\"none\"".into()),
        })
        .collect()
}

/// A bad request's name, what it got (status, error code) and what it must get.
type Case<'a> = (&'a str, (u16, String), (u16, &'a str));

fn refused<T: std::fmt::Debug>(answer: Result<T, CliError>) -> (u16, String) {
    match answer {
        Err(CliError::Refused { status, code, .. }) => (status, code),
        Err(CliError::NotFound(_)) => (404, "not_found".into()),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_multipart_request_is_a_clear_4xx_that_changes_nothing() {
    let s = Stack::start(|_| {}).await;
    let (api, other) = (s.api(false), s.api(true));
    let mib5 = MIN_PART_SIZE as usize;
    let sha = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let (id, etags) = opened(&s, &api, &[mib5, mib5, 10], Some(sha.clone())).await;
    let before = s.ledger().get(&id).await.expect("ledger").expect("known");
    let complete = |numbers: &[u32]| CompleteRequest::new(parts(&etags, numbers), None);
    let mut wrong_etag = complete(&[1, 2, 3]);
    wrong_etag.parts[1].etag = etags[0].clone();

    let mut cases: Vec<Case> = vec![
        (
            "a declared length over S3's 5 TiB",
            refused(
                api.request_upload(&UploadRequest::new("text/csv", (5 << 40) + 1))
                    .await,
            ),
            (400, "content_length_too_large"),
        ),
        (
            "part URLs from part 0",
            api_parts(&s, &id, "0").await.expect_err("refused"),
            (400, "invalid_part_number"),
        ),
        (
            "part URLs past the last part",
            api_parts(&s, &id, "4").await.expect_err("refused"),
            (400, "invalid_part_number"),
        ),
        (
            "part URLs from a word",
            api_parts(&s, &id, "one").await.expect_err("refused"),
            (400, "invalid_part_number"),
        ),
        (
            "no parts",
            refused(api.complete(&id, &complete(&[])).await),
            (400, "invalid_parts"),
        ),
        (
            "a part missing",
            refused(api.complete(&id, &complete(&[1, 2])).await),
            (400, "invalid_parts"),
        ),
        (
            "a part twice",
            refused(api.complete(&id, &complete(&[1, 1, 2])).await),
            (400, "invalid_parts"),
        ),
        (
            "parts out of order",
            refused(api.complete(&id, &complete(&[2, 1, 3])).await),
            (400, "invalid_parts"),
        ),
        (
            "a part past the count",
            refused(api.complete(&id, &complete(&[1, 2, 3, 4])).await),
            (400, "invalid_parts"),
        ),
        (
            "a part number over 10 000",
            refused(api.complete(&id, &complete(&[10_001])).await),
            (400, "invalid_parts"),
        ),
        (
            "another part's ETag",
            refused(api.complete(&id, &wrong_etag).await),
            (400, "etag_mismatch"),
        ),
        (
            "a SHA-256 unlike the announced one",
            refused(
                api.complete(
                    &id,
                    &CompleteRequest::new(
                        parts(&etags, &[1, 2, 3]),
                        Some(base64::engine::general_purpose::STANDARD.encode([8u8; 32])),
                    ),
                )
                .await,
            ),
            (400, "sha256_mismatch"),
        ),
        (
            "a SHA-256 that is not one",
            refused(
                api.complete(
                    &id,
                    &CompleteRequest::new(parts(&etags, &[1, 2, 3]), Some("abc".into())),
                )
                .await,
            ),
            (400, "invalid_sha256"),
        ),
        (
            "another caller's part URLs",
            refused(other.parts(&id, 1).await),
            (404, "not_found"),
        ),
        (
            "another caller completing",
            refused(other.complete(&id, &complete(&[1, 2, 3])).await),
            (404, "not_found"),
        ),
        (
            "another caller aborting",
            refused(other.abort(&id).await),
            (404, "not_found"),
        ),
        (
            "an unknown payload",
            refused(api.parts(&uuid::Uuid::new_v4().to_string(), 1).await),
            (404, "not_found"),
        ),
        (
            "a payload id that is not one",
            api_parts(&s, "not-a-uuid", "1").await.expect_err("refused"),
            (400, "invalid_id"),
        ),
    ];
    // Parts S3 holds that break the plan: a short middle part, and a body longer than the
    // declared length (the local endpoint takes any size through a URL; AWS refuses a size
    // other than the signed one, and the check here is the server's own).
    let (short, short_etags) = opened(&s, &api, &[mib5 - 1, mib5, 10], None).await;
    let (long, long_etags) =
        opened_sending(&s, &api, &[mib5, mib5, 10], &[mib5, mib5, 11], None).await;
    cases.push((
        "a short middle part",
        refused(
            api.complete(
                &short,
                &CompleteRequest::new(parts(&short_etags, &[1, 2, 3]), Some(sha.clone())),
            )
            .await,
        ),
        (400, "part_size_mismatch"),
    ));
    cases.push((
        "parts longer than the declared length",
        refused(
            api.complete(
                &long,
                &CompleteRequest::new(parts(&long_etags, &[1, 2, 3]), Some(sha.clone())),
            )
            .await,
        ),
        (400, "content_length_mismatch"),
    ));
    cases.push((
        "no SHA-256 at all",
        refused(
            api.complete(
                &long,
                &CompleteRequest::new(parts(&long_etags, &[1, 2, 3]), None),
            )
            .await,
        ),
        (400, "missing_sha256"),
    ));
    assert!(cases.len() >= 15, "{} cases", cases.len());
    for (name, got, (status, code)) in &cases {
        assert_eq!((got.0, got.1.as_str()), (*status, *code), "{name}");
    }
    // Nothing changed: the payload as it was, no object.
    let after = s.ledger().get(&id).await.expect("ledger").expect("known");
    assert_eq!(after, before);
    assert!(s.aws.keys(&s.running.stack.bucket).await.is_empty());

    // A single PUT's payload has no parts to ask for.
    let single = api
        .request_upload(&UploadRequest::new("text/plain", 5).with_sha256(sha.clone()))
        .await
        .expect("single PUT");
    assert!(single.url.is_some() && single.multipart.is_none());
    assert_eq!(
        refused(api.parts(&single.id, 1).await),
        (409, "not_multipart".into())
    );

    // Two completes at once: exactly one completes, the other finds the upload closed.
    let (race, race_etags) = opened(&s, &api, &[mib5, 3], Some(sha.clone())).await;
    let both = CompleteRequest::new(parts(&race_etags, &[1, 2]), None);
    let (one, two) = tokio::join!(api.complete(&race, &both), api.complete(&race, &both));
    let refusals: Vec<_> = [one, two].into_iter().filter_map(Result::err).collect();
    assert_eq!(refusals.len(), 1, "exactly one of two completes wins");
    assert_eq!(
        refused::<()>(Err(refusals.into_iter().next().expect("one"))),
        (409, "upload_closed".into())
    );

    // Completed once: completing again, asking for parts and aborting are refused.
    let done = api
        .complete(&id, &complete(&[1, 2, 3]))
        .await
        .expect("completed");
    assert_eq!(
        (done.size, done.status),
        (2 * MIN_PART_SIZE + 10, Status::Pending)
    );
    assert_eq!(
        refused(api.complete(&id, &complete(&[1, 2, 3])).await),
        (409, "upload_closed".into())
    );
    assert_eq!(
        refused(api.parts(&id, 1).await),
        (409, "upload_closed".into())
    );
    assert_eq!(refused(api.abort(&id).await), (409, "upload_closed".into()));

    // Aborted: the payload expired, its upload closed to every route.
    let aborted = api.abort(&long).await.expect("aborted");
    assert_eq!(aborted.status, Status::Expired);
    let record = s.ledger().get(&long).await.expect("ledger").expect("known");
    assert_eq!(record.status, Status::Expired);
    assert!(record.last_error.expect("why").contains("aborted"));
    assert_eq!(
        refused(api.complete(&long, &complete(&[1])).await),
        (409, "upload_closed".into())
    );
    assert_eq!(
        refused(api.parts(&long, 1).await),
        (409, "upload_closed".into())
    );
}

/// `GET /uploads/{id}/parts?from=RAW`, signed, for values the typed client never sends: the
/// status and error code.
async fn api_parts(s: &Stack, id: &str, from: &str) -> Result<(), (u16, String)> {
    let url = format!("{}/uploads/{id}/parts?from={from}", s.running.api_url);
    let mut request = s.http.get(url).build().expect("request");
    s.auth(false).apply(&mut request).await.expect("signed");
    let response = s.http.execute(request).await.expect("answered");
    let status = response.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON");
    match body["error"]["code"].as_str() {
        Some(code) => Err((status, code.to_owned())),
        None => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_aborts_a_multipart_upload_past_its_window() {
    let s = Stack::start(|settings| {
        settings.upload_url_lifetime = Duration::from_secs(1);
        settings.multipart_window = Duration::from_secs(1);
        settings.pending_grace = Duration::ZERO;
        settings.reconcile_every = Some(Duration::from_secs(1));
    })
    .await;
    let api = s.api(false);
    let (id, _) = opened(&s, &api, &[MIN_PART_SIZE as usize, 3], None).await;
    let s3 = aws_sdk_s3::Client::new(&s.aws.config);
    let open_uploads = || async {
        s3.list_multipart_uploads()
            .bucket(&s.running.stack.bucket)
            .send()
            .await
            .expect("uploads")
            .uploads()
            .len()
    };
    assert_eq!(open_uploads().await, 1);
    let started = Instant::now();
    loop {
        let record = s.ledger().get(&id).await.expect("ledger").expect("known");
        if record.status == Status::Expired {
            assert!(
                record
                    .last_error
                    .expect("why")
                    .contains("not completed in time")
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open_uploads().await, 0, "the parts are gone");
    assert_eq!(
        refused(api.parts(&id, 1).await),
        (409, "upload_closed".into())
    );
}

/// Spawns `claimcheck upload ARGS` (stdin piped from `stdin`), waits until S3 holds at least
/// `parts` parts of its upload, and answers the child, its payload id and the first line it
/// printed.
async fn upload_in_flight(
    s: &Stack,
    args: &[&str],
    stdin: Option<Vec<u8>>,
    parts: usize,
) -> (tokio::process::Child, String, String) {
    let mut child = s.command(args).spawn().expect("spawn");
    let input = child.stdin.take().expect("stdin");
    // Fed from a task: the command reads standard input as it sends parts.
    tokio::spawn(async move {
        let mut input = input;
        if let Some(bytes) = stdin {
            let _ = input.write_all(&bytes).await;
        }
    });
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), stderr.next_line())
        .await
        .expect("a first line")
        .expect("read")
        .expect("a line");
    let id = line
        .split("payload ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the payload id")
        .to_owned();
    let api = s.api(false);
    let started = Instant::now();
    while api.parts(&id, 1).await.expect("parts").uploaded.len() < parts {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no parts arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The rest of stderr, for the test's asserts.
    child.stderr = None;
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, id, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_while_uploaded_or_an_interrupted_stream_is_aborted_not_completed() {
    let s = Stack::start(|_| {}).await;
    // A file changed in place part-way: the command notices (size or modification time), aborts
    // the upload and exits 4; nothing is completed.
    let (file, _) = generated_file(s.dir.path(), "changing.bin", 24 * MIN_PART_SIZE).await;
    let (child, id, _) = upload_in_flight(&s, &["upload", &file, "--parallel", "1"], None, 2).await;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .expect("open");
        f.seek(SeekFrom::Start(20 * MIN_PART_SIZE)).expect("seek");
        f.write_all(b"changed").expect("write");
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .expect("mtime");
    }
    let output = child.wait_with_output().await.expect("ran");
    assert_eq!(output.status.code(), Some(4));
    let record = s.ledger().get(&id).await.expect("ledger").expect("known");
    assert_eq!(record.status, Status::Expired, "aborted");

    // Standard input interrupted (SIGINT) part-way: it cannot be read again, so the upload is
    // aborted before the command ends.
    let bytes = testkit::pseudo_random(30 * MIN_PART_SIZE as usize, 5);
    let (child, id, _) =
        upload_in_flight(&s, &["upload", "-", "--parallel", "1"], Some(bytes), 2).await;
    let pid = child.id().expect("running") as i32;
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let output = child.wait_with_output().await.expect("ran");
    assert_eq!(output.status.code(), Some(1));
    let record = s.ledger().get(&id).await.expect("ledger").expect("known");
    assert_eq!(record.status, Status::Expired, "aborted");
}
