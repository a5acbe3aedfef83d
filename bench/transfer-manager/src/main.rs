//! AWS's Rust transfer manager (aws-sdk-s3-transfer-manager 0.3.1, a developer preview) putting
//! and getting 1 GiB against the endpoint in `AWS_ENDPOINT_URL`, configured as claimcheck's
//! payload store is: 8 MiB parts, 4 in flight, a memory budget of those parts. Prints wall time,
//! CPU (user + sys) and peak RSS per direction in the format of
//! claimcheck/examples/stream_payload.rs, which `make bench-transfer-manager` runs first.
//!
//! The put reads a generated file (the transfer manager takes a path or its own part stream; a
//! file is what its users hand it), the get hashes the body with SHA-256 as the payload store's
//! benchmark does. Knobs: `CLAIMCHECK_BENCH_MIB`, `CLAIMCHECK_BENCH_PART_MIB`,
//! `CLAIMCHECK_BENCH_PARTS_IN_FLIGHT`.

use std::io::Write;
use std::time::Instant;

use aws_sdk_s3_transfer_manager::io::InputStream;
use aws_sdk_s3_transfer_manager::memory::{BufferPool, MemoryBudgetConfig, MemoryConfig};
use aws_sdk_s3_transfer_manager::types::{ConcurrencyMode, PartSize};
use sha2::Digest;

const MIB: u64 = 1024 * 1024;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's user + sys CPU seconds.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Peak RSS (VmHWM) in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib = knob("CLAIMCHECK_BENCH_MIB", 1024);
    let part = knob("CLAIMCHECK_BENCH_PART_MIB", 8) * MIB;
    let in_flight = knob("CLAIMCHECK_BENCH_PARTS_IN_FLIGHT", 4);
    let size = mib * MIB;

    // The payload: pseudo-random blocks (incompressible), written once before the clock starts.
    let dir = std::env::temp_dir().join(format!("tm-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("payload");
    let mut sent = sha2::Sha256::new();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut block = vec![0u8; MIB as usize];
        for _ in 0..mib {
            for word in block.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            sent.update(&block);
            file.write_all(&block)?;
        }
        file.flush()?;
    }
    let sent = sent.finalize();

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = format!("tm-eval-{}", std::process::id());
    s3.create_bucket().bucket(&bucket).send().await?;
    let pool = BufferPool::builder()
        .memory_budget(MemoryBudgetConfig::Limit((part * in_flight) as usize))
        .build()?;
    let config = aws_sdk_s3_transfer_manager::Config::builder()
        .client(s3.clone())
        .part_size(PartSize::Target(part))
        .multipart_threshold(PartSize::Target(part))
        .concurrency(ConcurrencyMode::Explicit(in_flight as usize))
        .memory(MemoryConfig::Explicit(pool))
        .build();
    let manager = aws_sdk_s3_transfer_manager::Client::new(config);
    println!(
        "aws-sdk-s3-transfer-manager 0.3.1: {mib} MiB, part size {} MiB, {in_flight} parts in flight, memory budget {} MiB",
        part / MIB,
        part * in_flight / MIB
    );
    println!("peak RSS at start: {:.1} MiB", peak_rss_mib());

    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    manager
        .upload()
        .bucket(&bucket)
        .key("bench/payload")
        .body(InputStream::from_path(&path)?)
        .initiate()?
        .join()
        .await?;
    let put_secs = started.elapsed().as_secs_f64();
    println!(
        "put: {size} bytes in {put_secs:.1} s ({:.0} MiB/s), CPU {:.1} s, peak RSS {:.1} MiB",
        mib as f64 / put_secs,
        cpu_seconds() - cpu_before,
        peak_rss_mib()
    );

    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut download = manager
        .download()
        .bucket(&bucket)
        .key("bench/payload")
        .initiate()?;
    let mut hash = sha2::Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = download.body_mut().next().await {
        for segment in chunk?.data.into_segments() {
            hash.update(&segment);
            received += segment.len() as u64;
        }
    }
    let get_secs = started.elapsed().as_secs_f64();
    println!(
        "get: {received} bytes in {get_secs:.1} s ({:.0} MiB/s), CPU {:.1} s, peak RSS {:.1} MiB",
        mib as f64 / get_secs,
        cpu_seconds() - cpu_before,
        peak_rss_mib()
    );
    let intact = hash.finalize() == sent && received == size;
    println!("round trip intact (SHA-256 and length): {intact}");
    std::fs::remove_dir_all(&dir)?;
    s3.delete_object()
        .bucket(&bucket)
        .key("bench/payload")
        .send()
        .await?;
    s3.delete_bucket().bucket(&bucket).send().await?;
    if !intact {
        return Err("the payload read back differs from the one written".into());
    }
    Ok(())
}
