//! The HTTP API on a loopback port, as API Gateway runs it (an axum server): the two routes,
//! each request authorized as the deployment's `api_authorization` says ([`super::auth`]) and
//! handed to its handler as `lambda_http` hands it in Lambda (the same `http::Request` with
//! payload format 2.0's request context, authorizer and path parameters), the handler's
//! response written back. CORS preflights are answered before authorization
//! ([`super::cors`]). Unknown routes and methods get API Gateway's own
//! `404 {"message":"Not Found"}`, a body over its 10 MB limit `413`. Under `JWT`, the local
//! issuer's discovery document and JWKS are served at `/.well-known/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, Request as AxumRequest, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use presign_download::PresignDownload;
use presign_upload::PresignUpload;
use tokio::net::TcpListener;

use super::auth::{Authorization, Route};
use super::cors::{Cors, Preflight};
use super::page;

/// API Gateway's payload limit (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The routes' handlers, and what API Gateway does before them.
pub struct ApiHandlers {
    /// `POST /uploads` and the multipart routes under `/uploads/{id}`.
    pub upload: PresignUpload,
    /// `GET /payloads/{id}`.
    pub download: PresignDownload,
    /// The routes' authorization.
    pub authorization: Authorization,
    /// The API's CORS configuration.
    pub cors: Cors,
    /// The API's base URL, for the upload page's `config.json`.
    pub api_url: String,
    /// Whom the upload page's token names under `JWT` (`--token-subject`).
    pub page_subject: String,
    /// Where each request and its function's invocation are recorded (cost benchmark).
    pub call_log: Arc<super::call_log::CallLog>,
}

/// Serves until the task is dropped or aborted. (axum's server backs off when `accept` fails,
/// instead of spinning.)
pub async fn serve(listener: TcpListener, handlers: Arc<ApiHandlers>) {
    use Function::{PresignDownload, PresignUpload};
    let app = Router::new()
        .route(
            "/uploads",
            post(to(("POST /uploads", Route::Upload, PresignUpload))).fallback(no_route),
        )
        .route(
            "/uploads/{id}",
            delete(to(("DELETE /uploads/{id}", Route::Upload, PresignUpload))).fallback(no_route),
        )
        .route(
            "/uploads/{id}/parts",
            get(to((
                "GET /uploads/{id}/parts",
                Route::Upload,
                PresignUpload,
            )))
            .fallback(no_route),
        )
        .route(
            "/uploads/{id}/complete",
            post(to((
                "POST /uploads/{id}/complete",
                Route::Upload,
                PresignUpload,
            )))
            .fallback(no_route),
        )
        .route(
            "/payloads/{id}",
            get(to(("GET /payloads/{id}", Route::Read, PresignDownload))).fallback(no_route),
        )
        .route("/.well-known/jwks.json", get(jwks).fallback(no_route))
        .route(
            "/.well-known/openid-configuration",
            get(discovery).fallback(no_route),
        )
        .route("/", get(page::index).fallback(no_route))
        .route("/index.html", get(page::index).fallback(no_route))
        .route("/app.js", get(page::script).fallback(no_route))
        .route("/config.json", get(page::config).fallback(no_route))
        .fallback(no_route)
        .with_state(handlers);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, service).await {
        tracing::error!(error = %e, "api: the server stopped");
    }
}

/// The function behind a route.
#[derive(Clone, Copy)]
enum Function {
    PresignUpload,
    PresignDownload,
}

/// A route as API Gateway knows it: its route key, its authorization, its function.
type RouteSpec = (&'static str, Route, Function);

/// What an axum handler of a route answers with.
type Answer = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The axum handler of `spec` ([`dispatch`]).
fn to(
    spec: RouteSpec,
) -> impl Fn(State<Arc<ApiHandlers>>, ConnectInfo<SocketAddr>, AxumRequest) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(handlers), ConnectInfo(peer), request| {
        Box::pin(async move { dispatch(handlers, request, peer, spec).await })
    }
}

