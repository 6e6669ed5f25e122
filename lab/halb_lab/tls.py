"""The lab's own certificate authority and its load balancers' certificate.

    python -m halb_lab.tls DIR --san 198.51.100.100 --san lab.halb-pair.example ...
    python -m halb_lab.tls DIR --user lab        the VIPs of the address plan's user, and NAME

Writes, when missing or when the certificate's names differ from the --san list:
DIR/ca.crt, DIR/ca.key (the lab's CA, 10 years), DIR/server.crt, DIR/server.key (one
certificate for every node of the pair: the VIPs as IP names, the rest as DNS names, 1 year).
Keys are 0600. A client verifies against DIR/ca.crt (curl --cacert DIR/ca.crt https://VIP/).
LAB ONLY: the keys sit unencrypted in the checkout's .cache; production certificates come from
the operator's own CA or ACME, into the nginx role's variables (vault).
Uses `cryptography`, which ansible-core already brings into the venv.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "halb.pair lab CA"
#: The lab's name for its VIPs (curl --resolve lab.halb-pair.example:443:VIP).
DNS_NAME = "lab.halb-pair.example"


def san_entries(names: list[str]) -> list[x509.GeneralName]:
    """IP addresses as IPAddress names, everything else as a DNS name."""
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def cert_names(cert: x509.Certificate) -> set[str]:
    """The names a certificate holds (its subjectAltName), as strings."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _builder(subject: str, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def ensure(directory: Path, names: list[str]) -> list[str]:
    """Make what is missing or stale; return what was written (empty: nothing to do)."""
    if not names:
        raise ValueError("no --san: the certificate needs at least one name")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    ca_crt, ca_key = directory / "ca.crt", directory / "ca.key"
    if ca_crt.exists() and ca_key.exists():
        ca = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    else:
        ca_private = ec.generate_private_key(ec.SECP256R1())
        ca = (
            _builder(CA_NAME, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)]), ca_private.public_key(), 3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_private, hashes.SHA256())
        )
        _write(ca_key, _key_pem(ca_private), 0o600)
        _write(ca_crt, ca.public_bytes(serialization.Encoding.PEM), 0o644)
        written += [str(ca_crt), str(ca_key)]
    crt, key = directory / "server.crt", directory / "server.key"
    if not written and crt.exists() and key.exists():
        current = x509.load_pem_x509_certificate(crt.read_bytes())
        if cert_names(current) == set(names) and current.issuer == ca.subject:
            return written
    private = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(names[0], ca.subject, private.public_key(), 365)
        .add_extension(x509.SubjectAlternativeName(san_entries(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_private, hashes.SHA256())
    )
    _write(key, _key_pem(private), 0o600)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return [*written, str(crt), str(key)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--san", action="append", default=[], help="a name of the certificate (IP or DNS), repeatable")
    ap.add_argument("--user", help="and the VIPs of this user of the address plan (lab/addresses.yml), and DNS_NAME")
    args = ap.parse_args(argv)
    names = list(args.san)
    if args.user:
        from halb_lab import addresses  # PyYAML: the venv's

        names += [v.address for v in addresses.load().users[args.user].vips] + [DNS_NAME]
    try:
        written = ensure(args.directory, names)
    except ValueError as exc:
        print(f"halb_lab.tls: {exc}", file=sys.stderr)
        return 2
    print(f"lab TLS in {args.directory}: " + ("wrote " + ", ".join(Path(w).name for w in written) if written else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
