"""halb_probe tls: one HTTPS request verified against the lab's CA, against a real TLS server."""

from __future__ import annotations

import http.server
import ssl
import threading

import pytest
from halb_lab import tls
from halb_lab.node import halb_probe as probe


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("X-HALB-Node", "lb1")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    tls.ensure(tmp_path / "lab", ["127.0.0.1"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "lab" / "server.crt", tmp_path / "lab" / "server.key")
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1], tmp_path
    httpd.shutdown()
    httpd.server_close()


def test_a_certificate_of_the_ca_is_read(server):
    port, tmp = server
    got = probe.tls_get("127.0.0.1", port, str(tmp / "lab" / "ca.crt"))
    assert got["status"] == 200 and got["node"] == "lb1"
    assert got["tls"] in ("TLSv1.2", "TLSv1.3")
    assert len(got["sha256"]) == 64


def test_another_ca_is_refused(server):
    port, tmp = server
    tls.ensure(tmp / "other", ["127.0.0.1"])
    with pytest.raises(ssl.SSLCertVerificationError):
        probe.tls_get("127.0.0.1", port, str(tmp / "other" / "ca.crt"))


def test_a_certificate_without_the_name_is_refused(server):
    port, tmp = server
    # the same CA, asked for a name the certificate does not hold
    with pytest.raises(ssl.SSLCertVerificationError):
        probe.tls_get("localhost", port, str(tmp / "lab" / "ca.crt"))
