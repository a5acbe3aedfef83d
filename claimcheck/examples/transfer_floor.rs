//! Benchmark context for the client-CPU figure: what moving the same bytes costs a client
//! that does nothing else. 200 plain HTTP PUTs and 200 GETs of 1 MiB against the endpoint in
//! `AWS_ENDPOINT_URL` over blocking sockets, through URLs presigned before the clock starts, so
//! no SDK, signing, SQS or checksums run while it is measured. Any claim-check client does at
//! least this much work, so this CPU time is the floor under `client_cpu` and under the Python
//! client; over plain HTTP most of it is the kernel's loopback TCP work, which no client code
//! can avoid.
//!
//! Over TLS (an `https://` endpoint, as `CLAIMCHECK_ENDPOINT_TLS=1 tests/with-endpoint.sh`
//! serves it, trusting the CA in `SSL_CERT_FILE` as the SDK does) the exchanges share one
//! rustls connection with HTTP/1.1 keep-alive, as any pooling client's do: the floor then adds
//! one handshake and the encryption of every byte, the least a production client pays. The
//! HTTP/1.1 framing is written here (a request head, a `Content-Length` body) because any HTTP
//! client library would add work of its own to what this measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
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
    let tls = puts.first().is_some_and(|url| url.starts_with("https://"));
    let mut connection = match tls {
        true => Some(TlsConnection::open(&puts[0])?),
        false => None,
    };
    let before = cpu::cpu_seconds();
    for (url, method, body) in puts
        .iter()
        .map(|u| (u, "PUT", &body[..]))
        .chain(gets.iter().map(|u| (u, "GET", &[][..])))
    {
        match &mut connection {
            Some(connection) => connection.exchange(url, method, body, &mut response)?,
            None => exchange(url, method, body, &mut response)?,
        }
        if method == "GET" && response.len() < SIZE {
            return Err(format!("an object came back in {} bytes", response.len()).into());
        }
    }
    let after = cpu::cpu_seconds();
    let (user, sys) = (after.0 - before.0, after.1 - before.1);
    let how = match tls {
        true => "raw TLS socket (rustls, one keep-alive connection)",
        false => "raw sockets",
    };
    println!(
        "floor, {how}: {MESSAGES} x 1 MiB PUT+GET, no SDK: {:.2} s CPU (user {user:.2} s, sys {sys:.2} s)",
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
    let (authority, path) = split_url(url, "http://")?;
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

/// The host and the path of `url` (`scheme://host:port/path?query`).
fn split_url<'a>(url: &'a str, scheme: &str) -> Result<(&'a str, &'a str), String> {
    let rest = url
        .strip_prefix(scheme)
        .ok_or_else(|| format!("expected a {scheme} URL"))?;
    Ok(rest.split_at(rest.find('/').ok_or("URL without a path")?))
}

/// One rustls connection to the endpoint, kept alive across exchanges.
struct TlsConnection {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl TlsConnection {
    /// Connects to `url`'s host, trusting the certificates in `SSL_CERT_FILE` (the file the SDK's
    /// rustls-native-certs reads instead of the system store).
    fn open(url: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let (authority, _) = split_url(url, "https://")?;
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let mut roots = rustls::RootCertStore::empty();
        let ca = std::env::var("SSL_CERT_FILE").map_err(|_| "SSL_CERT_FILE names no CA file")?;
        use rustls::pki_types::pem::PemObject;
        for certificate in rustls::pki_types::CertificateDer::pem_file_iter(&ca)? {
            roots.add(certificate?)?;
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
        let connection = rustls::ClientConnection::new(Arc::new(config), name)?;
        let socket = TcpStream::connect(authority)?;
        socket.set_nodelay(true)?;
        Ok(Self {
            stream: rustls::StreamOwned::new(connection, socket),
        })
    }

    /// One HTTP/1.1 exchange: the request, then the response head and exactly its
    /// `Content-Length` body into `response`.
    fn exchange(
        &mut self,
        url: &str,
        method: &str,
        body: &[u8],
        response: &mut Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (authority, path) = split_url(url, "https://")?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        self.stream.flush()?;
        response.clear();
        let mut chunk = [0u8; 64 * 1024];
        let head_end = loop {
            if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err("the connection closed inside a response head".into());
            }
            response.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            let line = head.lines().next().unwrap_or_default();
            return Err(format!("{method} answered {line}").into());
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .ok_or("a response without Content-Length")?
            .trim()
            .parse()?;
        while response.len() < head_end + length {
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err("the connection closed inside a response body".into());
            }
            response.extend_from_slice(&chunk[..read]);
        }
        Ok(())
    }
}
