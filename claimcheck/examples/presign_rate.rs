//! Benchmark: presigned PUT URLs per second on one core, in process (what presign-upload does
//! per request), signed with static credentials — no network. `make bench` prints it beside
//! boto3's `generate_presigned_url` (tests/bench/presign_rate.py).

use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
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
        let store = PayloadStore::new(aws_sdk_s3::Client::from_conf(config.clone()));
        let put = PresignPut::new("text/csv", 1_048_576, Duration::from_secs(900))
            .with_checksum_sha256(Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()));
        let rate = per_second(|| async {
            let object =
                PayloadPointer::new("payloads", format!("uploads/{}", uuid::Uuid::new_v4()));
            store.presign_put(&object, &put).await.map(drop)
        })
        .await?;
        println!("claimcheck presign_put: {rate:.0} URLs/s on one core");
        // The same client's presigner with nothing of ours around it: a fixed key and no
        // pinned headers. The gap to the line above is what claimcheck adds; this line is the
        // ceiling of any presigner built on aws-sdk-s3's `presigning` on this machine.
        let s3 = aws_sdk_s3::Client::from_conf(config);
        let presigning = PresigningConfig::expires_in(Duration::from_secs(900))?;
        let rate = per_second(|| async {
            let put = s3.put_object().bucket("payloads").key("uploads/fixed");
            put.presigned(presigning.clone()).await.map(drop)
        })
        .await?;
        println!("  aws-sdk-s3 presigner alone, bare PUT: {rate:.0} URLs/s on one core");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

/// Calls `sign` one after another for three seconds and returns the calls per second.
async fn per_second<F, Fut, E>(mut sign: F) -> Result<f64, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let mut signed = 0u64;
    while started.elapsed() < window {
        sign().await?;
        signed += 1;
    }
    Ok(signed as f64 / started.elapsed().as_secs_f64())
}
