//! producer: wires settings and clients, then turns S3 notifications into queue messages.

use aws_lambda_events::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use producer::{Producer, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = Producer::new(&sdk, settings)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let deps = &deps;
        async move {
            handle(deps, event.payload)
                .await
                .map(|_| ())
                .map_err(Error::from)
        }
    }))
    .await
}
