//! SHA-256 as S3 and the extended clients write it: base64 of the 32-byte digest for
//! `x-amz-checksum-sha256` and the ledger, lowercase hex for FIFO deduplication ids. One
//! streaming hasher, so no payload is ever hashed from a whole copy in memory.

use base64::Engine;
use sha2::{Digest, Sha256 as Hasher};

/// A streaming SHA-256: feed it chunks with [`Sha256::update`], then read the digest once.
#[derive(Debug, Clone, Default)]
pub struct Sha256(Hasher);

impl Sha256 {
    /// An empty hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` to what has been hashed.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest in base64 (44 characters), the form of S3's `x-amz-checksum-sha256` header.
    pub fn base64(self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.finalize())
    }

    /// The digest in lowercase hex (64 characters).
    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The base64 SHA-256 of `bytes` (see [`Sha256::base64`]).
pub fn sha256_base64(bytes: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(bytes);
    hash.base64()
}

/// The lowercase hex SHA-256 of `bytes` (see [`Sha256::hex`]).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(bytes);
    hash.hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests of "abc" from FIPS 180-2, appendix B.1.
    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_base64(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        let mut streamed = Sha256::new();
        streamed.update(b"a");
        streamed.update(b"bc");
        assert_eq!(streamed.base64(), sha256_base64(b"abc"));
    }
}
