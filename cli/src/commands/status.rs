//! `claimcheck status`: Show a payload's state in the ledger.

use crate::CliError;

use super::Context;

/// The arguments of `claimcheck status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

/// Runs `claimcheck status`.
pub async fn run(args: Args, cx: &Context) -> Result<(), CliError> {
    let Args { id } = args;
    let (endpoints, out, http) = (&cx.endpoints, &cx.out, &cx.http);
    let api = endpoints.api_client(http).await?;
    let view = api.payload(&id, false).await?;
    out.emit(&without_download_url(&view), || {
        vec![
            format!("payload     {}", view.id),
            format!("status      {}", view.status),
            format!("size        {}", view.size),
            format!(
                "type        {}",
                view.content_type.as_deref().unwrap_or("-")
            ),
            format!("sha256      {}", view.sha256.as_deref().unwrap_or("-")),
            format!("last error  {}", view.last_error.as_deref().unwrap_or("-")),
        ]
    });
    Ok(())
}

/// A payload view for printing: its download link (a credential) left out.
fn without_download_url(view: &claimcheck::api::PayloadView) -> serde_json::Value {
    let mut value = serde_json::to_value(view).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("download");
    }
    value
}
