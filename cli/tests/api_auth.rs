//! The HTTP API's authorization through local mode's real HTTP listener, as API Gateway
//! enforces it for each `api_authorization`: every request that fails authentication or
//! authorization gets a 4xx with a JSON body and writes nothing to the ledger or the bucket;
//! payloads are shown only to their owner and the operators; CORS preflights are answered for
//! allowed origins only; an upload URL works once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use claimcheck::ledger::{Ledger, Status};
use claimcheck::processor::VerifyingProcessor;
use claimcheck_cli::local::auth::Authorization;
use claimcheck_cli::local::auth::jwt::LocalIssuer;
use claimcheck_cli::local::auth::sigv4::LocalCredential;
use claimcheck_cli::local::{self, AuthSettings, Faults, LOCAL_AUDIENCE, LocalSettings, Running};
use serde_json::{Value, json};

const ALICE_ARN: &str = "arn:aws:iam::123456789012:user/claimcheck-local";
const BOB_ARN: &str = "arn:aws:iam::123456789012:user/bob";
const OPERATOR_ARN: &str = "arn:aws:iam::123456789012:role/operators";

/// How a test signs: whose key (and the session token of temporary credentials), for which
/// region and service, when.
#[derive(Clone)]
struct Signer {
    key: (&'static str, &'static str),
    token: Option<&'static str>,
    region: &'static str,
    service: &'static str,
    at: SystemTime,
}

const ALICE: (&str, &str) = ("testing", "testing");
const BOB: (&str, &str) = ("AKIDBOBEXAMPLE", "bob-secret");
const OPERATOR: (&str, &str) = ("AKIDOPERATOR", "operator-secret");

impl Signer {
    fn new(key: (&'static str, &'static str)) -> Self {
        Self {
            key,
            // The standard test credentials are temporary ones (tests/with-endpoint.sh).
            token: (key == ALICE).then_some("testing"),
            region: "us-east-1",
            service: "execute-api",
            at: SystemTime::now(),
        }
    }

    /// Signs `request` (its method, URL, headers and body as they are now).
    fn sign(&self, request: &mut reqwest::Request) {
        let identity = Credentials::new(
            self.key.0,
            self.key.1,
            self.token.map(str::to_owned),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default()
            .to_vec();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().expect("ascii").to_owned()))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        for (name, value) in instructions.headers() {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
    }
}

struct Api {
    running: Running,
    http: reqwest::Client,
    aws: testkit::Endpoint,
}

impl Api {
    async fn start(authorization: AuthSettings) -> Self {
        let aws = testkit::endpoint().await;
        let mut settings =
            LocalSettings::from_defaults(&testkit::unique("auth")).expect("defaults");
        settings.reconcile_every = None;
        settings.authorization = authorization;
        settings.stack.cors_allowed_origins = vec!["https://app.example.com".into()];
        settings.access.operator_arns = vec![OPERATOR_ARN.into()];
        settings.access.operator_scope = Some("claimcheck/operator".into());
        let running = local::start(
            &aws.config,
            &settings,
            VerifyingProcessor,
            Faults::default(),
        )
        .await
        .expect("local mode");
        Self {
            running,
            http: reqwest::Client::new(),
            aws,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.api_url)
    }

