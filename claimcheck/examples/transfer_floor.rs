//! Benchmark context for the client-CPU figure: what moving the same bytes costs a client
//! that does nothing else. 200 plain HTTP PUTs and 200 GETs of 1 MiB against the endpoint in
//! `AWS_ENDPOINT_URL` over blocking sockets, through URLs presigned before the clock starts, so
//! no SDK, signing, SQS or checksums run while it is measured. Any claim-check client does at
//! least this much work, so this CPU time is the floor under `client_cpu` and under the Python
//! client; most of it is the kernel's loopback TCP work, which no client code can avoid.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use testkit::cpu::{self, MESSAGES, SIZE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = claimcheck::sdk_config::load().await;
    let (s3, _) = claimcheck::sdk_config::clients(&config);
    let bucket = testkit::unique("cc-floor");
    s3.create_bucket().bucket(&bucket).send().await?;
    let presigning = PresigningConfig::expires_in(Duration::from_secs(900))?;
    let mut puts = Vec::with_capacity(MESSAGES);
    let mut gets = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let key = format!("floor/{i}");
        let put = s3.put_object().bucket(&bucket).key(&key);
        puts.push(put.presigned(presigning.clone()).await?.uri().to_owned());
        let get = s3.get_object().bucket(&bucket).key(&key);
        gets.push(get.presigned(presigning.clone()).await?.uri().to_owned());
    }
    let body = vec![b'x'; SIZE];
    let mut response = Vec::with_capacity(SIZE + 4096);
    let before = cpu::cpu_seconds();
    for url in &puts {
        exchange(url, "PUT", &body, &mut response)?;
    }
    for url in &gets {
        exchange(url, "GET", &[], &mut response)?;
        if response.len() < SIZE {
            return Err(format!("an object came back in {} bytes", response.len()).into());
        }
    }
    let after = cpu::cpu_seconds();
    let (user, sys) = (after.0 - before.0, after.1 - before.1);
    println!(
        "floor, raw sockets: {MESSAGES} x 1 MiB PUT+GET, no SDK: {:.2} s CPU (user {user:.2} s, sys {sys:.2} s)",
        user + sys
    );
    Ok(())
}

/// One HTTP/1.0 exchange on a fresh connection with blocking std sockets: the request head, the
/// body, the whole response read into `response` (reused, so no allocation).
fn exchange(
    url: &str,
    method: &str,
    body: &[u8],
    response: &mut Vec<u8>,
) -> Result<(), Box<dyn std::error::Error>> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("the floor runs over http://")?;
    let (authority, path) = rest.split_at(rest.find('/').ok_or("URL without a path")?);
    let mut stream = TcpStream::connect(authority)?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    response.clear();
    stream.read_to_end(response)?;
    if !response.starts_with(b"HTTP/1.1 200") && !response.starts_with(b"HTTP/1.0 200") {
        let line = response.split(|b| *b == b'\r').next().unwrap_or_default();
        return Err(format!("{method} answered {}", String::from_utf8_lossy(line)).into());
    }
    Ok(())
}
