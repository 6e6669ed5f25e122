"""halb_lab.tls: the lab's CA and its LBs' certificate, made once, reissued when the names change."""

from __future__ import annotations

import stat

from cryptography import x509
from halb_lab import tls


def _load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_first_run_writes_a_ca_and_a_certificate_it_signed(tmp_path):
    written = tls.ensure(tmp_path, ["198.51.100.100", "lab.halb-pair.example"])
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["ca.crt", "ca.key", "server.crt", "server.key"]
    ca, cert = _load(tmp_path / "ca.crt"), _load(tmp_path / "server.crt")
    cert.verify_directly_issued_by(ca)  # raises when the CA did not sign it
    assert tls.cert_names(cert) == {"198.51.100.100", "lab.halb-pair.example"}
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600


def test_rerun_with_the_same_names_writes_nothing(tmp_path):
    tls.ensure(tmp_path, ["198.51.100.100"])
    before = (tmp_path / "server.crt").read_bytes()
    assert tls.ensure(tmp_path, ["198.51.100.100"]) == []
    assert (tmp_path / "server.crt").read_bytes() == before


def test_new_names_reissue_the_certificate_from_the_same_ca(tmp_path):
    tls.ensure(tmp_path, ["198.51.100.100"])
    ca_before = (tmp_path / "ca.crt").read_bytes()
    written = tls.ensure(tmp_path, ["198.51.100.100", "198.51.100.101"])
    assert [p.rsplit("/", 1)[1] for p in written] == ["server.crt", "server.key"]
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    cert = _load(tmp_path / "server.crt")
    cert.verify_directly_issued_by(_load(tmp_path / "ca.crt"))
    assert tls.cert_names(cert) == {"198.51.100.100", "198.51.100.101"}


def test_no_names_is_refused(tmp_path, capsys):
    assert tls.main([str(tmp_path)]) == 2
    assert "at least one name" in capsys.readouterr().err
