"""Issue 17, finding 13: a node taken out of its pair (playbooks/leave.yml) keeps nothing the
keepalived role wrote. Both sides are computed from the role itself, never copied here:

- what the role writes: the ``directories``, ``files`` and ``absent`` expressions of the
  ``halb.pair.files`` task of tasks/configure.yml, every ``dest`` of the role's other tasks,
  and every file its unit templates make systemd write (``> {{ VAR }}``), read from the
  role's YAML and templates and evaluated by the real ansible-playbook with the role's own
  variables, once with every switch on and once with the switches off that make
  configure.yml remove files (it removes only what it may have written before);
- what tasks/leave.yml removes: ``__keepalived_leave_files`` and ``__keepalived_leave_dirs``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.helpers.ansible_run import REPO, default_interface, run_playbook

pytestmark = pytest.mark.ansible

ROLE = REPO / "roles" / "keepalived"
BASE = {
    "keepalived_interface": default_interface(),
    "keepalived_script_user": "nobody",
    "keepalived_topology": "dual_master",
    "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"],
    "keepalived_auth_pass": "s3cr3t%",
}
# the nodes' VRRP addresses: what the hand-over and crash hand-over configurations need of facts
HOSTS = {"lb1": {"keepalived_unicast_src_ip": "198.51.100.11"}, "lb2": {"keepalived_unicast_src_ip": "198.51.100.12"}}
SWITCHES = {
    "every switch on": {"keepalived_manage_service": True, "keepalived_handover": True, "keepalived_crash_handover": True,
                        "keepalived_restart_on_failure": True, "keepalived_nonlocal_bind": True,
                        # LVS: the modules-load file (removed again with the last virtual server)
                        "keepalived_virtual_servers": [{"address": "198.51.100.100", "port": 80, "lb_kind": "NAT",
                                                        "real_servers": [{"address": "198.51.100.21", "gateway": "198.51.100.100"}]}],
                        # the notify hooks' runner: its script, configuration, unit and FIFO
                        "keepalived_notify_hooks": ["/usr/local/libexec/notify-me"]},
    "the switches that remove files off": {"keepalived_manage_service": True, "keepalived_handover": False,
                                           "keepalived_crash_handover": False, "keepalived_restart_on_failure": False,
                                           "keepalived_nonlocal_bind": False, "keepalived_virtual_servers": [],
                                           "keepalived_notify_hooks": []},
}


def _tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))


def _expr(value: str) -> str:
    """The Jinja expression of a ``"{{ ... }}"`` string."""
    m = re.fullmatch(r"\s*\{\{(.*)\}\}\s*", value, re.S)
    assert m, f"not one expression: {value!r}"
    return m.group(1).strip()


def what_the_role_writes() -> dict[str, object]:
    """The expressions, as the role's files hold them."""
    files_tasks = [t for f in sorted((ROLE / "tasks").glob("*.yml")) for t in _tasks(yaml.safe_load(f.read_text()))
                   if "halb.pair.files" in t and f.name != "leave.yml"]
    assert len(files_tasks) == 1, "expected one halb.pair.files task that writes the role's files"
    args = files_tasks[0]["halb.pair.files"]
    dests = [
        args_[k] for f in sorted((ROLE / "tasks").glob("*.yml")) if f.name != "leave.yml"
        for t in _tasks(yaml.safe_load(f.read_text())) for args_ in t.values() if isinstance(args_, dict)
        for k in ("dest",) if k in args_
    ]
    stamps = sorted({m for f in (ROLE / "templates").glob("*.j2") for m in re.findall(r">\s*\{\{\s*(\w+)\s*\}\}", f.read_text())})
    return {"files": _expr(args["files"]), "dirs": _expr(args["directories"]), "absent": _expr(args["absent"]), "dests": dests,
            "stamps": stamps}


