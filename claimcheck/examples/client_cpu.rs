//! Benchmark: the client's own CPU time (user + sys of this process only, not the endpoint's)
//! to send, receive and delete 200 messages of 1 MiB through the extended client against the
//! endpoint in `AWS_ENDPOINT_URL`. `make bench` prints it beside the official Python extended
//! client doing the same (tests/bench/client_cpu.py).

use claimcheck::extended_client::{OutgoingMessage, ReceiveOptions};
use claimcheck::{ExtendedClient, ExtendedClientConfig, PayloadStore};

use testkit::cpu::{self, MESSAGES, SIZE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = claimcheck::sdk_config::load().await;
    let (s3, sqs) = claimcheck::sdk_config::clients(&config);
    let name = testkit::unique("cc-cpu");
    s3.create_bucket().bucket(&name).send().await?;
    let queue = sqs.create_queue().queue_name(&name).send().await?;
    let queue = queue.queue_url().unwrap_or_default().to_owned();
    let mut settings = ExtendedClientConfig::new(&name);
    // The same work per message as the Python client, which deletes each payload object at once
    // (claimcheck's default marks it for the lifecycle rule instead: two tagging calls).
    settings.payload_cleanup = claimcheck::extended_client::CleanupPolicy::Immediate;
    settings.wait_time_seconds = 1;
    let client = ExtendedClient::new(sqs, PayloadStore::new(s3), settings)?;
    // Every message's body is made before the clock starts: the send takes it by value without
    // copying it, as the Python client takes its `str`, so copying one body per send inside the
    // measured loop would charge the client with the benchmark's own work.
    let bodies: Vec<String> = (0..MESSAGES).map(|_| "x".repeat(SIZE)).collect();
    let before = cpu::cpu_seconds();
    for body in bodies {
        client.send(&queue, OutgoingMessage::new(body)).await?;
    }
    let mut received = 0;
    while received < MESSAGES {
        let batch = client
            .receive(&queue, &ReceiveOptions::default().with_max_messages(10))
            .await?;
        for message in batch.into_iter().flatten() {
            let text = message.body.into_string(SIZE).await?;
            assert_eq!(text.len(), SIZE);
            client.delete(&queue, &message.receipt_handle).await?;
            received += 1;
        }
    }
    let after = cpu::cpu_seconds();
    let (user, sys) = (after.0 - before.0, after.1 - before.1);
    println!(
        "claimcheck: {MESSAGES} x 1 MiB send+receive+delete: {:.2} s CPU (user {user:.2} s, sys {sys:.2} s)",
        user + sys
    );
    Ok(())
}
