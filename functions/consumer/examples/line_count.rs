//! The extension point: a consumer binary around your own `Processor`. This one counts the
//! lines of each payload while streaming it (memory stays one buffer whatever the size) and
//! refuses payloads that are not UTF-8 text, which parks them instead of retrying.
//!
//! Build it like the shipped consumer (`cargo lambda build --release --example line_count`)
//! and deploy it with the consumer's settings.

use aws_lambda_events::sqs::SqsEvent;
use claimcheck::processor::{Body, Outcome, PayloadMeta, Processor};
use consumer::{Consumer, Settings, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokio::io::AsyncBufReadExt;

struct LineCounter;

impl Processor for LineCounter {
    async fn process(&self, meta: &PayloadMeta, body: Body) -> Outcome {
        let mut lines = body.lines();
        let mut count = 0u64;
        loop {
            match lines.next_line().await {
                Ok(Some(_)) => count += 1,
                Ok(None) => break,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return Outcome::Permanent("payload is not UTF-8 text".into());
                }
                Err(e) => return Outcome::Retry(format!("reading the payload failed: {e}")),
            }
        }
        tracing::info!(payload_id = ?meta.id, lines = count, "payload counted");
        Outcome::Done { sha256: None }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = Consumer::new(&sdk, settings, LineCounter)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deps = &deps;
        let deadline = event.context.deadline();
        async move { Ok::<_, Error>(handle(deps, event.payload, deadline).await?) }
    }))
    .await
}
