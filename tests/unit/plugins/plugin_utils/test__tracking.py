# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's own tracking (interfaces, scripts, processes, files): the plan the template
renders, one row per refusal of the preflight (through ``_preflight.check``), and the weights
that cannot move a VIP on their own (said by the preflight, not refused)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _tracking
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check
from ansible_collections.halb.pair.plugins.plugin_utils._topology import as_dicts, derive, settings_of

HOSTS = ["lb1", "lb2"]
FACTS = {"interfaces": ["lo", "eth0", "eth1", "bond0"]}
BASE = {"keepalived_vips": ["198.51.100.100/24"]}
SCRIPT = {"name": "chk_db", "script": "/usr/local/libexec/check-db", "weight": -60}


def hostvars(group=None, per_host=None, facts=True):
    out = {}
    for h in HOSTS:
        hv = {**copy.deepcopy(BASE), **copy.deepcopy(group or {}), **copy.deepcopy((per_host or {}).get(h, {}))}
        if facts:
            hv["ansible_facts"] = copy.deepcopy(FACTS)
        out[h] = hv
    return out


ACCEPTED = [
    pytest.param({}, id="none"),
    pytest.param({"keepalived_track_interfaces": ["eth1", {"name": "bond0", "weight": -60}]}, id="interfaces"),
    pytest.param({"keepalived_track_scripts": [SCRIPT, {"name": "chk-cache", "script": "/usr/local/bin/c", "interval": 5,
                                                        "timeout": 3, "fall": 3, "rise": 1}]}, id="scripts"),
    pytest.param({"keepalived_track_processes": [{"name": "haproxy", "process": "haproxy", "quorum": 2, "weight": -60},
                                                 {"name": "java_app", "process": "/usr/bin/java", "params": ["-jar", "/srv/app.jar"],
                                                  "param_match": "partial"},
                                                 {"name": "long", "process": "/usr/local/sbin/a-long-daemon-name", "param_match": "exact"}]},
                 id="processes-name-and-command"),
    pytest.param({"keepalived_track_files": [{"name": "app_down", "file": "/run/app/down", "weight": 0, "init_file": 0},
                                             {"name": "app_prio", "file": "/run/app/prio"}]}, id="files"),
]


@pytest.mark.parametrize("group", ACCEPTED)
def test_accepted(group):
    assert check(HOSTS, hostvars(group)) == []