/// One of the API's routes, as API Gateway runs it: the route key authorized as its route,
/// the request handed to its function with the `{id}` path parameter when the route has one.
async fn dispatch(
    handlers: Arc<ApiHandlers>,
    request: AxumRequest,
    peer: SocketAddr,
    (route_key, route, function): RouteSpec,
) -> Response {
    // axum routes HEAD to GET handlers; API Gateway's GET routes do not.
    if request.method() == Method::HEAD {
        return no_route(State(handlers), request).await;
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    // The raw `{id}` segment, as API Gateway passes it: the handler validates it.
    let parameters = match route_key.contains("{id}") {
        true => {
            let segments: Vec<&str> = request.uri().path().split('/').collect();
            let id = segments.get(2).copied().unwrap_or_default().to_owned();
            HashMap::from([("id".to_owned(), id)])
        }
        false => HashMap::new(),
    };
    let mut response =
        match lambda_request(&handlers, request, route_key, route, peer, parameters).await {
            Ok(request) => {
                let started = std::time::Instant::now();
                let (name, response) = match function {
                    Function::PresignUpload => (
                        "presign-upload",
                        presign_upload::handle(&handlers.upload, request).await,
                    ),
                    Function::PresignDownload => (
                        "presign-download",
                        presign_download::handle(&handlers.download, request).await,
                    ),
                };
                handlers.call_log.invocation(name, started.elapsed(), 1);
                answer(route_key, response)
            }
            Err(refused) => refused,
        };
    // API Gateway bills every request, the ones its authorizer refuses too.
    handlers
        .call_log
        .api_request(route_key, response.status().as_u16());
    handlers.cors.decorate(origin.as_ref(), &mut response);
    response
}

/// The local issuer's JWKS (under `JWT` authorization; no such route otherwise).
async fn jwks(State(handlers): State<Arc<ApiHandlers>>, request: AxumRequest) -> Response {
    match &handlers.authorization {
        Authorization::Jwt(jwt) => json(jwt.issuer.jwks()),
        _ => no_route(State(handlers), request).await,
    }
}

/// The local issuer's OpenID discovery document (under `JWT` authorization).
async fn discovery(State(handlers): State<Arc<ApiHandlers>>, request: AxumRequest) -> Response {
    match &handlers.authorization {
        Authorization::Jwt(jwt) => json(&jwt.issuer.discovery()),
        _ => no_route(State(handlers), request).await,
    }
}

pub(super) fn json(value: &serde_json::Value) -> Response {
    let mut response = Response::new(AxumBody::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// No route matches: a CORS preflight API Gateway answers itself, else its 404.
pub(super) async fn no_route(
    State(handlers): State<Arc<ApiHandlers>>,
    request: AxumRequest,
) -> Response {
    if request.method() == Method::OPTIONS
        && let Preflight::Answer(response) = handlers.cors.preflight(request.headers())
    {
        return response;
    }
    tracing::info!(method = %request.method(), path = %request.uri().path(), status = 404, "api: no route");
    gateway_message(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#)
}

/// The request as `lambda_http` hands it to the function: the body collected (at most API
/// Gateway's limit), the request authorized, payload format 2.0's request context with the
/// authorizer's part, and the route's path parameters.
async fn lambda_request(
    handlers: &ApiHandlers,
    request: AxumRequest,
    route_key: &str,
    route: Route,
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
    let authorizer = handlers
        .authorization
        .check(&parts, &bytes, route)
        .map_err(|refusal| {
            tracing::info!(route = route_key, status = refusal.status.as_u16(), reason = %refusal.message, "api: not authorized");
            refusal.into_response()
        })?;
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::from(bytes.to_vec())
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.authorizer = authorizer;
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
    // As lambda_http reads payload format 2.0's rawQueryString (WHATWG urlencoded parsing).
    let query: lambda_http::aws_lambda_events::query_map::QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    Ok(lambda_http::Request::from_parts(parts, body)
        .with_query_string_parameters(query)
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
