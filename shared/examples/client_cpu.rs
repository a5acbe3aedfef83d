//! Benchmark: the client's own CPU time (user + sys of this process only, not the endpoint's)
//! to send, receive and delete 200 messages of 1 MiB through the extended client against the
//! endpoint in `AWS_ENDPOINT_URL`. `make bench` prints it beside the official Python extended
//! client doing the same (tests/bench/client_cpu.py).

use claimcheck::extended_client::{OutgoingMessage, ReceiveOptions};
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadStore};

const MESSAGES: usize = 200;
const SIZE: usize = 1 << 20;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = claimcheck::sdk_config::load().await;
    let (s3, sqs) = claimcheck::sdk_config::clients(&config);
    let name = format!(
        "cc-cpu-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    s3.create_bucket().bucket(&name).send().await?;
    let queue = sqs.create_queue().queue_name(&name).send().await?;
    let queue = queue.queue_url().unwrap_or_default().to_owned();
    let mut settings = ExtendedClientConfig::new(&name);
    settings.wait_time_seconds = 1;
    let client = ExtendedClient::new(sqs, PayloadStore::new(s3), settings)?;
    let body = "x".repeat(SIZE);
    let before = cpu_seconds();
    for _ in 0..MESSAGES {
        client
            .send(&queue, OutgoingMessage::new(body.clone()))
            .await?;
    }
    let mut received = 0;
    while received < MESSAGES {
        let batch = client
            .receive(
                &queue,
                &ReceiveOptions {
                    max_messages: 10,
                    ..ReceiveOptions::default()
                },
            )
            .await?;
        for message in batch.into_iter().flatten() {
            let text = message.body.into_string(SIZE).await?;
            assert_eq!(text.len(), SIZE);
            client.delete(&queue, &message.receipt_handle).await?;
            received += 1;
        }
    }
    println!(
        "claimcheck: {MESSAGES} x 1 MiB send+receive+delete: {:.2} s CPU",
        cpu_seconds() - before
    );
    Ok(())
}
