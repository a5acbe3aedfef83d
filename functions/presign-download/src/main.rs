//! presign-download: wires settings and clients, then serves API Gateway events.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use presign_download::{PresignDownload, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = PresignDownload::new(&sdk, settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let deps = &deps;
        async move { Ok::<_, Error>(handle(deps, event.payload).await) }
    }))
    .await
}
