//! The `claimcheck` binary, run as a user runs it, against the local AWS endpoint and the
//! HTTP API served in process by local mode's API server (the real presign handlers).

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use claimcheck::object_key::KeyPrefix;
use claimcheck_cli::local::api::{ApiHandlers, serve};
use claimcheck_cli::local::auth::Authorization;
use claimcheck_cli::local::auth::sigv4::{IamAuth, LocalCredential};
use serde_json::Value;

struct Stack {
    aws: testkit::Endpoint,
    api_url: String,
    bucket: String,
    table: String,
    queue: String,
    dlq: String,
    dir: tempfile::TempDir,
}

async fn stack() -> Stack {
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let ledger = aws.ledger().await;
    let table = ledger.table().to_owned();
    let prefix = KeyPrefix::new("uploads/").expect("prefix");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_url = format!("http://{}", listener.local_addr().expect("address"));
    let handlers = ApiHandlers {
        call_log: Default::default(),
        api_url: api_url.clone(),
        page_subject: "local-user".into(),
        upload: presign_upload::PresignUpload::new(
            &aws.config_as("presign-upload"),
            presign_upload::Settings {
                bucket: bucket.clone(),
                table: table.clone(),
                uploads_prefix: prefix.clone(),
                max_size: 1 << 30,
                // S3's smallest parts: multipart uploads of a few parts stay small.
                multipart_threshold: presign_upload::multipart::MIN_PART_SIZE,
                part_size: presign_upload::multipart::MIN_PART_SIZE,
                multipart_window: Duration::from_secs(3600),
                allowed_content_types: vec![],
                url_lifetime: Duration::from_secs(900),
                require_sha256: true,
                max_pending: 100,
            },
        ),
        download: presign_download::PresignDownload::new(
            &aws.config_as("presign-download"),
            presign_download::Settings {
                bucket: bucket.clone(),
                table: table.clone(),
                uploads_prefix: prefix,
                url_lifetime: Duration::from_secs(300),
                access: Default::default(),
            },
        ),
        // Terraform's default: every command must sign its API requests.
        authorization: Authorization::AwsIam(IamAuth {
            region: "us-east-1".into(),
            credentials: vec![LocalCredential::standard_test()],
        }),
        cors: Default::default(),
    };
    tokio::spawn(serve(listener, Arc::new(handlers)));
    let queue = aws.queue().await;
    let dlq = aws.queue().await;
    Stack {
        aws,
        api_url,
        bucket,
        table,
        queue,
        dlq,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Stack {
    /// Runs `claimcheck ARGS` configured through the environment, as a user would.
    async fn claimcheck(&self, args: &[&str]) -> Output {
        self.claimcheck_with_stdin(args, None).await
    }

    async fn claimcheck_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.claimcheck_with(args, stdin, &[]).await
    }

    /// Runs `claimcheck ARGS` with `stdin` and extra environment variables.
    async fn claimcheck_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimcheck"));
        command
            .envs(env.iter().copied())
            .args(args)
            .env("CLAIMCHECK_API_URL", &self.api_url)
            .env("CLAIMCHECK_BUCKET", &self.bucket)
            .env("CLAIMCHECK_TABLE", &self.table)
            .env("CLAIMCHECK_QUEUE_URL", &self.queue)
            .env("CLAIMCHECK_DLQ_URL", &self.dlq)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("spawn claimcheck");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).await.expect("write stdin");
        }
        drop(input);
        child.wait_with_output().await.expect("claimcheck ran")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "claimcheck failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// The single stderr line of a failed run, and its exit code.
fn failure(output: &Output) -> (i32, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line, no backtrace: {stderr:?}"
    );
    assert!(stderr.starts_with("claimcheck: error: "), "{stderr:?}");
    (output.status.code().expect("exit code"), stderr)
}

