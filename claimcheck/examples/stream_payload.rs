//! Benchmark: streams a large payload (default 1 GiB) through the payload store's put and get
//! against the endpoint in `AWS_ENDPOINT_URL`, and prints throughput and the process's peak
//! resident memory after each phase. The payload is generated on the fly and hashed on both
//! sides, so neither the bytes nor a file ever sit whole in memory.
//!
//! `make bench` runs it against the local endpoint; `CLAIMCHECK_BENCH_MIB` changes the size.

use std::time::Instant;

use claimcheck::checksum::Sha256;
use claimcheck::payload_store::PutOptions;
use claimcheck::{PayloadPointer, PayloadStore};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::var("CLAIMCHECK_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * MIB;
    let config = claimcheck::sdk_config::load().await;
    let (s3, _) = claimcheck::sdk_config::clients(&config);
    let bucket = format!(
        "cc-bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    s3.create_bucket().bucket(&bucket).send().await?;
    let store = PayloadStore::new(s3.clone());
    let object = PayloadPointer::new(&bucket, "bench/payload");
    println!(
        "payload store streaming benchmark: {mib} MiB, part size {} MiB",
        store.part_size() as u64 / MIB
    );
    println!("peak RSS at start: {:.1} MiB", testkit::peak_rss_mib());

    let mut source = testkit::Generated::new(size);
    let started = Instant::now();
    let stored = store
        .put_stream(&object, &mut source, &PutOptions::default())
        .await?;
    let put_secs = started.elapsed().as_secs_f64();
    let sent_hash = source.hash.hex();
    println!(
        "put: {} bytes in {put_secs:.1} s ({:.0} MiB/s), peak RSS {:.1} MiB",
        stored.size,
        mib as f64 / put_secs,
        testkit::peak_rss_mib()
    );

    let started = Instant::now();
    let mut body = store.get(&object).await?.into_async_read();
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = body.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        received += n as u64;
    }
    let get_secs = started.elapsed().as_secs_f64();
    println!(
        "get: {received} bytes in {get_secs:.1} s ({:.0} MiB/s), peak RSS {:.1} MiB",
        mib as f64 / get_secs,
        testkit::peak_rss_mib()
    );
    let intact = hash.hex() == sent_hash && received == size;
    println!("round trip intact (SHA-256 and length): {intact}");
    store.delete(&object).await?;
    s3.delete_bucket().bucket(&bucket).send().await?;
    println!("| payload | peak RSS (put + get) | goal |");
    println!("|---|---|---|");
    println!(
        "| {mib} MiB | {:.1} MiB | ≤ 64 MiB |",
        testkit::peak_rss_mib()
    );
    if !intact {
        return Err("the payload read back differs from the one written".into());
    }
    Ok(())
}
