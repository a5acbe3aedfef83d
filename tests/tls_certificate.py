"""A throwaway certificate authority and a server certificate it issued, for serving the local
AWS endpoint over HTTPS (`CLAIMCHECK_ENDPOINT_TLS=1 tests/with-endpoint.sh`).

Writes into DIRECTORY:
  ca.pem      the CA's certificate: the only trust root clients are given
  server.pem  the server's certificate, for IP 127.0.0.1 and DNS localhost
  server.key  the server's private key (unencrypted PKCS#8, readable by its owner only)

Two certificates rather than one self-signed: WebPKI verifiers (rustls, which the Rust SDK
and reqwest use) refuse a CA certificate presented as the server's own (CaUsedAsEndEntity),
so the trust root and the server's certificate must differ, as they do for AWS. The CA's
private key is never written: nothing else can be issued under it once this exits. ECDSA P-256
keys: quick to make and a curve every client here (OpenSSL, rustls with the SDK's restricted
cipher suites) accepts.

Usage: python tests/tls_certificate.py DIRECTORY
"""
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Backdated a few minutes, so that no client rounding the time finds it not yet valid, and valid
# for long enough to outlast the longest benchmark (a 6 GiB upload takes minutes, not days).
NOT_BEFORE = datetime.timedelta(minutes=5)
LIFETIME = datetime.timedelta(days=2)


def issue(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claimcheck local endpoint test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE)
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE)
        .not_valid_after(now + LIFETIME)
        # Clients match the name they connected to against the SANs only (the CN is ignored).
        .add_extension(
            x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost"),
            ]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    os.makedirs(directory, mode=0o700, exist_ok=True)
    key_path = os.path.join(directory, "server.key")
    # Created owner-only rather than chmod-ed after: the key is never readable by others.
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    with open(os.path.join(directory, "server.pem"), "wb") as f:
        f.write(server.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    issue(sys.argv[1])
