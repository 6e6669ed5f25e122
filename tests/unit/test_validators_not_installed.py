"""Issue 9: the roles' validators say "cannot test here" (exit 127) when the program they
test with is not installed (a fresh host under --check), and nothing else: halb.pair.files
turns exactly that status into a check-mode warning (test_files), never a silent skip."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROLES = Path(__file__).resolve().parents[2] / "roles"
KA_VALIDATE = ROLES / "keepalived" / "files" / "libexec" / "keepalived-validate"
NGINX_TEST = ROLES / "nginx" / "files" / "nginx-config-test"


def run(script: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, check=False)


def nginx_candidate(tmp_path: Path) -> Path:
    cand = tmp_path / "nginx.conf"
    cand.write_text("events {}\n")
    return cand


def test_keepalived_validate_without_keepalived(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n}\n")
    p = run(KA_VALIDATE, str(conf), env={"PATH": "/usr/bin:/bin", "KEEPALIVED": "/nonexistent/keepalived"})
    assert p.returncode == 127, p.stderr
    assert "is not installed" in p.stderr


def test_nginx_config_test_without_nginx(tmp_path):
    p = run(NGINX_TEST, "/nonexistent/nginx", str(tmp_path / "etc-nginx"), "nginx.conf", str(nginx_candidate(tmp_path)))
    assert p.returncode == 127, p.stderr
    assert "/nonexistent/nginx is not installed" in p.stderr


def test_nginx_config_test_with_nginx_but_a_missing_conf_dir_is_a_refusal(tmp_path):
    p = run(NGINX_TEST, "/bin/true", str(tmp_path / "missing"), "nginx.conf", str(nginx_candidate(tmp_path)))
    assert p.returncode not in (0, 127)