# (group vars, per-host vars, fragments every one of which one message must hold)
REFUSED = [
    pytest.param({"keepalived_track_interfaces": ["eth0"]}, None,
                 ["keepalived_track_interfaces[0] (eth0) on lb1", "the node's own VRRP interface", "keepalived -t refuses"],
                 id="own-interface"),
    pytest.param(None, {"lb2": {"keepalived_interface": "eth1", "keepalived_track_interfaces": ["eth1"]}},
                 ["keepalived_track_interfaces[0] (eth1) on lb2", "own VRRP interface"], id="own-interface-per-host"),
    pytest.param({"keepalived_track_interfaces": ["eth1", {"name": "eth1", "weight": -10}]}, None,
                 ["keepalived_track_interfaces[1] (eth1) on lb1", "tracked twice"], id="interface-twice"),
    pytest.param({"keepalived_track_interfaces": ["eth9"]}, None,
                 ["keepalived_track_interfaces on lb1", "interface 'eth9' does not exist on the host", "'bond0'"], id="interface-missing"),
    pytest.param({"keepalived_track_interfaces": ["eth1\n}\nvrrp_instance X {"]}, None,
                 ["keepalived_track_interfaces[0] on lb1", "an interface name of 1..15 bytes"], id="interface-injection"),
    pytest.param({"keepalived_track_interfaces": [{"name": "eth1", "weight": -254}]}, None,
                 ["keepalived_track_interfaces[0] (eth1).weight on lb1", "within -253..253"], id="interface-weight-range"),
    pytest.param({"keepalived_track_interfaces": [{"name": "eth1", "wieght": -60}]}, None,
                 ["unknown key 'wieght'"], id="interface-unknown-key"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "name": "chk_nginx"}]}, None,
                 ["keepalived_track_scripts[0] (chk_nginx) on lb1", "is the role's own", "choose another"], id="role-name"),
    pytest.param({"keepalived_track_files": [{"name": "halb_app", "file": "/run/app"}]}, None,
                 ["keepalived_track_files[0] (halb_app)", "beginning with 'halb_'"], id="role-prefix"),
    pytest.param({"keepalived_track_scripts": [SCRIPT], "keepalived_track_processes": [{"name": "chk_db", "process": "db"}]}, None,
                 ["keepalived_track_processes[0] (chk_db) on lb1", "used by keepalived_track_scripts[0] already", "unique"],
                 id="name-across-kinds"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "name": "1st"}]}, None,
                 ["keepalived_track_scripts[0] (1st).name on lb1", "found '1st'", "a letter, then up to 31"], id="name-pattern"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "script": "check-db"}]}, None,
                 ["keepalived_track_scripts[0] (chk_db).script on lb1", "an absolute path"], id="script-relative"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "script": "/usr/bin/pgrep haproxy"}]}, None,
                 ["(chk_db).script on lb1", "no whitespace"], id="script-with-arguments"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "script": "/usr/local/libexec/"}]}, None,
                 ["keepalived_track_scripts[0] (chk_db).script on lb1", "a directory"], id="script-directory"),
    pytest.param({"keepalived_track_scripts": [{"name": "chk_db"}]}, None,
                 ["keepalived_track_scripts[0] (chk_db) on lb1", "'script' is missing"], id="script-missing"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "interval": 0}]}, None,
                 ["(chk_db).interval on lb1", "within 1..3600"], id="interval-range"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "weight": 300}]}, None,
                 ["(chk_db).weight on lb1", "within -253..253"], id="script-weight-range"),
    pytest.param({"keepalived_track_processes": [{"name": "app", "process": "a-very-long-daemon"}]}, None,
                 ["keepalived_track_processes[0] (app).process on lb1", "18 bytes", "/proc/PID/comm", "at most 15"], id="process-comm-length"),
    pytest.param({"keepalived_track_processes": [{"name": "app", "process": "web content"}]}, None,
                 ["(app).process on lb1", "no whitespace"], id="process-space"),
    pytest.param({"keepalived_track_processes": [{"name": "app", "process": "app", "params": ["-c", "a#b"]}]}, None,
                 ["(app).params[1] on lb1", "'a#b'"], id="param-comment"),
    pytest.param({"keepalived_track_processes": [{"name": "app", "process": "app", "param_match": "regex"}]}, None,
                 ["(app).param_match on lb1", "'exact', 'initial', 'partial'"], id="param-match-choice"),
    pytest.param({"keepalived_track_files": [{"name": "f", "file": "/var/lib/halb-pair/drain"}]}, None,
                 ["keepalived_track_files[0] (f).file on lb1", "the role's own tracked file (keepalived_drain_file)"], id="role-file"),
    pytest.param({"keepalived_handover_file": "/run/ho", "keepalived_track_files": [{"name": "f", "file": "/run/ho"}]}, None,
                 ["(f).file on lb1", "keepalived_handover_file"], id="role-file-moved"),
    pytest.param({"keepalived_track_files": [{"name": "f", "file": "/run/a"}, {"name": "g", "file": "/run/a"}]}, None,
                 ["keepalived_track_files[1] (g).file on lb1", "tracked by keepalived_track_files[0] already"], id="file-twice"),
    pytest.param({"keepalived_track_files": [{"name": "f", "file": "/run/a", "init_file": 255}]}, None,
                 ["(f).init_file on lb1", "-254..254"], id="init-file-range"),
]


@pytest.mark.parametrize(("group", "per_host", "fragments"), REFUSED)
def test_refused(group, per_host, fragments):
    errors = check(HOSTS, hostvars(group, per_host))
    assert any(all(f in e for f in fragments) for e in errors), errors


def test_a_typing_problem_is_said_once_not_planned_on_top():
    errors = check(HOSTS, hostvars({"keepalived_track_scripts": [{**SCRIPT, "name": "chk_nginx", "script": "rel"}]}))
    assert [e for e in errors if "lb1" in e] == [
        "keepalived_track_scripts[0] (chk_nginx).script on lb1: found 'rel'; allowed: an absolute path of letters, digits and "
        ". _ + @ = , / - (no whitespace, quotes, ';', '{', '}', '#', '!', '$')"]


def test_plan_applies_the_argument_spec_defaults():
    values = settings_of(hostvars({
        "keepalived_track_interfaces": ["eth1", {"name": "bond0", "weight": -60}],
        "keepalived_track_scripts": [{"name": "chk_db", "script": "/usr/local/libexec/check-db"}],
        "keepalived_track_processes": [{"name": "haproxy", "process": "haproxy"}],
        "keepalived_track_files": [{"name": "app", "file": "/run/app"}],
    })["lb1"])
    planned, errors = _tracking.plan(values, "lb1")
    assert errors == []
    assert planned == {
        "interfaces": [{"name": "eth1", "weight": 0}, {"name": "bond0", "weight": -60}],
        "scripts": [{"name": "chk_db", "script": "/usr/local/libexec/check-db", "interval": 1, "timeout": 2, "fall": 2, "rise": 2,
                     "weight": 0}],
        "processes": [{"name": "haproxy", "process": "haproxy", "params": [], "param_match": None, "quorum": 1, "weight": 0}],
        "files": [{"name": "app", "file": "/run/app", "weight": 1, "init_file": None}],
    }


