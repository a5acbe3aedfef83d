//! How the bodies the store uploads are signed.
//!
//! Over HTTPS, which every AWS endpoint is, `PutObject` and `UploadPart` bodies go out as SigV4's
//! `UNSIGNED-PAYLOAD`: TLS protects the bytes in transit, and the CRC32 checksum the SDK sends
//! with each body (S3 checks it and refuses a body that does not match) protects them end to
//! end, so hashing every body again with SHA-256 for the signature is work HTTPS makes
//! unnecessary. It was a sixth of the client's CPU in `make bench`'s client CPU run (perf:
//! `sha2::sha256::x86_sha::compress`). S3 accepts unsigned payloads by design (S3 API
//! Reference, "Authenticating Requests (AWS Signature Version 4)", `x-amz-content-sha256:
//! UNSIGNED-PAYLOAD`); boto3 sends S3 bodies unsigned over HTTPS too. Over a plain `http://`
//! endpoint (a local one) the signature still covers every body.
//!
//! The choice is made per request from the endpoint the SDK resolved (known only once the
//! request is built), by setting aws-runtime's `PayloadSigningOverride` just before signing,
//! as the SDK's own `disable_payload_signing()` does for every request regardless of scheme.

use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};

/// The interceptor: an unsigned payload when the request goes to an `https://` endpoint.
#[derive(Debug)]
pub(crate) struct UnsignedPayloadOverHttps;

impl Intercept for UnsignedPayloadOverHttps {
    fn name(&self) -> &'static str {
        "UnsignedPayloadOverHttps"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if context
            .request()
            .uri()
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        {
            cfg.interceptor_state()
                .store_put(PayloadSigningOverride::UnsignedPayload);
        }
        Ok(())
    }
}
