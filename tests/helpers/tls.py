"""Self-signed certificates for the nginx TLS tests, made here (``cryptography``, which
ansible-core requires): never a key checked into the repository."""

from __future__ import annotations

import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@functools.cache
def self_signed(name: str = "www.example.test", kind: str = "ec", key_format: str = "pkcs8") -> tuple[str, str]:
    """(certificate PEM, private key PEM) for ``name``; ``kind`` ec (P-256) or rsa (2048 bits);
    ``key_format`` pkcs8 (BEGIN PRIVATE KEY) or traditional (BEGIN RSA/EC PRIVATE KEY)."""
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    fmt = serialization.PrivateFormat.PKCS8 if key_format == "pkcs8" else serialization.PrivateFormat.TraditionalOpenSSL
    key_pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def encrypted_key(passphrase: bytes = b"secret") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase)).decode()


def body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM text (what must never show up in any output)."""
    return [x for x in pem.splitlines() if x and not x.startswith("-----")]
