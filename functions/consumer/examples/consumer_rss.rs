//! Benchmark: the consumer's peak memory as payloads grow. For each size (default 1, 64 and
//! 1024 MiB; `CLAIMCHECK_BENCH_SIZES_MIB=1,64` to change) a generated payload is stored and
//! queued as the producer would, the peak RSS is reset, and the consumer handles the SQS record
//! with the verifying processor (streaming the whole payload and hashing it). Prints one row
//! per size: wall time and rate, the CPU the consumer used (user + system) and the rate per
//! CPU-second — what one core sustains, the figure Terraform's consumer sizing is derived from
//! (`make bench` runs the 5 GiB row pinned to one core with `taskset`). Runs against the
//! endpoint in `AWS_ENDPOINT_URL`.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::sqs::SqsEvent;
use claimcheck::extended_client::SendOptions;
use claimcheck::ledger::{Changes, NewPayload, Status};
use claimcheck::payload_store::PutOptions;
use claimcheck::processor::VerifyingProcessor;
use claimcheck::{MessageAttribute, MessageAttributes, PayloadPointer};
use consumer::{Consumer, Settings, handle};

const MIB: u64 = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u64> = std::env::var("CLAIMCHECK_BENCH_SIZES_MIB")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 64, 1024]);
    let aws = testkit::endpoint().await;
    let bucket = aws.bucket().await;
    let queue = aws.queue().await;
    let dlq = aws.queue().await;
    let ledger = aws.ledger().await;
    let settings = Settings {
        bucket: bucket.clone(),
        trusted_buckets: vec![],
        table: ledger.table().to_owned(),
        dlq_url: dlq,
        max_receive_count: 5,
        lease: Duration::from_secs(900),
        delete_after_done: true,
        deadline_margin: Duration::from_secs(5),
        max_payload_bytes: None,
    };
    let mut consumer = Consumer::new(&aws.config, settings, VerifyingProcessor)?;
    // Its metrics kept in memory: stdout is the table.
    consumer.metrics = std::sync::Arc::new(claimcheck::metrics::Metrics::new(
        "bench",
        "consumer",
        claimcheck::metrics::Sink::Memory(Default::default()),
    ));
    println!("consumer (verifying processor: streams and hashes the whole payload)");
    println!(
        "| payload | handled in | MB/s | consumer CPU (user+sys) | MB per CPU-second | peak RSS while consuming | goal |"
    );
    println!("|---|---|---|---|---|---|---|");
    for mib in sizes {
        let size = mib * MIB;
        let id = uuid::Uuid::new_v4().to_string();
        let object = PayloadPointer::new(&bucket, format!("uploads/{id}"));
        let mut source = testkit::Generated::new(size);
        consumer
            .client
            .store()
            .put_stream(&object, &mut source, &PutOptions::default())
            .await?;
        let sha = source.hash.base64();
        let payload = NewPayload {
            id: id.clone(),
            object: object.clone(),
            size,
            content_type: "application/octet-stream".into(),
            sha256: Some(sha),
            metadata: HashMap::new(),
            url_expires_at: 0,
            owner: None,
            quota_key: None,
            multipart: None,
        };
        consumer.ledger.create_pending(&payload).await?;
        consumer
            .ledger
            .transition(&id, &[Status::Pending], Status::Queued, &Changes::default())
            .await?;
        let attributes =
            MessageAttributes::from([("payload_id".to_owned(), MessageAttribute::string(&id))]);
        consumer
            .client
            .send_pointer(&queue, &object, size, attributes, SendOptions::default())
            .await?;
        let message = aws
            .peek(&queue)
            .await
            .into_iter()
            .next()
            .ok_or("no message")?;
        let record =
            testkit::lambda_record(&message, "arn:aws:sqs:us-east-1:123456789012:bench", 1);
        let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": [record] }))?;
        aws.sqs
            .delete_message()
            .queue_url(&queue)
            .set_receipt_handle(message.receipt_handle)
            .send()
            .await?;

        testkit::reset_peak_rss();
        let (user, sys) = testkit::cpu::cpu_seconds();
        let started = Instant::now();
        let response = handle(
            &consumer,
            event,
            SystemTime::now() + Duration::from_secs(900),
        )
        .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let (user_after, sys_after) = testkit::cpu::cpu_seconds();
        let cpu = (user_after - user) + (sys_after - sys);
        let peak = testkit::peak_rss_mib();
        let status = consumer.ledger.get(&id).await?.map(|r| r.status);
        if !response.batch_item_failures.is_empty() || status != Some(Status::Done) {
            return Err(format!("{mib} MiB payload was not processed: {status:?}").into());
        }
        let mb = size as f64 / 1e6;
        println!(
            "| {mib} MiB | {elapsed:.1} s | {:.0} | {cpu:.1} s | {:.0} | {peak:.1} MiB | ≤ 64 MiB |",
            mb / elapsed,
            mb / cpu.max(1e-9)
        );
    }
    Ok(())
}
