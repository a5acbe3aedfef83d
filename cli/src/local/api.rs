//! The HTTP API on a loopback port, as API Gateway would run it: the two routes, each request
//! turned into a payload format 2.0 event for its handler, the handler's response written
//! back. Unknown routes get API Gateway's own `404 {"message":"Not Found"}`.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use presign_download::PresignDownload;
use presign_upload::PresignUpload;
use tokio::net::TcpListener;

/// API Gateway's payload limit (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

pub struct ApiHandlers {
    pub upload: PresignUpload,
    pub download: PresignDownload,
}

/// Serves until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, handlers: Arc<ApiHandlers>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let handlers = handlers.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let handlers = handlers.clone();
                async move { Ok::<_, Infallible>(route(&handlers, request, peer).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "API connection ended");
            }
        });
    }
}

async fn route(
    handlers: &ApiHandlers,
    request: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let route_key = match (method.as_str(), path.as_str()) {
        ("POST", "/uploads") => "POST /uploads",
        ("GET", p) if p.strip_prefix("/payloads/").is_some_and(valid_segment) => {
            "GET /payloads/{id}"
        }
        _ => {
            tracing::info!(%method, %path, status = 404, "api: no route");
            return plain(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#);
        }
    };
    let event = match event(request, route_key, peer).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    let response = if route_key == "POST /uploads" {
        presign_upload::handle(&handlers.upload, event).await
    } else {
        presign_download::handle(&handlers.download, event).await
    };
    tracing::info!(
        route = route_key,
        status = response.status_code,
        "api: request handled"
    );
    into_http(response)
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty() && !segment.contains('/')
}

/// The request as API Gateway hands it to Lambda (payload format 2.0).
async fn event(
    request: Request<Incoming>,
    route_key: &str,
    peer: std::net::SocketAddr,
) -> Result<ApiGatewayV2httpRequest, Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"message":"Request Entity Too Large"}"#,
            ));
        }
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.insert(name.as_str().to_owned(), value.into());
        }
    }
    let (body, base64) = match std::str::from_utf8(&bytes) {
        _ if bytes.is_empty() => (None, false),
        Ok(text) => (Some(text.to_owned()), false),
        Err(_) => (
            Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            true,
        ),
    };
    let path = parts.uri.path().to_owned();
    let mut path_parameters = serde_json::Map::new();
    if let Some(id) = path.strip_prefix("/payloads/") {
        path_parameters.insert("id".into(), id.into());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let value = serde_json::json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "local", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key, "stage": "$default", "timeEpoch": now,
            "http": {"method": parts.method.as_str(), "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": peer.ip().to_string(), "userAgent": user_agent}
        },
        "body": body,
        "isBase64Encoded": base64
    });
    serde_json::from_value(value).map_err(|e| {
        tracing::error!(error = %e, "api: cannot build the event");
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"Internal Server Error"}"#,
        )
    })
}

fn into_http(response: ApiGatewayV2httpResponse) -> Response<Full<Bytes>> {
    let body = match response.body {
        Some(Body::Text(text)) => Bytes::from(text),
        Some(Body::Binary(bytes)) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut http = Response::new(Full::new(body));
    *http.status_mut() = status;
    *http.headers_mut() = response.headers;
    http
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
