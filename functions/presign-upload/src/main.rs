//! presign-upload: wires settings and clients, then serves API Gateway events.

use lambda_http::{Error, Request, service_fn};
use presign_upload::{PresignUpload, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = PresignUpload::new(&sdk, settings);
    lambda_http::run(service_fn(|request: Request| {
        let deps = &deps;
        async move { Ok::<_, Error>(handle(deps, request).await) }
    }))
    .await
}
