//! Benchmark: streams a large payload (default 1 GiB) through the payload store's put and get
//! against the endpoint in `AWS_ENDPOINT_URL`, and prints throughput and the process's peak
//! resident memory after each phase. The payload is generated on the fly and hashed on both
//! sides, so neither the bytes nor a file ever sit whole in memory.
//!
//! Each direction's wall time, CPU (user + sys of this process) and peak RSS are printed beside
//! boto3's transfer manager's (`tests/bench/transfer_boto3.py`, run next by `make bench`).
//!
//! `make bench` runs it against the local endpoint; `CLAIMCHECK_BENCH_MIB` changes the size,
//! `CLAIMCHECK_BENCH_PART_MIB` and `CLAIMCHECK_BENCH_PARTS_IN_FLIGHT` the put's part size and
//! parallelism (default: the store's).

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
    let knob = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let mut store = PayloadStore::new(s3.clone());
    if let (Some(part_mib), Some(in_flight)) = (
        knob("CLAIMCHECK_BENCH_PART_MIB"),
        knob("CLAIMCHECK_BENCH_PARTS_IN_FLIGHT"),
    ) {
        store = store.with_parts(part_mib * MIB as usize, in_flight);
    }
    let object = PayloadPointer::new(&bucket, "bench/payload");
    println!(
        "payload store streaming benchmark: {mib} MiB, part size {} MiB, {} parts in flight",
        store.part_size() as u64 / MIB,
        store.parts_in_flight()
    );
    println!("peak RSS at start: {:.1} MiB", testkit::peak_rss_mib());

    let mut source = testkit::Generated::new(size);
    testkit::reset_peak_rss();
    let cpu = || {
        let (user, sys) = testkit::cpu::cpu_seconds();
        user + sys
    };
    let cpu_before = cpu();
    let started = Instant::now();
    let stored = store
        .put_stream(&object, &mut source, &PutOptions::default())
        .await?;
    let put_secs = started.elapsed().as_secs_f64();
    let put_cpu = cpu() - cpu_before;
    let put_rss = testkit::peak_rss_mib();
    let sent_hash = source.hash.hex();
    println!(
        "put: {} bytes in {put_secs:.1} s ({:.0} MiB/s), CPU {put_cpu:.1} s, peak RSS {put_rss:.1} MiB",
        stored.size,
        mib as f64 / put_secs,
    );

    testkit::reset_peak_rss();
    let cpu_before = cpu();
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
    let get_cpu = cpu() - cpu_before;
    let get_rss = testkit::peak_rss_mib();
    println!(
        "get: {received} bytes in {get_secs:.1} s ({:.0} MiB/s), CPU {get_cpu:.1} s, peak RSS {get_rss:.1} MiB",
        mib as f64 / get_secs,
    );
    let intact = hash.hex() == sent_hash && received == size;
    println!("round trip intact (SHA-256 and length): {intact}");
    store.delete(&object).await?;
    s3.delete_bucket().bucket(&bucket).send().await?;
    println!("| payload | peak RSS (put / get) | goal |");
    println!("|---|---|---|");
    println!("| {mib} MiB | {put_rss:.1} / {get_rss:.1} MiB | ≤ 64 MiB |");
    if !intact {
        return Err("the payload read back differs from the one written".into());
    }
    Ok(())
}
