"""The operator's notify hooks (keepalived_notify_hooks) as the keepalived role writes them: what
configure.yml would write and remove - its own expressions, evaluated by the real ansible-playbook
with the role's variables and keepalived_manage_service on (the runner is a unit of the role), no
task of the role run, nothing written on this machine - and the keepalived.conf among them checked
by the real `keepalived -t` (the role's validator).

keepalived opens its vrrp_notify_fifo only when it runs, not in `keepalived -t`: that the runner
reads it in order is tests/unit/test_notify_hooks_script.py's, on a real FIFO.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.ansible_run import default_interface, run_playbook
from tests.helpers.kaconf import find, instances, parse, value
from tests.render.test_keepalived_leave import HOSTS, role_files_playbook, what_the_role_writes

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

BASE = {"keepalived_interface": default_interface(), "keepalived_script_user": "nobody",
        "keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
FIFO = "/var/lib/halb-pair-notify/events"
CONFIG = "/etc/keepalived/halb-pair-notify.json"
UNIT = "/etc/systemd/system/halb-pair-notify.service"


def _playbook(tmp: Path, switches: dict) -> Path:
    w = what_the_role_writes()  # configure.yml's own expressions
    listing = (
        "{{ {'files': (" + w["files"] + ") | items2dict(key_name='path', value_name='content'),"
        " 'dirs': (" + w["dirs"] + "), 'absent': (" + w["absent"] + ")} | to_json }}"
    )
    # the role's scripts where `keepalived -t` below finds them (root-owned, 0755)
    return role_files_playbook(tmp, switches, listing, {"keepalived_libexec_dir": "{{ lookup('ansible.builtin.env', 'HALB_LIBEXEC') }}"},
                               no_log=True)


def role_files(tmp: Path, group: dict, host_vars: dict | None = None):
    hv = {h: {**HOSTS[h], **(host_vars or {}).get(h, {})} for h in HOSTS}
    run = run_playbook(tmp, _playbook(tmp, {}), ["lb1", "lb2"], {**BASE, **group}, hv)
    return run, {h: json.loads(run.conf(h, "files.json")) for h in ("lb1", "lb2")} if run.rc == 0 else None


def keepalived_t(tmp: Path, host: str, text: str) -> subprocess.CompletedProcess:
    conf = tmp / "check" / host / "keepalived.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    return subprocess.run([str(tmp / "libexec" / "keepalived-validate"), str(conf)], capture_output=True, text=True, timeout=120)


def test_hooks_give_keepalived_its_fifo_and_the_runner_its_unit(tmp_path):
    # per host: lb2 has a hook of its own after the group's
    run, got = role_files(tmp_path, {"keepalived_notify_hooks": ["/usr/local/libexec/page-oncall", {"path": "/usr/local/sbin/route-flip"}]},
                          {"lb2": {"keepalived_notify_hooks": ["/usr/local/libexec/page-oncall", "/usr/local/sbin/route-flip",
                                                               "/usr/local/bin/lb2-only"]}})
    assert run.rc == 0, run.output
    for host, hooks in (("lb1", ["/usr/local/libexec/page-oncall", "/usr/local/sbin/route-flip"]),
                        ("lb2", ["/usr/local/libexec/page-oncall", "/usr/local/sbin/route-flip", "/usr/local/bin/lb2-only"])):
        files = got[host]["files"]
        conf = next(text for path, text in files.items() if path.endswith("/keepalived.conf"))
        gdefs = find(parse(conf), "global_defs")[0][2]
        assert value(gdefs, "vrrp_notify_fifo") == FIFO
        # the role's own state feed is written as before, by every instance's notify
        for inst in instances(conf).values():
            assert inst["notify"] == f"{tmp_path}/libexec/notify-state /var/lib/halb-pair/state"
        res = keepalived_t(tmp_path, host, conf)
        assert res.returncode == 0, res.stderr + conf
        assert json.loads(files[CONFIG]) == {"fifo": FIFO, "hooks": hooks, "timeout": 30}
        unit = files[UNIT]
        assert "User=nobody\n" in unit and "Before=keepalived.service\n" in unit and "KillMode=mixed\n" in unit
        assert f"ExecStart=/usr/bin/python3 {tmp_path}/libexec/notify-hooks run {CONFIG}\n" in unit
        assert f"ExecStartPre=/usr/bin/python3 {tmp_path}/libexec/notify-hooks fifo {CONFIG}\n" in unit
        assert f"TimeoutStopSec={len(hooks) * 30 + 10}\n" in unit
        assert f"{tmp_path}/libexec/notify-hooks" in files
        assert {"path": "/var/lib/halb-pair-notify", "owner": "nobody", "group": "root", "mode": "0700"} in got[host]["dirs"]
        assert FIFO not in got[host]["absent"]


def test_without_hooks_no_fifo_and_the_runner_is_removed(tmp_path):
    run, got = role_files(tmp_path, {})
    assert run.rc == 0, run.output
    files = got["lb1"]["files"]
    conf = next(text for path, text in files.items() if path.endswith("/keepalived.conf"))
    assert value(find(parse(conf), "global_defs")[0][2], "vrrp_notify_fifo") is None
    assert CONFIG not in files and UNIT not in files
    assert {CONFIG, UNIT, FIFO, f"{tmp_path}/libexec/notify-hooks"} <= set(got["lb1"]["absent"])


def test_refused_before_anything_is_written(tmp_path):
    run, got = role_files(tmp_path, {"keepalived_notify_hooks": ["/usr/local/bin/a;reboot", {"script": "/usr/local/bin/b"}]})
    assert run.rc != 0 and got is None
    assert "keepalived_notify_hooks[0] on lb1: found '/usr/local/bin/a;reboot'; allowed: an absolute path" in run.output
    assert "keepalived_notify_hooks[1] on lb1: unknown key 'script'; allowed keys: path" in run.output
    run, got = role_files(tmp_path / "twice", {"keepalived_notify_hooks": ["/usr/local/bin/a", "/usr/local/bin/a"]})
    assert run.rc != 0
    assert "keepalived_notify_hooks[1] on lb1: /usr/local/bin/a is listed twice" in run.output
