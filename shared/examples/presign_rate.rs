//! Benchmark: presigned PUT URLs per second on one core, in process (what presign-upload does
//! per request), signed with static credentials — no network. `make bench` prints it beside
//! boto3's `generate_presigned_url` (tests/bench/presign_rate.py).

use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use claimcheck::payload_store::PresignPut;
use claimcheck::{PayloadPointer, PayloadStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One core: a current-thread runtime, signing one URL after another.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "bench",
            ))
            .build();
        let store = PayloadStore::new(aws_sdk_s3::Client::from_conf(config));
        let put = PresignPut {
            expires_in: Duration::from_secs(900),
            content_type: "text/csv".into(),
            content_length: 1_048_576,
            checksum_sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
        };
        let window = Duration::from_secs(3);
        let started = Instant::now();
        let mut signed = 0u64;
        while started.elapsed() < window {
            let object =
                PayloadPointer::new("payloads", format!("uploads/{}", uuid::Uuid::new_v4()));
            store.presign_put(&object, &put).await?;
            signed += 1;
        }
        let rate = signed as f64 / started.elapsed().as_secs_f64();
        println!("claimcheck presign_put: {rate:.0} URLs/s on one core");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