/// The producer's part, which does not run in these tests: the upload passed its checks and
/// was admitted (only an admitted payload gets a download URL).
async fn admit(table: &str, id: &str) {
    testkit::harness_ledger(table)
        .await
        .transition(
            id,
            &[claimcheck::ledger::Status::Pending],
            claimcheck::ledger::Status::Queued,
            &claimcheck::ledger::Changes::default(),
        )
        .await
        .expect("admitted");
}

/// Largest peak RSS of any child process this test binary has waited for, in MiB.
fn children_peak_rss_mib() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage.ru_maxrss as f64 / 1024.0
}

async fn write_generated(path: &Path, size: u64) -> String {
    let mut source = testkit::Generated::new(size);
    let mut file = tokio::fs::File::create(path).await.expect("create");
    tokio::io::copy(&mut source, &mut file)
        .await
        .expect("write");
    source.hash.hex()
}

async fn file_sha256(path: &Path) -> String {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await.expect("open");
    let mut hash = claimcheck::checksum::Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).await.expect("read");
        if n == 0 {
            return hash.hex();
        }
        hash.update(&buffer[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_round_trip_256_mib_in_bounded_memory() {
    const SIZE: u64 = 256 << 20;
    let s = stack().await;
    let original = s.path("big.bin");
    let sha = write_generated(Path::new(&original), SIZE).await;

    let uploaded = json(
        &s.claimcheck(&["upload", &original, "--json", "--quiet"])
            .await,
    );
    let id = uploaded["id"].as_str().expect("id").to_owned();
    assert_eq!(uploaded["size"], SIZE);

    let status = json(&s.claimcheck(&["status", &id, "--json"]).await);
    assert_eq!(status["status"], "pending", "no producer runs in this test");
    assert!(status.get("download").is_none(), "URLs are never printed");
    admit(&s.table, &id).await;

    let copy = s.path("copy.bin");
    let downloaded = json(
        &s.claimcheck(&["download", &id, "-o", &copy, "--json", "--quiet"])
            .await,
    );
    assert_eq!(downloaded["size"], SIZE);
    assert_eq!(file_sha256(Path::new(&copy)).await, sha, "byte-identical");
    // Streaming in 256 KiB chunks: the process never holds the payload. The bound is far
    // below the 256 MiB that buffering would take (a debug build's baseline is ~20 MiB).
    let peak = children_peak_rss_mib();
    println!("claimcheck peak RSS over upload and download of 256 MiB: {peak:.1} MiB");
    assert!(peak < 96.0, "peak RSS {peak:.1} MiB");
}

/// A reader that stops reading (`claimcheck ... | head`) ends the output quietly: no panic,
/// no backtrace, the command's own exit code.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let s = stack().await;
    let small = s.path("small.txt");
    std::fs::write(&small, "hello\n").expect("write");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimcheck"))
        .args(["upload", &small, "--quiet"])
        .env("CLAIMCHECK_API_URL", &s.api_url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().await.expect("ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn bad_input_gives_one_clear_line_and_a_nonzero_exit() {
    let s = stack().await;
    let small = s.path("small.csv");
    std::fs::write(&small, "a,b\n1,2\n").expect("write");

    let (code, line) = failure(&s.claimcheck(&["upload", &s.path("missing.bin")]).await);
    assert_eq!(code, 2);
    assert!(
        line.contains("cannot read") && line.contains("No such file or directory"),
        "{line}"
    );

    // An empty file: refused before it is hashed or a URL is asked for (no API at all here).
    let empty = s.path("empty.txt");
    std::fs::write(&empty, "").expect("write");
    let (code, line) = failure(
        &s.claimcheck(&["upload", &empty, "--api", "http://127.0.0.1:9"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(
        line.contains("the file is empty; a payload is at least 1 byte"),
        "{line}"
    );

    // Root reads any file whatever its mode, so "unreadable" is a directory here.
    let (code, line) = failure(&s.claimcheck(&["upload", &s.path("")]).await);
    assert_eq!(code, 2);
    assert!(line.contains("not a regular file"), "{line}");

    let (code, line) = failure(
        &s.claimcheck(&["upload", &small, "--api", "not a url"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("bad API URL"), "{line}");

    let unknown = uuid::Uuid::new_v4().to_string();
    for command in ["status", "download"] {
        let (code, line) = failure(&s.claimcheck(&[command, &unknown]).await);
        assert_eq!(code, 3, "{command}");
        assert!(line.contains(&format!("no payload {unknown}")), "{line}");
    }

    // The API refuses a malformed content type: its code and message, exit 2.
    let (code, line) = failure(
        &s.claimcheck(&["upload", &small, "--content-type", "not a type"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("400 invalid_content_type"), "{line}");

    // Nobody listening: a remote failure, exit 1.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let (code, line) = failure(
        &s.claimcheck(&[
            "upload",
            &small,
            "--api",
            &format!("http://127.0.0.1:{closed}"),
        ])
        .await,
    );
    assert_eq!(code, 1);
    assert!(line.contains("cannot reach the API"), "{line}");

    // The API wants SigV4 (Terraform's default): a request sent unsigned, signed for another
    // region, or without the token a JWT API needs is refused with one line, exit 2.
    let (code, line) = failure(
        &s.claimcheck(&["upload", &small, "--api-auth", "NONE"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(
        line.contains("403") && line.contains("not authorized"),
        "{line}"
    );
    let (code, line) = failure(
        &s.claimcheck(&["status", &unknown, "--region", "eu-west-1"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("valid region"), "{line}");
    let (code, line) = failure(
        &s.claimcheck(&["status", &unknown, "--api-auth", "JWT"])
            .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("--token"), "{line}");

    // Messages the send rules refuse are usage mistakes: exit 2, one line.
    let reserved = ["send", "-", "--attribute", "ExtendedPayloadSize=1"];
    let mut eleven = vec!["send".to_owned(), "-".to_owned()];
    for i in 0..11 {
        eleven.extend(["--attribute".to_owned(), format!("a{i}=v")]);
    }
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    for (args, stdin) in [
        (&["send", "-"][..], &b""[..]),
        (&reserved[..], &b"body"[..]),
        (&eleven[..], &b"body"[..]),
    ] {
        let (code, line) = failure(&s.claimcheck_with_stdin(args, Some(stdin)).await);
        assert_eq!(code, 2, "{args:?}");
        assert!(line.contains("cannot send"), "{line}");
    }
    // Attribute names and values SQS would refuse, and a name given twice: refused here,
    // exit 2, before anything is sent.
    for (attribute, why) in [
        ("a b=c", "may use only"),
        ("AWS.trace=x", "reserves"),
        (".x=1", "period"),
        ("empty=", "empty value"),
    ] {
        let args = ["send", "-", "--attribute", attribute];
        let (code, line) = failure(&s.claimcheck_with_stdin(&args, Some(b"body")).await);
        assert_eq!(code, 2, "{attribute}");
        assert!(line.contains(why), "{attribute}: {line}");
    }
    let twice = ["send", "-", "--attribute", "k=1", "--attribute", "k=2"];
    let (code, line) = failure(&s.claimcheck_with_stdin(&twice, Some(b"body")).await);
    assert_eq!(code, 2);
    assert!(line.contains("given twice"), "{line}");

    // --profile wins over the environment's keys, as for the AWS CLI: bob's key (unknown to
    // this API) signs, not the environment's; a profile that does not exist is an error.
    let config = s.path("aws-config");
    std::fs::write(
        &config,
        "[profile bob]\naws_access_key_id = AKIDBOBEXAMPLE\naws_secret_access_key = bob-secret\n",
    )
    .expect("write");
    let profile_env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    let (code, line) = failure(
        &s.claimcheck_with(
            &["status", &unknown, "--profile", "bob"],
            None,
            &profile_env,
        )
        .await,
    );
    assert_eq!(code, 2);
    assert!(
        line.contains("security token included in the request is invalid"),
        "{line}"
    );
    let (code, line) = failure(
        &s.claimcheck_with(
            &["status", &unknown, "--profile", "nosuch"],
            None,
            &profile_env,
        )
        .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("nosuch"), "{line}");

    // API Gateway's own 404 (a wrong base path or stage) is not "no such payload".
    let (code, line) = failure(
        &s.claimcheck(&["status", &unknown, "--api", &format!("{}/prod", s.api_url)])
            .await,
    );
    assert_eq!(code, 2);
    assert!(
        line.contains("(404)") && line.contains("base URL"),
        "{line}"
    );

    // Not configured at all.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimcheck"))
        .args(["status", &unknown])
        .env_remove("CLAIMCHECK_API_URL")
        .output()
        .await
        .expect("ran");
    let (code, line) = failure(&output);
    assert_eq!(code, 2);
    assert!(line.contains("--api"), "{line}");

    // A usage mistake clap finds: exit 2, one line like every other error.
    let (code, line) = failure(&s.claimcheck(&["download"]).await);
    assert_eq!(code, 2);
    assert!(
        line.contains("<ID>") && line.ends_with("(see --help)\n"),
        "{line}"
    );
    let (code, line) = failure(&s.claimcheck(&["--bogus", "status"]).await);
    assert_eq!(code, 2);
    assert!(line.contains("--bogus"), "{line}");
}

#[tokio::test]
async fn send_and_receive_large_and_small_messages_from_the_shell() {
    let s = stack().await;
    let large = s.path("large.bin");
    let sha = write_generated(Path::new(&large), 300 * 1024).await;
    let sent = json(
        &s.claimcheck(&["send", &large, "--attribute", "kind=report", "--json"])
            .await,
    );
    // Under Terraform's messages prefix: the consumer's role may read it and a lifecycle rule
    // expires it (never the bucket's root).
    assert!(
        sent["offloaded_to"]
            .as_str()
            .is_some_and(|p| p.starts_with(&format!("s3://{}/messages/", s.bucket))),
        "{sent}"
    );
    let small = json(
        &s.claimcheck_with_stdin(&["send", "--json"], Some(b"hello from stdin"))
            .await,
    );
    assert!(small["offloaded_to"].is_null());

    let out_dir = s.path("received");
    std::fs::create_dir(&out_dir).expect("dir");
    let received = json(
        &s.claimcheck(&[
            "receive", "--max", "10", "--wait", "1", "-o", &out_dir, "--delete", "--json",
        ])
        .await,
    );
    let received = received.as_array().expect("array");
    assert_eq!(received.len(), 2);
    let big = received
        .iter()
        .find(|m| m["offloaded"] == true)
        .expect("the offloaded one");
    assert_eq!(big["attributes"]["kind"], "report");
    let file = big["file"].as_str().expect("file");
    assert_eq!(file_sha256(Path::new(file)).await, sha);
    let inline = received
        .iter()
        .find(|m| m["offloaded"] == false)
        .expect("the inline one");
    let text = std::fs::read_to_string(inline["file"].as_str().expect("file")).expect("read");
    assert_eq!(text, "hello from stdin");
    // The messages are deleted; the payload object is marked for the bucket's lifecycle rule
    // (a copy of the pointer SQS may still hold must find it), not deleted.
    assert_eq!(s.aws.approximate_count(&s.queue).await, 0);
    let keys = s.aws.keys(&s.bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("messages/"), "{keys:?}");
    let tags = s.aws.tags(&s.bucket, &keys[0]).await;
    assert!(
        tags.iter()
            .any(|(key, _)| key == claimcheck::payload_store::EXPIRED_TAG_KEY)
    );
}

#[tokio::test]
async fn operators_list_failures_and_redrive_from_the_shell() {
    use claimcheck::PayloadPointer;
    use claimcheck::ledger::{Changes, Ledger, NewPayload, Status};

    let s = stack().await;
    let ledger = Ledger::new(aws_sdk_dynamodb::Client::new(&s.aws.config), &s.table);
    let id = uuid::Uuid::new_v4().to_string();
    let object = PayloadPointer::new(&s.bucket, format!("uploads/{id}"));
    ledger
        .create_pending(&NewPayload {
            id: id.clone(),
            object: object.clone(),
            size: 5,
            content_type: "text/plain".into(),
            sha256: None,
            metadata: Default::default(),
            url_expires_at: ledger.now() + 60_000,
            owner: None,
            quota_key: None,
            multipart: None,
        })
        .await
        .expect("create");
    let dead = Changes {
        last_error: Some("processor: upstream timeout".into()),
        ..Changes::default()
    };
    ledger
        .transition(&id, &[], Status::Dead, &dead)
        .await
        .expect("dead");
    s.aws
        .s3
        .put_object()
        .bucket(&s.bucket)
        .key(&object.key)
        .body(b"hello".to_vec().into())
        .send()
        .await
        .expect("put");
    let attribute = |value: &str, data_type: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type(data_type)
            .string_value(value)
            .build()
            .expect("attribute")
    };
    s.aws
        .sqs
        .send_message()
        .queue_url(&s.dlq)
        .message_body(object.to_body())
        .message_attributes("ExtendedPayloadSize", attribute("5", "Number"))
        .message_attributes("payload_id", attribute(&id, "String"))
        .send()
        .await
        .expect("park");

    let failed = json(&s.claimcheck(&["failed", "--json"]).await);
    assert_eq!(failed[0]["id"], id.as_str());
    assert_eq!(failed[0]["last_error"], "processor: upstream timeout");

    let dry = json(&s.claimcheck(&["redrive", "--dry-run", "--json"]).await);
    assert_eq!(dry["mode"], "redrive");
    assert_eq!(dry["stats"]["redriven"], 1);
    assert_eq!(s.aws.approximate_count(&s.queue).await, 0);
    // A dry run says what it would do.
    let dry_text = s.claimcheck(&["redrive", "--dry-run"]).await;
    let dry_text = String::from_utf8_lossy(&dry_text.stdout);
    assert!(
        dry_text.contains("would be redriven 1") && dry_text.contains("would redrive"),
        "{dry_text}"
    );

    // --native against the local endpoint (no StartMessageMoveTask there): said plainly, and
    // the ledger is untouched — it follows only what SQS confirmed.
    let (code, line) = failure(&s.claimcheck(&["redrive", "--native"]).await);
    assert_eq!(code, 1);
    assert!(
        line.contains("cannot run SQS's StartMessageMoveTask")
            && line.contains("nothing was changed"),
        "{line}"
    );
    let record = ledger.get(&id).await.expect("ledger").expect("item");
    assert_eq!(record.status, Status::Dead);
    assert_eq!(s.aws.approximate_count(&s.dlq).await, 1);

    let human = s.claimcheck(&["redrive"]).await;
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.starts_with(
            "redrive: scanned 1, redriven 1, parked 0, skipped 0, failed 0 (complete)"
        ),
        "{text}"
    );
    assert_eq!(s.aws.approximate_count(&s.queue).await, 1);

    let reconcile = json(&s.claimcheck(&["reconcile", "--json"]).await);
    assert_eq!(reconcile["mode"], "reconcile");
    assert_eq!(reconcile["stats"]["stalled"], 0);

    let (code, line) = failure(&s.claimcheck(&["failed", "--status", "broken"]).await);
    assert_eq!(code, 2);
    assert!(line.contains("unknown status"), "{line}");

    // Bad flag values are usage errors (clap's message on one line, exit 2), before any AWS
    // call.
    for args in [
        &["redrive", "--payload-id", "notauuid"][..],
        &["redrive", "--max", "0"],
        &["redrive", "--native", "--reason", "timeout"],
        &["reconcile", "--max", "0"],
        &["failed", "--limit", "0"],
    ] {
        let (code, line) = failure(&s.claimcheck(args).await);
        assert_eq!(code, 2, "{args:?}: {line}");
        assert!(line.ends_with("(see --help)\n"), "{args:?}: {line}");
    }
    // Empty results say so (on stderr; stdout stays empty for scripts).
    let none = s.claimcheck(&["failed", "--status", "quarantined"]).await;
    assert!(none.status.success());
    assert!(none.stdout.is_empty());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no payloads in state quarantined"));
}

/// A repair run that stopped early is not a success, in text and `--json` alike: a DLQ or a
/// table that does not exist ends `redrive` and `reconcile` with exit 5 after their report.
#[tokio::test]
async fn repair_runs_that_stopped_early_exit_non_zero() {
    let s = stack().await;
    let missing_dlq = format!("{}-missing", s.dlq);
    let missing_table = format!("{}-missing", s.table);
    for (flag, value, command) in [
        ("--dlq-url", missing_dlq.as_str(), "redrive"),
        ("--table", missing_table.as_str(), "reconcile"),
    ] {
        for json in [false, true] {
            let mut args = vec![flag, value, command, "--dry-run"];
            if json {
                args.push("--json");
            }
            let output = s.claimcheck(&args).await;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(5), "{args:?}: {stdout} {stderr}");
            assert!(
                stderr.contains("not everything was done"),
                "{args:?}: {stderr}"
            );
            if json {
                let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
                assert_eq!(report["complete"], false, "{report}");
            } else {
                assert!(stdout.contains("stopped early"), "{args:?}: {stdout}");
            }
        }
    }
    // Reaching --max is what was asked for: exit 0.
    let output = s.claimcheck(&["reconcile", "--max", "1"]).await;
    assert!(output.status.success(), "{output:?}");
}

/// Downloads never overwrite by surprise nor leave debris: an existing file is refused before
/// anything is requested (unless `--force`), `-o DIR` writes `DIR/<id>`, a missing directory
/// is refused. `receive` writes one body to stdout exactly as sent; several bodies, or `--json`
/// with its report, need `-o DIR`.
#[tokio::test]
async fn download_targets_and_receive_framing_keep_bytes_exact() {
    let s = stack().await;
    let data = s.path("data.txt");
    std::fs::write(&data, "exact bytes").expect("write");
    let uploaded = json(&s.claimcheck(&["upload", &data, "--json", "--quiet"]).await);
    let id = uploaded["id"].as_str().expect("id").to_owned();
    admit(&s.table, &id).await;

    let existing = s.path("existing.txt");
    std::fs::write(&existing, "keep me").expect("write");
    let (code, line) = failure(&s.claimcheck(&["download", &id, "-o", &existing]).await);
    assert_eq!(code, 2);
    assert!(line.contains("exists; pass --force"), "{line}");
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep me");
    let forced = s
        .claimcheck(&["download", &id, "-o", &existing, "--force"])
        .await;
    assert!(forced.status.success(), "{forced:?}");
    assert_eq!(
        std::fs::read_to_string(&existing).expect("read"),
        "exact bytes"
    );

    let dir = s.path("into");
    std::fs::create_dir(&dir).expect("dir");
    let into = s.claimcheck(&["download", &id, "-o", &dir]).await;
    assert!(into.status.success(), "{into:?}");
    let written = Path::new(&dir).join(&id);
    assert_eq!(
        std::fs::read_to_string(&written).expect("DIR/<id>"),
        "exact bytes"
    );
    let entries: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(entries.len(), 1, "no partial file left behind");
    // A named pipe (like /dev/null) is written into, never replaced by a file.
    let pipe = s.path("pipe");
    let c_path = std::ffi::CString::new(pipe.clone()).expect("path");
    // SAFETY: mkfifo is given a valid NUL-terminated path; it only creates a file system node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let reader = {
        let pipe = pipe.clone();
        std::thread::spawn(move || std::fs::read(pipe).expect("read the pipe"))
    };
    let into_pipe = s.claimcheck(&["download", &id, "-o", &pipe]).await;
    assert!(into_pipe.status.success(), "{into_pipe:?}");
    assert_eq!(reader.join().expect("reader"), b"exact bytes");
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(&pipe).expect("pipe").file_type();
        assert!(kind.is_fifo(), "still a named pipe");
    }
    let missing = s.path("missing/file.txt");
    let (code, line) = failure(&s.claimcheck(&["download", &id, "-o", &missing]).await);
    assert_eq!(code, 2);
    assert!(line.contains("missing does not exist"), "{line}");
    let (code, line) = failure(
        &s.claimcheck(&["download", &id, "-o", &format!("{dir}/none/")])
            .await,
    );
    assert_eq!(code, 2);
    assert!(line.contains("no such directory"), "{line}");

    let sent = s
        .claimcheck_with_stdin(&["send"], Some(b"no newline added"))
        .await;
    assert!(sent.status.success(), "{sent:?}");
    let received = s.claimcheck(&["receive", "--wait", "1", "--delete"]).await;
    assert!(received.status.success(), "{received:?}");
    assert_eq!(received.stdout, b"no newline added");
    for args in [&["receive", "--max", "2"][..], &["receive", "--json"]] {
        let (code, line) = failure(&s.claimcheck(args).await);
        assert_eq!(code, 2, "{args:?}");
        assert!(line.contains("needs -o DIR"), "{args:?}: {line}");
    }
}

/// One readable line per error: an HTML page from a wrong `--api` is described, not printed;
/// an AWS call that cannot even get credentials says why without the SDK's `Debug` dump.
#[tokio::test]
async fn errors_are_one_readable_line_without_pages_or_dumps() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let page = "<html>\n<head><title>404 Not Found</title></head>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>\n";
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let s = stack().await;
    let api = format!("http://{address}");
    let (code, line) = failure(
        &s.claimcheck(&[
            "--api",
            &api,
            "status",
            "00000000-0000-4000-8000-000000000000",
        ])
        .await,
    );
    assert_eq!(code, 2);
    assert!(
        !line.contains("<html") && line.contains("text/html"),
        "{line}"
    );
    assert!(line.contains("is --api the API's base URL?"), "{line}");

    let body = s.path("body.txt");
    std::fs::write(&body, "hello").expect("write");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimcheck"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "--queue-url",
            "http://127.0.0.1:9/q",
            "--bucket",
            "b",
            "--region",
        ])
        .args(["us-east-1", "send", &body])
        .output()
        .await
        .expect("ran");
    let (code, line) = failure(&output);
    assert_eq!(code, 1);
    for dump in ["DispatchFailure(", "headers", "SdkBody", "{"] {
        assert!(!line.contains(dump), "{dump:?} in {line}");
    }
}

/// FIFO: sending the same content twice in a group delivers it once, offloaded or inline (the
/// body's SHA-256 is the deduplication id unless one is given).
#[tokio::test]
async fn fifo_sends_of_the_same_content_are_delivered_once() {
    let s = stack().await;
    let fifo = s.aws.fifo_queue().await;
    let large = s.path("large.bin");
    write_generated(Path::new(&large), 300 * 1024).await;
    for _ in 0..2 {
        let args = ["--queue-url", &fifo, "send", &large, "--group-id", "g1"];
        assert!(s.claimcheck(&args).await.status.success());
        let args = ["--queue-url", &fifo, "send", "-", "--group-id", "g1"];
        let small = s.claimcheck_with_stdin(&args, Some(b"small body")).await;
        assert!(small.status.success(), "{small:?}");
    }
    let given = ["--queue-url", &fifo, "send", "-", "--group-id", "g2"];
    for id in ["one", "two"] {
        let args = [&given[..], &["--deduplication-id", id]].concat();
        let sent = s.claimcheck_with_stdin(&args, Some(b"small body")).await;
        assert!(sent.status.success(), "{sent:?}");
    }
    // g1: the large body and the small one, once each; g2: two distinct given ids.
    assert_eq!(s.aws.approximate_count(&fifo).await, 4);
}
