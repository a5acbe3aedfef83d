//! The browser upload page (`web/index.html`, `web/app.js`, compiled in) on the API's own
//! listener, and its `config.json`: the API's base URL and, under `JWT`, a fresh token from the
//! local issuer for the local subject, so the page works with no setup. A deployed page is
//! served by any static host with a `config.json` of its own (see `web/README.md`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::api::{ApiHandlers, json};
use super::auth::Authorization;

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");

/// `GET /` and `GET /index.html`.
pub async fn index() -> Response {
    file(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /app.js`.
pub async fn script() -> Response {
    file(APP_JS, "text/javascript; charset=utf-8")
}

/// `GET /config.json`: `{"api": "<base URL>", "token": "<JWT>" | null}`.
pub async fn config(State(handlers): State<Arc<ApiHandlers>>) -> Response {
    let token = match &handlers.authorization {
        Authorization::Jwt(jwt) => {
            let scopes: Vec<String> = jwt
                .upload_scopes
                .iter()
                .chain(&jwt.read_scopes)
                .cloned()
                .collect();
            match jwt.issuer.token_for(
                &handlers.page_subject,
                super::LOCAL_AUDIENCE,
                &scopes,
                Duration::from_secs(3600),
            ) {
                Ok(token) => Some(token),
                Err(e) => {
                    tracing::error!(error = %e, "page: could not issue a token");
                    None
                }
            }
        }
        _ => None,
    };
    let mut response = json(&serde_json::json!({ "api": handlers.api_url, "token": token }));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn file(text: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(AxumBody::from(text));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
