//! redriver: wires settings and clients, then runs the requested mode (redrive, native,
//! reconcile) until done or until the invocation's deadline is near.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use redriver::{Request, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_source(&claimcheck::settings::Environment)?;
    let sdk = claimcheck::sdk_config::load().await;
    let deps = settings.redriver(&sdk)?;
    let metrics = redriver::metrics();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Request>| {
        let (deps, metrics) = (&deps, &metrics);
        let deadline = event.context.deadline();
        async move {
            handle(deps, metrics, event.payload, deadline)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