def role_files_playbook(tmp: Path, switches: dict, listing: str, extra_vars: dict | None = None, no_log: bool = False) -> Path:
    """A play that evaluates the role's own expressions (``listing``: a JSON template over them,
    see what_the_role_writes) after its preflight, with the role's variables, and writes the
    result to HALB_OUT/<host>/files.json: no task of the role runs, nothing is written on this
    machine but that file."""
    play = {
        "name": "The keepalived role's files", "hosts": "lb", "gather_facts": False,
        "vars": {**switches, "keepalived_manage_service": True, "__keepalived_service": "keepalived",
                 "role_path": str(REPO / "roles" / "keepalived"), **(extra_vars or {})},
        "tasks": [
            {"name": "Preflight", "ansible.builtin.import_role": {"name": "halb.pair.keepalived", "tasks_from": "preflight.yml"}},
            {"name": "Write", "no_log": no_log, "ansible.builtin.copy": {
                "dest": "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/files.json",
                "content": listing, "mode": "0600"}},
        ],
    }
    tmp.mkdir(parents=True, exist_ok=True)
    # outside the role, the template lookups of its variables look in the playbook's templates/
    for d in ("templates", "files"):
        (tmp / d).symlink_to(REPO / "roles" / "keepalived" / d)
    path = tmp / "files.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def paths_playbook(tmp: Path, switches: dict) -> Path:
    w = what_the_role_writes()
    listing = (
        "{{ {'files': (" + w["files"] + ") | map(attribute='path') | list,"
        " 'dirs': (" + w["dirs"] + ") | map(attribute='path') | list,"
        " 'absent': (" + w["absent"] + "),"
        " 'dests': __halb_test_dests,"
        " 'stamps': [" + ", ".join(w["stamps"]) + "],"
        " 'leave_files': __keepalived_leave_files, 'leave_dirs': __keepalived_leave_dirs} | to_json }}"
    )
    play = {
        "name": "What the keepalived role writes, and what its leave removes",
        "hosts": "lb",
        "gather_facts": False,
        "vars": {**switches, "__keepalived_service": "keepalived", "__halb_test_dests": w["dests"]},
        "tasks": [
            {"name": "Preflight", "ansible.builtin.import_role": {"name": "halb.pair.keepalived", "tasks_from": "preflight.yml"}},
            {"name": "Write both", "no_log": True, "ansible.builtin.copy": {
                "dest": "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/paths.json",
                "content": listing, "mode": "0600"}},
        ],
    }
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "paths.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    out = {}
    for name, switches in SWITCHES.items():
        tmp = tmp_path_factory.mktemp(name.replace(" ", "-"))
        run = run_playbook(tmp, paths_playbook(tmp, switches), ["lb1", "lb2"], BASE, HOSTS)
        assert run.rc == 0, run.output
        assert BASE["keepalived_auth_pass"] not in run.output
        # the run's own output directory (where the tests put the contract file) reads as OUT
        out[name] = {h: json.loads(run.conf(h, "paths.json").replace(str(run.outdir), "OUT")) for h in ("lb1", "lb2")}
    return out


def test_the_scan_finds_what_matters():
    # guards the scan itself: without these the test below would pass over nothing
    w = what_the_role_writes()
    assert "__keepalived_conf_file" in w["files"] and "__keepalived_handover_files" in w["files"]
    assert {"{{ __keepalived_guard_file }}", "{{ __keepalived_contract_file }}"} <= set(w["dests"])
    assert {"__keepalived_loaded_stamp", "__keepalived_guard_stamp"} <= set(w["stamps"])


@pytest.mark.parametrize("switches", list(SWITCHES))
def test_leave_removes_every_file_the_role_writes(listed, switches):
    for host, got in listed[switches].items():
        written = set(got["files"]) | set(got["absent"]) | set(got["dests"]) | set(got["stamps"])
        assert "/etc/keepalived/keepalived.conf" in written
        missed = sorted(written - set(got["leave_files"]))
        assert missed == [], f"{host}: written by the role, left by leave.yml: {missed}"
        assert sorted(set(got["dirs"]) - set(got["leave_dirs"])) == [], host


def test_leave_removes_the_same_whatever_the_switches(listed):
    # a node deployed with other switches than the inventory has now is still cleaned
    on, off = (listed[name] for name in SWITCHES)
    for host in ("lb1", "lb2"):
        assert on[host]["leave_files"] == off[host]["leave_files"]
        assert on[host]["leave_dirs"] == off[host]["leave_dirs"]


def test_leave_removes_the_instances_state_feed_and_the_files_the_scripts_write(listed):
    got = listed["every switch on"]["lb1"]
    assert {"/var/lib/halb-pair/state/VI_1", "/var/lib/halb-pair/state/VI_2", "/var/lib/halb-pair/drain",
            "/var/lib/halb-pair/handover", "/var/lib/halb-pair/nginx-down"} <= set(got["leave_files"])
    # the FIFO the notify hooks' runner makes, and its directory
    assert "/var/lib/halb-pair-notify/events" in got["leave_files"] and "/var/lib/halb-pair-notify" in got["leave_dirs"]
    # directories go deepest first (each only when empty)
    dirs = got["leave_dirs"]
    assert dirs.index("/var/lib/halb-pair/state") < dirs.index("/var/lib/halb-pair")
