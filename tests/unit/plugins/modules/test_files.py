# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""halb.pair.files main(), on a real temporary directory (no mocks of the filesystem)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.halb.pair.plugins.modules import files


def run(args, check=False, diff=False):
    extra = {"_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args({**args, **extra}), pytest.raises(SystemExit) as exc:
        files.main()
    return exc.value.code


@pytest.fixture
def result(capsys):
    def _run(args, **kw):
        code = run(args, **kw)
        return code, json.loads(capsys.readouterr().out)
    return _run


def test_four_step_idempotence(tmp_path, result):
    """check → apply → check → apply: predicts, writes once, then nothing."""
    args = {"directories": [{"path": str(tmp_path / "d"), "mode": "0750"}],
            "files": [{"path": str(tmp_path / "d" / "a.conf"), "content": "one\n", "mode": "0640"}],
            "absent": [str(tmp_path / "old")]}
    (tmp_path / "old").write_text("x")
    _, r = result(args, check=True)
    assert r["changed"] and not (tmp_path / "d").exists() and (tmp_path / "old").exists()
    _, r = result(args)
    assert r["changed_paths"] == [str(tmp_path / "d"), str(tmp_path / "d" / "a.conf"), str(tmp_path / "old")]
    assert (tmp_path / "d" / "a.conf").read_text() == "one\n"
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "a.conf").st_mode) == 0o640
    assert not (tmp_path / "old").exists()
    _, r = result(args, check=True)
    assert r["changed"] is False
    _, r = result(args)
    assert r["changed"] is False and r["changed_paths"] == []


def test_refused_file_is_not_written_and_secret_is_scrubbed(tmp_path, result):
    target = tmp_path / "k.conf"
    target.write_text("old\n")
    validator = tmp_path / "v"
    validator.write_text("#!/bin/sh\necho \"bad line: $(cat \"$1\")\" >&2\nexit 3\n")
    validator.chmod(0o755)
    code, r = result({"files": [{"path": str(target), "content": "pass hunter22\n", "validate": f"{validator} %s", "secret": True}],
                      "secrets": ["hunter22"]})
    assert code == 1 and r["failed"]
    assert "refused by its validator (exit 3) and not written" in r["msg"]
    assert "hunter22" not in json.dumps(r)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".k.conf")] == []


def test_accepted_by_validator_and_diff_unless_secret(tmp_path, result):
    ok = tmp_path / "ok"
    ok.write_text("#!/bin/sh\ngrep -q good \"$1\"\n")
    ok.chmod(0o755)
    args = {"files": [{"path": str(tmp_path / "a"), "content": "good\n", "validate": f"{ok} %s"},
                      {"path": str(tmp_path / "s"), "content": "good secret\n", "secret": True}]}
    _, r = result(args, diff=True)
    assert r["changed"]
    assert [d["after"] for d in r["diff"]] == ["good\n"]


def test_mode_only_change_is_applied_without_validation(tmp_path, result):
    p = tmp_path / "a"
    p.write_text("same\n")
    p.chmod(0o600)
    _, r = result({"files": [{"path": str(p), "content": "same\n", "mode": "0644", "validate": "/nonexistent/validator %s"}]})
    assert r["changed_paths"] == [str(p)]
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644


def test_unknown_owner_fails_clearly(tmp_path, result):
    code, r = result({"files": [{"path": str(tmp_path / "a"), "content": "some content\n", "owner": "no-such-user-halb"}]})
    assert code == 1 and "owner 'no-such-user-halb' does not exist" in r["msg"]