    fn upload_request(&self) -> reqwest::Request {
        let body = json!({
            "content_type": "text/plain",
            "content_length": 5,
            "sha256": testkit::sha256_base64(b"AAAAA"),
        });
        self.http
            .post(self.url("/uploads"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .build()
            .expect("request")
    }

    fn read_request(&self, id: &str) -> reqwest::Request {
        self.http
            .get(self.url(&format!("/payloads/{id}")))
            .build()
            .expect("request")
    }

    async fn send(&self, request: reqwest::Request) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = self.http.execute(request).await.expect("API reachable");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        (status, body, headers)
    }

    fn ledger(&self) -> Ledger {
        Ledger::new(
            aws_sdk_dynamodb::Client::new(&self.aws.config),
            &self.running.stack.table,
        )
    }

    /// Who the ledger says owns payload `id`.
    async fn owner(&self, id: &str) -> Option<String> {
        let record = self.ledger().get(id).await.expect("get");
        record.and_then(|r| r.owner)
    }

    /// Ids of every payload in the ledger (pending or further).
    async fn payload_ids(&self) -> Vec<String> {
        let ledger = self.ledger();
        let mut ids = Vec::new();
        for status in Status::ALL {
            let listed = ledger
                .list_every(status, i64::MAX, 1_000)
                .await
                .expect("list");
            ids.extend(listed.into_iter().map(|r| r.id));
        }
        ids.sort();
        ids
    }
}

/// A refused request: its status, API Gateway's `{"message"}` or the handler's
/// `{"error": {"code"}}`, and the expected text in it.
fn assert_refused(
    case: &str,
    (status, body, _): &(u16, Value, reqwest::header::HeaderMap),
    expected: u16,
    text: &str,
) {
    assert_eq!(*status, expected, "{case}: {body}");
    let said = body["message"]
        .as_str()
        .or_else(|| body["error"]["code"].as_str())
        .unwrap_or_else(|| panic!("{case}: no message in {body}"));
    assert!(said.contains(text), "{case}: {said:?} lacks {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_iam_authorization_is_enforced_as_api_gateway_enforces_it() {
    let api = Api::start(AuthSettings::AwsIam {
        credentials: vec![
            LocalCredential::standard_test(),
            LocalCredential {
                access_key_id: BOB.0.into(),
                secret_access_key: BOB.1.into(),
                session_token: None,
                user_arn: BOB_ARN.into(),
            },
            LocalCredential {
                access_key_id: OPERATOR.0.into(),
                secret_access_key: OPERATOR.1.into(),
                session_token: None,
                user_arn: "arn:aws:sts::123456789012:assumed-role/operators/jane".into(),
            },
        ],
    })
    .await;
    let alice = Signer::new(ALICE);

    // The good path: signed upload, owner reads, operator reads.
    let mut request = api.upload_request();
    alice.sign(&mut request);
    let (status, ticket, _) = api.send(request).await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_str().expect("id").to_owned();
    let mut read = api.read_request(&id);
    alice.sign(&mut read);
    let (status, view, _) = api.send(read).await;
    assert_eq!(
        (status, view["status"].as_str()),
        (200, Some("pending")),
        "{view}"
    );
    let mut read = api.read_request(&id);
    Signer::new(OPERATOR).sign(&mut read);
    assert_eq!(
        api.send(read).await.0,
        200,
        "an operator role's session reads it"
    );
    let before = api.payload_ids().await;
    assert_eq!(before, vec![id.clone()]);
    assert_eq!(api.owner(&id).await.as_deref(), Some(ALICE_ARN));

    let mismatch = "does not match the signature you provided";
    let mut cases: Vec<(&str, reqwest::Request, u16, &str)> = Vec::new();
    cases.push(("unsigned upload", api.upload_request(), 403, "Forbidden"));
    cases.push(("unsigned read", api.read_request(&id), 403, "Forbidden"));
    let mut bearer = api.upload_request();
    bearer.headers_mut().insert(
        "authorization",
        "Bearer abc.def.ghi".parse().expect("header"),
    );
    cases.push((
        "a bearer token instead of a signature",
        bearer,
        403,
        "Authorization header requires",
    ));
    let mut partial = api.upload_request();
    alice.sign(&mut partial);
    let header = partial.headers()["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let without_signature = header
        .split(", Signature=")
        .next()
        .expect("prefix")
        .to_owned();
    partial
        .headers_mut()
        .insert("authorization", without_signature.parse().expect("header"));
    cases.push((
        "no Signature parameter",
        partial,
        403,
        "requires 'Signature'",
    ));
    for (case, signer, text) in [
        (
            "signed for S3, not execute-api",
            Signer {
                service: "s3",
                ..alice.clone()
            },
            "correct service",
        ),
        (
            "signed for another region",
            Signer {
                region: "eu-west-1",
                ..alice.clone()
            },
            "valid region",
        ),
        (
            "signed 10 minutes ago",
            Signer {
                at: SystemTime::now() - Duration::from_secs(600),
                ..alice.clone()
            },
            "Signature expired",
        ),
        (
            "signed 10 minutes ahead",
            Signer {
                at: SystemTime::now() + Duration::from_secs(600),
                ..alice.clone()
            },
            "not yet current",
        ),
        (
            "an access key nobody issued",
            Signer::new(("AKIDUNKNOWN", "whatever")),
            "security token included in the request is invalid",
        ),
        (
            "a known access key with the wrong secret",
            Signer {
                key: (ALICE.0, "not-the-secret"),
                ..alice.clone()
            },
            mismatch,
        ),
    ] {
        let mut request = api.upload_request();
        signer.sign(&mut request);
        cases.push((case, request, 403, text));
    }
    let mut tampered = api.upload_request();
    alice.sign(&mut tampered);
    *tampered.body_mut() = Some(
        json!({"content_type": "text/plain", "content_length": 6, "sha256": testkit::sha256_base64(b"BBBBBB")})
            .to_string()
            .into(),
    );
    cases.push(("body changed after signing", tampered, 403, mismatch));
    let mut query = api.read_request(&id);
    alice.sign(&mut query);
    query.url_mut().set_query(Some("download=1"));
    cases.push(("query added after signing", query, 403, mismatch));
    let mut path = api.read_request(&id);
    alice.sign(&mut path);
    let other = uuid::Uuid::new_v4().to_string();
    path.url_mut().set_path(&format!("/payloads/{other}"));
    cases.push(("path changed after signing", path, 403, mismatch));
    let mut header = api.upload_request();
    alice.sign(&mut header);
    header.headers_mut().insert(
        "content-type",
        "application/json; charset=latin1".parse().expect("header"),
    );
    cases.push(("signed header changed after signing", header, 403, mismatch));
    let mut undated = api.upload_request();
    alice.sign(&mut undated);
    undated.headers_mut().remove("x-amz-date");
    cases.push(("x-amz-date removed", undated, 403, "X-Amz-Date"));
    let mut twice = api.upload_request();
    alice.sign(&mut twice);
    let first = twice.headers()["authorization"].clone();
    twice.headers_mut().append("authorization", first);
    cases.push(("two Authorization headers", twice, 403, "Forbidden"));
    let mut doubled = api.upload_request();
    alice.sign(&mut doubled);
    let header = doubled.headers()["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let evil = header.replacen(
        "Credential=",
        "Credential=evil/20261130/us-east-1/execute-api/aws4_request, Credential=",
        1,
    );
    doubled
        .headers_mut()
        .insert("authorization", evil.parse().expect("header"));
    cases.push(("a parameter given twice", doubled, 403, "twice"));
    let mut tokenless = api.upload_request();
    alice.sign(&mut tokenless);
    tokenless.headers_mut().remove("x-amz-security-token");
    cases.push((
        "temporary credentials without their session token",
        tokenless,
        403,
        "security token included in the request is invalid",
    ));
    let mut invented = api.upload_request();
    Signer {
        token: Some("invented"),
        ..Signer::new(BOB)
    }
    .sign(&mut invented);
    cases.push((
        "a session token for long-term keys",
        invented,
        403,
        "security token included in the request is invalid",
    ));
    let mut stranger = api.read_request(&id);
    Signer::new(BOB).sign(&mut stranger);
    cases.push(("another principal's payload", stranger, 404, "not_found"));

    let count = cases.len();
    for (case, request, status, text) in cases {
        let answer = api.send(request).await;
        assert_refused(case, &answer, status, text);
    }
    assert!(count >= 16, "{count} cases");
    assert_eq!(
        api.payload_ids().await,
        before,
        "nothing written to the ledger"
    );
    assert!(
        api.aws.keys(&api.running.stack.bucket).await.is_empty(),
        "nothing written to the bucket"
    );

    // The upload URL works once: a second PUT is refused and the first bytes stay.
    let put = |bytes: &'static [u8]| {
        let mut request = api
            .http
            .put(ticket["url"].as_str().expect("url"))
            .body(bytes);
        for (name, value) in ticket["headers"].as_object().expect("headers") {
            request = request.header(name, value.as_str().expect("value"));
        }
        request.send()
    };
    assert!(
        put(b"AAAAA")
            .await
            .expect("first PUT")
            .status()
            .is_success()
    );
    assert_eq!(
        put(b"AAAAA").await.expect("second PUT").status().as_u16(),
        412
    );

    // CORS: the bucket has Terraform's rule for the same origins (browsers PUT and GET with
    // presigned URLs) — and local mode's own origin, whose upload page sends parts to S3 —,
    // and the API answers preflights before authorization, for allowed origins only.
    let rules = api
        .aws
        .s3
        .get_bucket_cors()
        .bucket(&api.running.stack.bucket)
        .send()
        .await
        .expect("the bucket has a CORS rule");
    assert_eq!(
        rules.cors_rules()[0].allowed_origins(),
        ["https://app.example.com", api.running.api_url.as_str()]
    );
    let preflight = |origin: &str, headers: &str| {
        api.http
            .request(reqwest::Method::OPTIONS, api.url("/uploads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .build()
            .expect("preflight")
    };
    let (status, _, headers) = api
        .send(preflight(
            "https://app.example.com",
            "authorization, content-type, x-amz-date",
        ))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .expect("ascii")
            .contains("POST")
    );
    for (case, request) in [
        (
            "a preflight from an origin not allowed",
            preflight("https://evil.example", "content-type"),
        ),
        (
            "a preflight asking for a header not allowed",
            preflight("https://app.example.com", "x-evil"),
        ),
    ] {
        let answer = api.send(request).await;
        assert_refused(case, &answer, 403, "Forbidden");
        assert!(
            !answer.2.contains_key("access-control-allow-origin"),
            "{case}"
        );
    }
    let mut from_browser = api.read_request(&id);
    from_browser
        .headers_mut()
        .insert("origin", "https://app.example.com".parse().expect("origin"));
    alice.sign(&mut from_browser);
    let (status, _, headers) = api.send(from_browser).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    api.running.stop();
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_authorization_is_enforced_as_api_gateway_enforces_it() {
    let api = Api::start(AuthSettings::Jwt {
        audience: vec![LOCAL_AUDIENCE.into()],
        upload_scopes: vec!["claimcheck/upload".into()],
        read_scopes: vec!["claimcheck/read".into()],
    })
    .await;
    let Authorization::Jwt(jwt) = &api.running.authorization else {
        panic!("JWT authorization");
    };
    let issuer = jwt.issuer.clone();
    let claims = |sub: &str, scope: &str| {
        json!({
            "iss": issuer.issuer, "sub": sub, "aud": LOCAL_AUDIENCE, "scope": scope,
            "iat": now(), "nbf": now(), "exp": now() + 600,
        })
    };
    let token = |claims: &Value| issuer.sign(claims).expect("token");
    let with_token = |mut request: reqwest::Request, token: &str| {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        request
    };
    let both = "claimcheck/upload claimcheck/read";
    let alice = token(&claims("alice", both));

    // The discovery document and JWKS are served; a token for alice uploads and reads.
    let discovery = api
        .send(
            api.http
                .get(api.url("/.well-known/openid-configuration"))
                .build()
                .expect("get"),
        )
        .await;
    assert_eq!(discovery.1["issuer"], issuer.issuer.as_str());
    let jwks = api
        .send(
            api.http
                .get(api.url("/.well-known/jwks.json"))
                .build()
                .expect("get"),
        )
        .await;
    assert_eq!(jwks.1["keys"][0]["kty"], "RSA");
    let (status, ticket, _) = api.send(with_token(api.upload_request(), &alice)).await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_str().expect("id").to_owned();
    let (status, view, _) = api.send(with_token(api.read_request(&id), &alice)).await;
    assert_eq!(status, 200, "{view}");
    let owner = format!("{}#alice", issuer.issuer);
    assert_eq!(api.owner(&id).await, Some(owner));
    let operator = token(&claims("olga", "claimcheck/read claimcheck/operator"));
    assert_eq!(
        api.send(with_token(api.read_request(&id), &operator))
            .await
            .0,
        200
    );
    let before = api.payload_ids().await;

    let other_issuer = LocalIssuer::generate("https://issuer.example.com").expect("issuer");
    let foreign = other_issuer
        .token_for(
            "alice",
            LOCAL_AUDIENCE,
            &[both.into()],
            Duration::from_secs(600),
        )
        .expect("token");
    let mut wrong_iss = claims("alice", both);
    wrong_iss["iss"] = json!("https://issuer.example.com");
    let mut wrong_aud = claims("alice", both);
    wrong_aud["aud"] = json!("someone-else");
    let mut expired = claims("alice", both);
    expired["exp"] = json!(now() - 60);
    let mut early = claims("alice", both);
    early["nbf"] = json!(now() + 600);
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims("alice", both),
        &jsonwebtoken::EncodingKey::from_secret(b"guessable").expect("HMAC key"),
    )
    .expect("HS256 token");
    let signature_swapped = {
        let good: Vec<&str> = alice.split('.').collect();
        let other: Vec<&str> = foreign.split('.').collect();
        format!("{}.{}.{}", good[0], good[1], other[2])
    };
    let upload_only = token(&claims("alice", "claimcheck/upload"));
    let read_only = token(&claims("alice", "claimcheck/read"));
    let bob = token(&claims("bob", both));

    let cases: Vec<(&str, reqwest::Request, u16, &str)> = vec![
        ("no token", api.upload_request(), 401, "Unauthorized"),
        (
            "not a JWT",
            with_token(api.upload_request(), "not-a-token"),
            401,
            "Unauthorized",
        ),
        (
            "a token from another issuer",
            with_token(api.upload_request(), &foreign),
            401,
            "Unauthorized",
        ),
        (
            "our key, another iss",
            with_token(api.upload_request(), &token(&wrong_iss)),
            401,
            "Unauthorized",
        ),
        (
            "another audience",
            with_token(api.upload_request(), &token(&wrong_aud)),
            401,
            "Unauthorized",
        ),
        (
            "an expired token",
            with_token(api.upload_request(), &token(&expired)),
            401,
            "Unauthorized",
        ),
        (
            "a token not valid yet",
            with_token(api.upload_request(), &token(&early)),
            401,
            "Unauthorized",
        ),
        (
            "HS256 with a guessed secret",
            with_token(api.upload_request(), &hs256),
            401,
            "Unauthorized",
        ),
        (
            "a signature from another key",
            with_token(api.upload_request(), &signature_swapped),
            401,
            "Unauthorized",
        ),
        (
            "upload without the upload scope",
            with_token(api.upload_request(), &read_only),
            403,
            "Forbidden",
        ),
        (
            "read without the read scope",
            with_token(api.read_request(&id), &upload_only),
            403,
            "Forbidden",
        ),
        (
            "another subject's payload",
            with_token(api.read_request(&id), &bob),
            404,
            "not_found",
        ),
    ];
    for (case, request, status, text) in cases {
        let answer = api.send(request).await;
        assert_refused(case, &answer, status, text);
        if status == 401 {
            let challenge = answer.2["www-authenticate"].to_str().expect("ascii");
            assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
        }
    }
    let (_, _, headers) = api
        .send(with_token(api.upload_request(), &token(&expired)))
        .await;
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("the token has expired"),
        "{headers:?}"
    );
    assert_eq!(
        api.payload_ids().await,
        before,
        "nothing written to the ledger"
    );
    assert!(api.aws.keys(&api.running.stack.bucket).await.is_empty());
    api.running.stop();
}
