# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""halb.pair.files main(), on a real temporary directory (no mocks of the filesystem)."""

from __future__ import annotations

import json
import os
import pwd
import stat

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.halb.pair.plugins.modules import files


def run(args, check=False, diff=False):
    extra = {"_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args({**args, **extra}), pytest.raises(SystemExit) as exc:
        files.main()
    return exc.value.code


@pytest.fixture
def result(capsys, monkeypatch):
    from ansible.module_utils import _internal

    # other tests load controller code, which sends module warnings to the display
    monkeypatch.setattr(_internal, "is_controller", False)

    def _run(args, **kw):
        warnings._global_warnings.clear()  # one module run per process in real life
        code = run(args, **kw)
        r = json.loads(capsys.readouterr().out)
        if "warnings" in r:
            r["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in r["warnings"]]
        return code, r
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
    # removals come before the files (a validator must not see what this run removes)
    assert r["changed_paths"] == [str(tmp_path / "d"), str(tmp_path / "old"), str(tmp_path / "d" / "a.conf")]
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


# --------------------------------------------------------------------------
# Issue 9: the write path on Ansible's own tools, refusals that hide nothing,
# removals before validation, check mode that says what it cannot predict.

def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_refused_file_does_not_hide_the_files_written_before_it(tmp_path, result):
    bad = _script(tmp_path / "no", "echo 'nope: broken' >&2\nexit 1\n")
    first, second, third = tmp_path / "a.conf", tmp_path / "b.conf", tmp_path / "c.conf"
    second.write_text("old b\n")
    args = {"files": [{"path": str(first), "content": "a\n"},
                      {"path": str(second), "content": "new b\n", "validate": f"{bad} %s"},
                      {"path": str(third), "content": "c\n"}]}
    code, r = result(args)
    # default: the task fails, but says what it already changed
    assert code == 1 and r["failed"]
    assert r["changed"] is True
    assert r["changed_paths"] == [str(first), str(third)]
    assert r["refused"] == [{"path": str(second), "msg": f"{second} was refused by its validator (exit 1) and not written:\nnope: broken"}]
    assert second.read_text() == "old b\n" and first.read_text() == "a\n" and third.read_text() == "c\n"


def test_fail_on_refusal_false_reports_without_failing_so_handlers_are_notified(tmp_path, result):
    bad = _script(tmp_path / "no", "exit 4\n")
    first, second = tmp_path / "a.conf", tmp_path / "b.conf"
    code, r = result({"files": [{"path": str(first), "content": "a\n"},
                                {"path": str(second), "content": "b\n", "validate": f"{bad} %s"}],
                      "fail_on_refusal": False})
    assert code == 0 and not r.get("failed")
    assert r["changed"] is True and r["changed_paths"] == [str(first)]
    assert [x["path"] for x in r["refused"]] == [str(second)]
    assert not second.exists()


def test_absent_paths_are_removed_before_the_validator_runs(tmp_path, result):
    # Debian's default site next to a new default_server: the validator (nginx -t over the
    # whole directory) refuses while the old site is still there.
    site = tmp_path / "sites-enabled-default"
    site.write_text("server { listen 80 default_server; }\n")
    v = _script(tmp_path / "v", f"test ! -e {site}\n")
    conf = tmp_path / "halb-lb.conf"
    code, r = result({"files": [{"path": str(conf), "content": "server { listen 80 default_server; }\n", "validate": f"{v} %s"}],
                      "absent": [str(site)]})
    assert code == 0, r
    assert r["changed_paths"] == [str(site), str(conf)]
    assert conf.exists() and not site.exists()
    # the same again changes nothing
    code, r = result({"files": [{"path": str(conf), "content": "server { listen 80 default_server; }\n", "validate": f"{v} %s"}],
                      "absent": [str(site)]})
    assert (code, r["changed"]) == (0, False)


def test_writes_through_atomic_move_and_set_fs_attributes(tmp_path, result, monkeypatch):
    from ansible.module_utils import basic

    moves, attrs = [], []
    real_move, real_attrs = basic.AnsibleModule.atomic_move, basic.AnsibleModule.set_fs_attributes_if_different

    def atomic_move(self, src, dest, *a, **kw):
        umask = os.umask(0)
        os.umask(umask)
        moves.append((os.path.dirname(src), dest, umask))
        return real_move(self, src, dest, *a, **kw)

    def set_fs(self, file_args, changed, *a, **kw):
        attrs.append((file_args["path"], file_args["mode"], file_args["owner"]))
        return real_attrs(self, file_args, changed, *a, **kw)

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", atomic_move)
    monkeypatch.setattr(basic.AnsibleModule, "set_fs_attributes_if_different", set_fs)
    dest = tmp_path / "k.conf"
    me = pwd.getpwuid(os.getuid()).pw_name
    code, r = result({"files": [{"path": str(dest), "content": "auth_pass x\n", "mode": "0640", "owner": me, "secret": True}]})
    assert code == 0 and r["changed_paths"] == [str(dest)]
    # the temporary file lives in the destination's directory; a new file is moved in under umask 077
    assert moves == [(str(tmp_path), str(dest), 0o077)]
    assert attrs == [(str(dest), 0o640, me)]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640


def test_a_symlinked_destination_is_followed_and_the_link_kept(tmp_path, result):
    real = tmp_path / "available" / "site.conf"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "site.conf"
    link.symlink_to(real)
    code, r = result({"files": [{"path": str(link), "content": "new\n", "mode": "0644"}]})
    assert code == 0 and r["changed_paths"] == [str(link)]
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"
    assert [p.name for p in real.parent.iterdir()] == ["site.conf"]


def test_backup_keeps_the_replaced_file(tmp_path, result):
    dest = tmp_path / "nginx.conf"
    dest.write_text("old\n")
    code, r = result({"files": [{"path": str(dest), "content": "new\n", "backup": True}]})
    assert code == 0
    backup = r["backup_files"][str(dest)]
    assert backup.startswith(f"{dest}.") and open(backup).read() == "old\n"


def test_check_mode_predicts_a_refusal(tmp_path, result):
    bad = _script(tmp_path / "no", "echo bad >&2\nexit 1\n")
    dest = tmp_path / "a.conf"
    dest.write_text("old\n")
    code, r = result({"files": [{"path": str(dest), "content": "new\n", "validate": f"{bad} %s"}]}, check=True)
    assert code == 1 and r["refused"][0]["msg"].startswith(f"{dest} was refused by its validator (exit 1)")
    assert dest.read_text() == "old\n"


def test_check_mode_runs_the_validator_this_run_would_install(tmp_path, result):
    validator = tmp_path / "libexec" / "validate"
    dest = tmp_path / "a.conf"
    args = {"directories": [{"path": str(validator.parent)}],
            "files": [{"path": str(validator), "content": "#!/bin/sh\ngrep -q good \"$1\"\n", "mode": "0755"},
                      {"path": str(dest), "content": "bad\n", "validate": f"{validator} %s"}]}
    code, r = result(args, check=True)
    assert code == 1 and [x["path"] for x in r["refused"]] == [str(dest)], r
    assert not validator.parent.exists()
    args["files"][1]["content"] = "good\n"
    code, r = result(args, check=True)
    assert code == 0 and r["changed_paths"] == [str(validator.parent), str(validator), str(dest)]
    assert not r.get("warnings")


def test_check_mode_warns_when_it_cannot_validate(tmp_path, result):
    dest = tmp_path / "a.conf"
    code, r = result({"files": [{"path": str(dest), "content": "x\n", "validate": "/nonexistent/halb-validate %s"}]}, check=True)
    assert code == 0 and r["changed"]
    assert r["warnings"] == [f"{dest}: not validated in check mode: its validator /nonexistent/halb-validate is not installed"]


def test_check_mode_refusal_after_earlier_changes_is_a_warning(tmp_path, result):
    # the validator reads the earlier file as it is now, not as this run would write it
    first = tmp_path / "nginx.conf"
    first.write_text("distribution's\n")
    v = _script(tmp_path / "v", f"grep -q ours {first}\n")
    dest = tmp_path / "halb-lb.conf"
    args = {"files": [{"path": str(first), "content": "ours\n"}, {"path": str(dest), "content": "x\n", "validate": f"{v} %s"}]}
    code, r = result(args, check=True)
    assert code == 0 and r["refused"] == []
    assert r["warnings"] == [f"{dest}: check mode cannot predict its validation: the validator refused it (exit 1), but it sees "
                             f"{first} as they are now, not as this run would leave them"]
    code, r = result(args)  # for real: nginx.conf is written first, so the validator accepts
    assert code == 0 and r["changed_paths"] == [str(first), str(dest)]


# Issue 9: `--check` on a fresh host. What a validator tests with is not installed yet
# (exit 127: a warning in check mode, still a refusal for real), and a directory's
# owner is a user an earlier task of the run creates (a predicted change, not a failure).

def test_check_mode_warns_when_the_validators_program_is_not_installed(tmp_path, result):
    v = _script(tmp_path / "v", "echo 'keepalived is not installed' >&2\nexit 127\n")
    dest = tmp_path / "keepalived.conf"
    args = {"files": [{"path": str(dest), "content": "x\n", "validate": f"{v} %s"}]}
    code, r = result(args, check=True)
    assert code == 0 and r["changed"] and r["refused"] == []
    assert len(r["warnings"]) == 1 and r["warnings"][0].startswith(f"{dest}: not validated in check mode: {dest} was refused")
    assert "keepalived is not installed" in r["warnings"][0]
    code, r = result(args)  # for real it is a refusal, never a write
    assert code == 1 and [x["path"] for x in r["refused"]] == [str(dest)] and not dest.exists()


def test_check_mode_predicts_a_directory_for_an_owner_not_created_yet(tmp_path, result):
    args = {"directories": [{"path": str(tmp_path / "state"), "owner": "no-such-user-halb", "mode": "0755"}]}
    code, r = result(args, check=True)
    assert code == 0 and r["changed"] and r["changed_paths"] == [str(tmp_path / "state")]
    assert not (tmp_path / "state").exists()
    code, r = result(args)  # for real the owner must exist
    assert code == 1 and "owner 'no-such-user-halb' does not exist" in r["msg"]


# --------------------------------------------------------------------------
# Issue 19: files named after their content (nginx's certificate and key). The new ones are
# written and the configuration referencing them validated; the old ones go only after that
# configuration replaced the live one (prune, last, never after a refusal).

def _tls_dir(tmp_path):
    d = tmp_path / "tls"
    d.mkdir()
    for name in ("www-old.crt", "www-old.key", "www-new.crt", "www-new.key"):
        (d / name).write_text(name)
    (d / "sub").mkdir()
    (d / "sub" / "x").write_text("x")
    return d


def test_prune_removes_what_keep_does_not_name_after_the_files(tmp_path, result):
    d = _tls_dir(tmp_path)
    conf = tmp_path / "lb.conf"
    args = {"files": [{"path": str(conf), "content": "uses www-new\n"}],
            "prune": [{"path": str(d), "keep": ["www-new.crt", "www-new.key"]}, {"path": str(tmp_path / "missing"), "keep": []}]}
    code, r = result(args, check=True)
    assert code == 0 and r["changed_paths"] == [str(conf), str(d / "www-old.crt"), str(d / "www-old.key")]
    assert (d / "www-old.key").exists() and not conf.exists()
    code, r = result(args)
    assert code == 0 and r["changed_paths"] == [str(conf), str(d / "www-old.crt"), str(d / "www-old.key")]
    assert sorted(p.name for p in d.iterdir()) == ["sub", "www-new.crt", "www-new.key"]
    assert (d / "sub" / "x").exists(), "a subdirectory is not pruned"
    code, r = result(args)
    assert (code, r["changed"]) == (0, False)


@pytest.mark.parametrize("fail_on_refusal", [True, False])
def test_prune_does_nothing_after_a_refusal(tmp_path, result, fail_on_refusal):
    # the live configuration still references the old pair: it must stay
    d = _tls_dir(tmp_path)
    bad = _script(tmp_path / "no", "exit 1\n")
    args = {"files": [{"path": str(tmp_path / "lb.conf"), "content": "uses www-new\n", "validate": f"{bad} %s"}],
            "prune": [{"path": str(d), "keep": ["www-new.crt", "www-new.key"]}], "fail_on_refusal": fail_on_refusal}
    code, r = result(args)
    assert code == (1 if fail_on_refusal else 0)
    assert [x["path"] for x in r["refused"]] == [str(tmp_path / "lb.conf")]
    assert r["changed_paths"] == []
    assert (d / "www-old.crt").exists() and (d / "www-old.key").exists()


def test_prune_keep_holds_names_not_paths(tmp_path, result):
    d = _tls_dir(tmp_path)
    code, r = result({"prune": [{"path": str(d), "keep": [str(d / "www-new.crt")]}]})
    assert code == 1 and "prune: keep holds names of entries of the directory" in r["msg"]
    assert len(list(d.iterdir())) == 5


def test_check_mode_pending_paths_make_a_refusal_a_warning(tmp_path, result):
    # the certificate an earlier task would write: in check mode the configuration's validator
    # cannot see it, so its refusal is a warning; for real the file is there
    cert = tmp_path / "www.crt"
    v = _script(tmp_path / "v", f"test -e {cert}\n")
    dest = tmp_path / "lb.conf"
    args = {"files": [{"path": str(dest), "content": "ssl_certificate www.crt\n", "validate": f"{v} %s"}], "pending": [str(cert)]}
    code, r = result(args, check=True)
    assert code == 0 and r["refused"] == [] and r["changed_paths"] == [str(dest)]
    assert r["warnings"][0].startswith(f"{dest}: check mode cannot predict its validation") and str(cert) in r["warnings"][0]
    code, r = result(args)  # for real, pending is ignored: the missing file is a refusal
    assert code == 1 and [x["path"] for x in r["refused"]] == [str(dest)]
    code, r = result({**args, "pending": []}, check=True)
    assert code == 1 and [x["path"] for x in r["refused"]] == [str(dest)]
