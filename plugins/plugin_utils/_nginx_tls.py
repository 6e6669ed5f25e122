# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS termination of the nginx role: where each server's certificate and key go, and
what its server block says.

Every ``nginx_lb_servers`` item with ``tls: {name, certificate, key, http2, redirect_http}``
gets two files under ``<nginx_lb_conf_dir>/halb-tls/``, named after their content:
``<name>-<id>.crt`` (0644) and ``<name>-<id>.key`` (0600, root), ``id`` being 16 hex digits
of SHA-256 over the certificate and the key. Why content names:

- a certificate and its key only work together, and the validator tests one file at a
  time: replacing the live pair in place, either half is tested against the other's old
  half and refused. A new pair gets new names instead; it is written before the HTTP file
  that references it is tested (with it, by the real ``nginx -t``), and nothing live
  references it until that file replaces the live one. A refused configuration leaves
  the live one and the files it references exactly as they were.
- the old pair is removed only after the new configuration was written (the files
  module's ``prune``, skipped after a refusal), so an old private key does not linger.

The server block references the files by paths relative to the configuration directory
(``halb-tls/...``): nginx resolves them against the directory of the main configuration,
so the validator's copy of the directory tests the candidate files, not the live ones.

HTTP/2: nginx 1.25.1 added the ``http2`` directive and deprecated ``listen ... http2``
(still accepted, with a warning); Debian 12 ships nginx 1.22 (the listen parameter only),
Debian 13 1.26. The role reads the installed nginx's version (``nginx -v``) and writes
``http2 on;`` from 1.25.1, the listen parameter before, and when the version is unknown
(check mode before nginx is installed) - which every version accepts.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import hashlib
import re
import typing as t

TLS_DIR = "halb-tls"
DEFAULT_LISTEN = "443"
HTTPS_PORT = "443"
REDIRECT_PORT = "80"
#: The first nginx with the ``http2`` directive (and a deprecated ``listen ... http2``).
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)
ID_LENGTH = 16

_VERSION = re.compile(r"nginx/([0-9]+(?:\.[0-9]+)*)")
_BARE_VERSION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)*)\s*")


class TlsError(ValueError):
    """Servers the preflight would have refused (two different pairs under one name)."""


def pem(text: str) -> str:
    """The file's content: the PEM text without surrounding blank space, one newline at the end
    (a block scalar and a ``lookup('file')`` of the same certificate give the same file)."""
    return text.strip() + "\n"


def material_id(certificate: str, key: str) -> str:
    """The hex id that names a pair's files: a new certificate or key gives new names."""
    return hashlib.sha256(f"{pem(certificate)}\0{pem(key)}".encode()).hexdigest()[:ID_LENGTH]


def key_matches(certificate: str, key: str) -> bool | None:
    """Whether ``key`` is the private key of the first certificate of ``certificate``; None when
    either cannot be read (their types say why) or ``cryptography`` is missing (ansible-core
    requires it on the controller). ``nginx -t`` refuses a key of the certificate's type that is
    not its key, but accepts one of another type (an RSA key beside an EC certificate: OpenSSL
    files it in the RSA slot, and the handshake fails later): hence this check."""
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
        private = serialization.load_pem_private_key(key.encode(), password=None)
        return bool(cert.public_key().public_bytes(*spki) == private.public_key().public_bytes(*spki))
    except (ValueError, TypeError, AttributeError):  # never the exception's text: it may quote the input
        return None


def nginx_version(text: t.Any) -> tuple[int, ...] | None:
    """The version ``nginx -v`` prints (``nginx version: nginx/1.22.1``), or a bare ``1.26.3``;
    None when there is none (nginx not installed yet)."""
    if not isinstance(text, str):
        return None
    found = _VERSION.search(text) or _BARE_VERSION.fullmatch(text)
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def http2_directive(version_text: t.Any) -> bool:
    """``http2 on;`` (True) or the ``http2`` listen parameter (False) for this nginx."""
    version = nginx_version(version_text)
    return version is not None and version >= HTTP2_DIRECTIVE_SINCE


def listen_port(listen: str) -> str:
    return listen.split(" ")[0].rsplit(":", 1)[-1]


def redirect_listen(listen: str) -> str:
    """The plain-HTTP listen beside a TLS listen: its address (if any), port 80, no parameters."""
    where = listen.split(" ")[0]
    address = where.rsplit(":", 1)[0] + ":" if ":" in where else ""
    return f"{address}{REDIRECT_PORT}"


def https_target(listens: t.Sequence[str]) -> str:
    """Where the redirect sends a client: the first TLS listen's port (none for 443)."""
    port = listen_port(listens[0]) if listens else HTTPS_PORT
    return f"https://$host{'' if port == HTTPS_PORT else ':' + port}$request_uri"


def _listens(server: t.Mapping[str, t.Any]) -> list[str]:
    raw = server.get("listen", [DEFAULT_LISTEN])
    return [str(x) for x in ([raw] if isinstance(raw, str | int) else raw or [DEFAULT_LISTEN])]


def plan(servers: t.Sequence[t.Mapping[str, t.Any]], conf_dir: str, version_text: t.Any = None) -> dict[str, t.Any]:
    """What the role writes for the TLS servers of ``servers`` (``nginx_lb_servers``):

    - ``servers``: one entry per item of ``servers``, None for a server without TLS, else
      ``certificate`` and ``key`` (paths relative to ``conf_dir``),
      ``listens`` (each with ``ssl``, and ``http2`` for an nginx before 1.25.1),
      ``http2_directive`` (write ``http2 on;``) and ``redirect`` (None, or the port-80
      ``listens`` and the ``target`` URL);
    - ``files``: the certificate and key files for the files module (the keys marked secret);
    - ``keep``: the names of those files (everything else in ``dir`` is pruned);
    - ``dir``: ``conf_dir/halb-tls``.
    """
    directive = http2_directive(version_text)
    out: dict[str, t.Any] = {"servers": [], "files": [], "keep": [], "dir": f"{conf_dir}/{TLS_DIR}"}
    ids: dict[str, str] = {}
    for server in servers:
        tls = server.get("tls") if isinstance(server, t.Mapping) else None
        if not isinstance(tls, t.Mapping):
            out["servers"].append(None)
            continue
        name = str(tls["name"])
        certificate, key = pem(str(tls["certificate"])), pem(str(tls["key"]))
        ident = material_id(certificate, key)
        if ids.setdefault(name, ident) != ident:
            raise TlsError(f"two servers name different certificates or keys tls.name {name}")
        base = f"{TLS_DIR}/{name}-{ident}"
        http2 = bool(tls.get("http2", True))
        listens = _listens(server)
        entry = {
            "certificate": f"{base}.crt",
            "key": f"{base}.key",
            "listens": [f"{x} ssl" + (" http2" if http2 and not directive else "") for x in listens],
            "http2_directive": http2 and directive,
            "redirect": None,
        }
        if tls.get("redirect_http", False):
            entry["redirect"] = {"listens": list(dict.fromkeys(redirect_listen(x) for x in listens)),
                                 "target": https_target(listens)}
        out["servers"].append(entry)
        # one name, one pair: the same files for every server that names it
        if f"{name}-{ident}.crt" in out["keep"]:
            continue
        out["files"] += [
            {"path": f"{conf_dir}/{base}.crt", "content": certificate, "owner": "root", "group": "root", "mode": "0644"},
            {"path": f"{conf_dir}/{base}.key", "content": key, "owner": "root", "group": "root", "mode": "0600", "secret": True},
        ]
        out["keep"] += [f"{name}-{ident}.crt", f"{name}-{ident}.key"]
    return out
