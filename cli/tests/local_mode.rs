//! Local mode on its own, as `make local` runs it: `claimcheck local --write-outputs FILE`, and
//! then every command with `--outputs FILE` alone — no AWS environment variables, no flags
//! naming resources — the way a user tries it from another shell.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tokio::process::Command;

/// `claimcheck ARGS` with an environment that names no AWS endpoint, credentials or region.
async fn claimcheck(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_claimcheck"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn claimcheck");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).await.expect("stdin");
    }
    drop(input);
    child.wait_with_output().await.expect("claimcheck")
}

fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn every_command_works_against_local_mode_with_its_outputs_file_alone() {
    let aws = testkit::endpoint().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let outputs = dir.path().join("local-outputs.json");
    let mut local = Command::new(env!("CARGO_BIN_EXE_claimcheck"))
        .args([
            "local",
            "--name",
            &testkit::unique("alone"),
            "--write-outputs",
        ])
        .arg(&outputs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("claimcheck local");
    let started = Instant::now();
    while !outputs.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "local mode did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let file = outputs.to_str().expect("utf-8 path");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&outputs)
            .expect("outputs")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the outputs file carries credentials: owner only"
        );
    }

    // upload, status, download: the API, signed with the outputs' credentials and region.
    let data = dir.path().join("data.txt");
    std::fs::write(&data, b"hello, local mode\n").expect("data");
    let id = ok(
        &claimcheck(dir.path(), &["--outputs", file, "upload", "data.txt"], None).await,
        "upload",
    );
    let started = Instant::now();
    loop {
        let status = ok(
            &claimcheck(
                dir.path(),
                &["--outputs", file, "status", &id, "--json"],
                None,
            )
            .await,
            "status",
        );
        let status: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
        if status["status"] == "done" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let copy = ok(
        &claimcheck(
            dir.path(),
            &["--outputs", file, "download", &id, "-o", "-"],
            None,
        )
        .await,
        "download",
    );
    assert_eq!(copy, "hello, local mode");

    // send and receive on a queue of one's own (the running consumer takes the work queue's).
    let own = aws.queue().await;
    let queue = ["--outputs", file, "--queue-url", own.as_str()];
    let big = "x".repeat(300 * 1024);
    ok(
        &claimcheck(
            dir.path(),
            &[&queue[..], &["send", "-"]].concat(),
            Some(big.as_bytes()),
        )
        .await,
        "send",
    );
    // Stdout carries the body exactly as sent, nothing added.
    let received = claimcheck(
        dir.path(),
        &[&queue[..], &["receive", "--wait", "1", "--delete"]].concat(),
        None,
    )
    .await;
    ok(&received, "receive");
    assert_eq!(received.stdout, big.as_bytes());

    // The operator's commands: ledger and DLQ through the local endpoint.
    for args in [
        &["failed"][..],
        &["redrive", "--dry-run"],
        &["reconcile", "--dry-run"],
    ] {
        ok(
            &claimcheck(dir.path(), &[&["--outputs", file][..], args].concat(), None).await,
            &format!("{args:?}"),
        );
    }
    local.start_kill().expect("stop local mode");
}

/// Flags that would do nothing, or that Terraform's validation refuses, are refused before
/// anything is provisioned (exit 2, one line).
#[tokio::test]
async fn local_mode_refuses_flags_a_deployment_would_not_take() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (args, why) in [
        (&["--message-group", "payload"][..], "FIFO stack only"),
        (&["--upload-scope", "s"], "JWT authorization only"),
        (&["--cors-origin", "notaurl"], "expected an origin"),
        (
            &["--cors-origin", "https://app.example.com/path"],
            "expected an origin",
        ),
        (&["--operator-arn", "bogus"], "expected an IAM user"),
        (&["--max-receive-count", "0"], "(see --help)"),
        (&["--reconcile-every", "0"], "(see --help)"),
        (
            &["--effects-log", "/nonexistent/e.log"],
            "not a file in an existing directory",
        ),
    ] {
        let output = claimcheck(dir.path(), &[&["local"][..], args].concat(), None).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}
