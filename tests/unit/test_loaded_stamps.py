"""The stamps keepalived's and the guard's units write on every start and reload (what was
loaded, compared by every run of the role), run as systemd runs them, in a temporary
directory. Their directory also holds the nginx health answer's leaving mark, which
nginx's workers (not root) must be able to see: 0755, whatever was there before and
whatever the umask; the stamps themselves 0600 (issue 17, finding 7: with the directory
0700 the mark was invisible to nginx, both nodes restarting nginx each saw the other
healthy, both handed over, both went FAULT: 7 s without a holder)."""

from __future__ import annotations

import hashlib
import re
import shlex
import stat
import subprocess

import pytest

from tests.helpers import direct_render as R

UNITS = {"keepalived-loaded.conf.j2": "keepalived_conf_path", "halb-pair-vrrp-guard.service.j2": "__keepalived_guard_file"}


def _commands(text: str) -> list[str]:
    """The shell of every ExecStartPost=-/bin/sh -c '...' and ExecReload=-/bin/sh -c '...'."""
    return [shlex.split(m)[0] for m in re.findall(r"^Exec(?:StartPost|Reload)=-/bin/sh -c (.+)$", text, flags=re.M)]


@pytest.mark.parametrize("template", list(UNITS))
@pytest.mark.parametrize("before", [None, 0o700], ids=["no-directory", "directory-0700"])
def test_the_stamp_directory_is_readable_by_nginx_and_the_stamps_by_root_only(tmp_path, template, before):
    run_dir, source = tmp_path / "run" / "halb-pair", tmp_path / "keepalived.conf"
    source.write_text("global_defs {}\n")
    if before is not None:
        run_dir.mkdir(parents=True, mode=before)
        run_dir.chmod(before)
    (tmp_path / "run").mkdir(exist_ok=True)
    text = R.render("keepalived", template, {
        "__keepalived_loaded_dir": str(run_dir), "keepalived_conf_path": str(source), "__keepalived_guard_file": str(source),
        "__keepalived_loaded_stamp": str(run_dir / "keepalived.conf.loaded"), "__keepalived_guard_stamp": str(run_dir / "vrrp-guard.loaded"),
        "__keepalived_service": "keepalived", "keepalived_libexec_dir": "/usr/local/libexec/halb-pair",
    })
    commands = _commands(text)
    assert len(commands) == 2, text  # start and reload
    for cmd in commands:
        subprocess.run(["/bin/sh", "-c", f"umask 022; {cmd}"], check=True)
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o755
        (stamp,) = run_dir.iterdir()
        assert stat.S_IMODE(stamp.stat().st_mode) == 0o600
        assert stamp.read_text().split()[0] == hashlib.sha256(source.read_bytes()).hexdigest()
        stamp.unlink()