def test_interfaces_are_per_host():
    hv = hostvars(per_host={"lb1": {"keepalived_track_interfaces": ["eth1"]}, "lb2": {"keepalived_track_interfaces": ["bond0"]}})
    assert check(HOSTS, hv) == []
    assert [_tracking.plan(settings_of(hv[h]), h)[0]["interfaces"] for h in HOSTS] == [
        [{"name": "eth1", "weight": 0}], [{"name": "bond0", "weight": 0}]]


def notes_of(group=None, per_host=None):
    notes: list[str] = []
    assert check(HOSTS, hostvars(group, per_host), None, notes) == []
    return notes


# master 150, backup 100: a weight moves the VIP on its own only below -50 (or, positive, above 50 on both)
WEIGHTS = [
    pytest.param({"keepalived_track_interfaces": [{"name": "eth1", "weight": -51}]}, None, [], id="negative-enough"),
    pytest.param({"keepalived_track_interfaces": [{"name": "eth1", "weight": -50}]}, None,
                 ["VI_1 on lb1: track_interface eth1 has weight -50; while it fails alone the master's priority is 100, not below "
                  "lb2's 100, so it does not move the VIP on its own"], id="negative-equal-gap"),
    pytest.param({"keepalived_track_interfaces": ["eth1"], "keepalived_track_files": [{"name": "f", "file": "/run/f", "weight": 1}]},
                 None, [], id="fault-and-files-not-judged"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "weight": 51}]}, None, [], id="positive-on-every-node"),
    # the backup's 250 + 10 is 254 at most (the effective priority is clamped to 1..254)
    pytest.param({"keepalived_backup_priority": 250, "keepalived_master_priority": 254,
                  "keepalived_track_scripts": [{**SCRIPT, "weight": 10}]}, None,
                 ["master's priority is 254, not below lb2's 254"], id="positive-clamped-at-254"),
    pytest.param({"keepalived_track_scripts": [{**SCRIPT, "weight": 40}]}, None,
                 ["vrrp_script chk_db has weight 40; while it fails alone the master's priority is 150, not below lb2's 140"],
                 id="positive-too-small"),
    pytest.param(None, {"lb1": {"keepalived_track_processes": [{"name": "db", "process": "db", "weight": 60}]}},
                 ["vrrp_track_process db has weight 60; while it fails alone the master's priority is 150, not below lb2's 100"],
                 id="positive-on-the-master-only"),
    pytest.param({"keepalived_track_interfaces": [{"name": "eth1", "weight": -30}, {"name": "bond0", "weight": -30}]}, None,
                 ["track_interface eth1 has weight -30", "track_interface bond0 has weight -30"], id="two-that-move-it-together"),
    pytest.param({"keepalived_master_priority": 254, "keepalived_backup_priority": 1, "keepalived_check_weight": 0,
                  "keepalived_track_interfaces": [{"name": "eth1", "weight": -253}]}, None,
                 ["master's priority is 1, not below lb2's 1"], id="clamped-at-1"),
    pytest.param({"keepalived_nopreempt": True, "keepalived_track_interfaces": [{"name": "eth1", "weight": -100}]}, None,
                 ["VI_1 on lb1: track_interface eth1 has weight -100, but with keepalived_nopreempt a backup never takes the VIP"],
                 id="nopreempt"),
]


@pytest.mark.parametrize(("group", "per_host", "fragments"), WEIGHTS)
def test_weights_that_cannot_move_the_vip_on_their_own_are_said(group, per_host, fragments):
    notes = notes_of(group, per_host)
    assert len(notes) == len(fragments), notes
    for fragment, note in zip(fragments, notes, strict=True):
        assert fragment in note


def test_dual_master_judges_each_instance_with_its_own_master():
    group = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
    per_host = {"lb1": {"keepalived_track_interfaces": [{"name": "eth1", "weight": -20}]},
                "lb2": {"keepalived_track_interfaces": [{"name": "eth1", "weight": -60}]}}
    notes = notes_of(group, per_host)
    assert [n.split(":")[0] for n in notes] == ["VI_1 on lb1"]
    hv = hostvars(group, per_host)
    instances = as_dicts(derive(HOSTS, hv))
    plans = {h: _tracking.plan(settings_of(hv[h]), h)[0] for h in HOSTS}
    assert _tracking.weak_weights(instances, plans) == notes
