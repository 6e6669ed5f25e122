"""The operator's own tracking (keepalived_track_interfaces, _scripts, _processes, _files) rendered
through the keepalived role (preflight, then configure with the role's validator: the real
`keepalived -t`) and read back.

`keepalived -t` checks what it can without running: a tracked interface must exist on this
host (lo does), a tracked script must exist and be secure (root-owned, writable by root only:
/usr/bin/true is), and it refuses to track the instance's own interface.
"""

from __future__ import annotations

import shutil

import pytest

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import find, instances, parse, value

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
IFACE = default_interface()
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody",
        "keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
needs_other_iface = pytest.mark.skipif(IFACE == "lo", reason="no default route: lo is the VRRP interface here")


def blocks(conf: str, keyword: str) -> dict[str, list]:
    return {args[0]: children for kw, args, children in parse(conf) if kw == keyword}


def entries(children, keyword: str) -> list[list[str]]:
    found = find(children, keyword)
    return [[k, *a] for k, a, _c in found[0][2]] if found else []


@needs_other_iface
def test_tracks_render_in_every_instance_and_pass_keepalived_t(tmp_path):
    group = {**BASE,
             "keepalived_track_scripts": [{"name": "chk_db", "script": "/usr/bin/true", "weight": -60, "interval": 3},
                                          {"name": "chk_cache", "script": "/usr/bin/true"}],
             "keepalived_track_processes": [{"name": "sshd", "process": "sshd", "quorum": 1, "weight": -60},
                                            {"name": "java_app", "process": "/usr/bin/java", "params": ["-jar", "/srv/app.jar"],
                                             "param_match": "initial"}],
             "keepalived_track_files": [{"name": "app_down", "file": str(tmp_path / "app-down"), "weight": 0, "init_file": 0}]}
    # per host: lb1 tracks lo (FAULT while it is down) and nothing else; lb2 no interface
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], group, {"lb1": {"keepalived_track_interfaces": [{"name": "lo", "weight": -60}]}})
    assert run.rc == 0, run.output
    for host in ("lb1", "lb2"):
        conf = run.conf(host)
        scripts = blocks(conf, "vrrp_script")
        assert list(scripts) == ["chk_nginx", "chk_db", "chk_cache"]
        assert [value(scripts["chk_db"], k) for k in ("script", "interval", "timeout", "fall", "rise", "weight")] == [
            "/usr/bin/true", "3", "2", "2", "2", "-60"]
        assert value(scripts["chk_cache"], "weight") is None  # weight 0: FAULT while it fails (keepalived's default)
        procs = blocks(conf, "vrrp_track_process")
        assert [value(procs["sshd"], k) for k in ("process", "param_match", "quorum", "weight")] == ["sshd", None, "1", "-60"]
        assert [value(procs["java_app"], k) for k in ("process", "param_match", "weight")] == [
            "/usr/bin/java -jar /srv/app.jar", "initial", "0"]
        files = blocks(conf, "vrrp_track_file")
        assert list(files) == ["halb_drain", "app_down"]
        assert [value(files["app_down"], k) for k in ("file", "weight", "init_file")] == [str(tmp_path / "app-down"), "0", "0"]
        tree = {args[0]: children for kw, args, children in parse(conf) if kw == "vrrp_instance"}
        assert list(tree) == ["VI_1", "VI_2"]
        for children in tree.values():
            assert entries(children, "track_script") == [["chk_nginx"], ["chk_db"], ["chk_cache"]]
            assert entries(children, "track_file") == [["halb_drain"], ["app_down"]]
            assert entries(children, "track_process") == [["sshd"], ["java_app"]]
            assert entries(children, "track_interface") == ([["lo", "weight", "-60"]] if host == "lb1" else [])
    # each instance's own master judged: -60 moves each VIP (150 - 60 < 100), nothing said
    assert "[WARNING]: keepalived preflight" not in run.output


@needs_other_iface
def test_a_weight_that_cannot_move_the_vip_alone_is_said_not_refused(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, "keepalived_track_interfaces": [{"name": "lo", "weight": -30}]})
    assert run.rc == 0, run.output
    said = " ".join(run.output.split())  # Ansible wraps its warnings
    assert ("keepalived preflight: VI_1 on lb1: track_interface lo has weight -30; while it fails alone the master's priority "
            "is 120, not below lb2's 100, so it does not move the VIP on its own") in said
    assert "VI_2 on lb2: track_interface lo has weight -30" in said
    assert instances(run.conf("lb1"))["VI_1"]["state"] == "MASTER"


def test_refused_before_anything_is_written(tmp_path):
    # the types: a newline and a brace would end the vrrp_script block and add a directive
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {
        **BASE, "keepalived_track_scripts": [{"name": "db", "script": "/usr/bin/true\n}\nvrrp_strict"}]})
    assert run.rc != 0
    assert "keepalived_track_scripts[0] (db).script on lb1: found '/usr/bin/true" in run.output
    assert "allowed: an absolute path of letters, digits" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()
    # then the rules across the items, for the pair
    run = run_playbook(tmp_path / "rules", PLAYBOOK, ["lb1", "lb2"], {
        **BASE, "keepalived_track_interfaces": [IFACE], "keepalived_track_scripts": [{"name": "chk_nginx", "script": "/usr/bin/true"}],
        "keepalived_track_processes": [{"name": "p", "process": "a-very-long-daemon"}]})
    assert run.rc != 0
    assert f"keepalived_track_interfaces[0] ({IFACE}) on lb1: {IFACE} is the node's own VRRP interface" in run.output
    assert "keepalived_track_scripts[0] (chk_nginx) on lb1: the name 'chk_nginx' is the role's own" in run.output
    assert "keepalived_track_processes[0] (p).process on lb2: found 'a-very-long-daemon' (18 bytes)" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()


def test_no_track_renders_what_it_did_before(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], BASE)
    assert run.rc == 0, run.output
    conf = run.conf("lb1")
    assert [kw for kw, _a, _c in parse(conf)] == ["global_defs", "vrrp_script", "vrrp_track_file", "vrrp_instance", "vrrp_instance"]
    inst = instances(conf)["VI_1"]
    assert (inst["track_script"], inst["track_file"]) == (["chk_nginx"], ["halb_drain"])
    tree = {args[0]: children for kw, args, children in parse(conf) if kw == "vrrp_instance"}
    assert not find(tree["VI_1"], "track_interface") and not find(tree["VI_1"], "track_process")
