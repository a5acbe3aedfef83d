//! The HTTP API on a loopback port, as API Gateway runs it (an axum server): the two routes,
//! each request handed to its handler as `lambda_http` hands it in Lambda (the same
//! `http::Request` with payload format 2.0's request context and path parameters), the
//! handler's response written back. Unknown routes and methods get API Gateway's own
//! `404 {"message":"Not Found"}`, a body over its 10 MB limit `413`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, Request as AxumRequest, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use presign_download::PresignDownload;
use presign_upload::PresignUpload;
use tokio::net::TcpListener;

/// API Gateway's payload limit (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The two routes' handlers.
pub struct ApiHandlers {
    /// `POST /uploads`.
    pub upload: PresignUpload,
    /// `GET /payloads/{id}`.
    pub download: PresignDownload,
}

/// Serves until the task is dropped or aborted. (axum's server backs off when `accept` fails,
/// instead of spinning.)
pub async fn serve(listener: TcpListener, handlers: Arc<ApiHandlers>) {
    let app = Router::new()
        .route("/uploads", post(upload).fallback(not_found))
        .route("/payloads/{id}", get(payload).fallback(not_found))
        .fallback(not_found)
        .with_state(handlers);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, service).await {
        tracing::error!(error = %e, "api: the server stopped");
    }
}

async fn upload(
    State(handlers): State<Arc<ApiHandlers>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: AxumRequest,
) -> Response {
    const ROUTE: &str = "POST /uploads";
    match lambda_request(request, ROUTE, peer, HashMap::new()).await {
        Ok(request) => answer(
            ROUTE,
            presign_upload::handle(&handlers.upload, request).await,
        ),
        Err(refused) => refused,
    }
}

async fn payload(
    State(handlers): State<Arc<ApiHandlers>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: AxumRequest,
) -> Response {
    const ROUTE: &str = "GET /payloads/{id}";
    // axum routes HEAD to GET handlers; API Gateway's route `GET /payloads/{id}` does not.
    if request.method() == axum::http::Method::HEAD {
        return not_found(request).await;
    }
    // The raw segment, as API Gateway passes it: the handler validates it.
    let id = request
        .uri()
        .path()
        .strip_prefix("/payloads/")
        .unwrap_or_default()
        .to_owned();
    let parameters = HashMap::from([("id".to_owned(), id)]);
    match lambda_request(request, ROUTE, peer, parameters).await {
        Ok(request) => answer(
            ROUTE,
            presign_download::handle(&handlers.download, request).await,
        ),
        Err(refused) => refused,
    }
}

async fn not_found(request: AxumRequest) -> Response {
    tracing::info!(method = %request.method(), path = %request.uri().path(), status = 404, "api: no route");
    gateway_message(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#)
}

/// The request as `lambda_http` hands it to the function: the body collected (at most API
/// Gateway's limit), payload format 2.0's request context and the route's path parameters.
async fn lambda_request(
    request: AxumRequest,
    route_key: &str,
    peer: SocketAddr,
    path_parameters: HashMap<String, String>,
) -> Result<lambda_http::Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        gateway_message(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"message":"Request Entity Too Large"}"#,
        )
    })?;
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::from(bytes.to_vec())
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.account_id = Some("000000000000".into());
    context.stage = Some("$default".into());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.apiid = Some("local".into());
    context.domain_name = Some("localhost".into());
    context.time_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());
    context.http.protocol = Some("HTTP/1.1".into());
    context.http.source_ip = Some(peer.ip().to_string());
    context.http.user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(lambda_http::Request::from_parts(parts, body)
        .with_path_parameters(path_parameters)
        .with_request_context(RequestContext::ApiGatewayV2(context)))
}

/// The handler's response, logged by route and status.
fn answer(route: &str, response: lambda_http::Response<Body>) -> Response {
    tracing::info!(
        route,
        status = response.status().as_u16(),
        "api: request handled"
    );
    response.map(|body| match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(text) => AxumBody::from(text),
        Body::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    })
}

/// One of API Gateway's own answers (`{"message": "..."}`).
fn gateway_message(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(AxumBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
