//! consumer: wires settings and clients, then handles SQS batches with the verifying processor.

use aws_lambda_events::sqs::SqsEvent;
use claimcheck::processor::VerifyingProcessor;
use consumer::{Consumer, Settings, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = Consumer::new(&sdk, settings, VerifyingProcessor)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deps = &deps;
        let deadline = event.context.deadline();
        async move { Ok::<_, Error>(handle(deps, event.payload, deadline).await?) }
    }))
    .await
}
