"""Issue 9: what `-e NAME=VALUE` (a string) means to the preflight is what the rendered
keepalived.conf says, end to end through the keepalived role (preflight, then the
template, validated by the host's real `keepalived -t`); and a pair whose NICs have
different names renders each node's VIPs on its own NIC.

Expected values are written from what the variables mean, not read from a rendering.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import instances, parse, value

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run scripts/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
IFACE = default_interface()
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody", "keepalived_vips": ["198.51.100.100/24"]}


def _other_nic() -> str | None:
    """Another interface of this host than IFACE (keepalived -t checks the interface exists,
    refuses loopback and wants multicast), with room for a ':N' label."""
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=False).stdout
    links = [(link.get("ifname", ""), link.get("flags") or []) for link in json.loads(out or "[]")]
    return next((n for n, flags in links if n != IFACE and len(n) <= 12 and "MULTICAST" in flags and "LOOPBACK" not in flags), None)


OTHER = _other_nic()


def _render(tmp_path, extra, host_vars=None, group_vars=None):
    args = [a for k, v in extra.items() for a in ("-e", f"{k}={v}")]
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, **(group_vars or {})}, host_vars, extra=args)
    assert run.rc == 0, run.output
    return run


def _chk(conf):
    block = next(c for k, a, c in parse(conf) if k == "vrrp_script")
    return {k: value(block, k) for k in ("interval", "timeout", "fall", "rise", "weight")}, value(block, "script")


# (extra vars exactly as typed on a command line, what VI_1 on lb1 must say)
CASES = [
    pytest.param({"keepalived_nopreempt": "false"}, {"nopreempt": False, "state": "MASTER"}, id="nopreempt=false"),
    pytest.param({"keepalived_nopreempt": "no"}, {"nopreempt": False, "state": "MASTER"}, id="nopreempt=no"),
    pytest.param({"keepalived_nopreempt": "true"}, {"nopreempt": True, "state": "BACKUP"}, id="nopreempt=true"),
    pytest.param({"keepalived_master_priority": "200", "keepalived_check_weight": "-110"},
                 {"priority": 200, "state": "MASTER"}, id="master_priority=200"),
    pytest.param({"keepalived_unicast": "false"}, {"unicast_peers": [], "unicast_src_ip": None}, id="unicast=false"),
]


@pytest.mark.parametrize(("extra", "want"), CASES)
def test_extra_vars_render_what_they_mean(tmp_path, extra, want):
    run = _render(tmp_path, extra)
    inst = instances(run.conf("lb1"))["VI_1"]
    assert {k: inst[k] for k in want} == want


def test_check_timers_from_extra_vars(tmp_path):
    run = _render(tmp_path, {"keepalived_check_timeout": "3", "keepalived_check_interval": "4",
                             "keepalived_check_fall": "5", "keepalived_check_rise": "6", "keepalived_check_weight": "-70"})
    timers, script = _chk(run.conf("lb2"))
    assert timers == {"interval": "4", "timeout": "4", "fall": "5", "rise": "6", "weight": "-70"}  # timeout: curl's 3 + 1
    assert re.search(r"--max-time 3 ", script), script


def test_check_timer_spelled_as_a_float_renders_an_integer(tmp_path):
    # "3.0" is the integer 3 to the preflight (Ansible's conversion): keepalived must read 3
    run = _render(tmp_path, {"keepalived_check_timeout": "3.0"})
    timers, script = _chk(run.conf("lb1"))
    assert timers["timeout"] == "4" and "--max-time 3 " in script, (timers, script)


@pytest.mark.skipif(OTHER is None, reason="this host has a single non-loopback interface")
@pytest.mark.parametrize("topology", ["single", "dual_master"])
def test_each_node_renders_its_vips_on_its_own_nic(tmp_path, topology):
    # lb2's NIC has another name than lb1's (an interface of this host: keepalived -t checks it)
    run = _render(tmp_path, {}, {"lb2": {"keepalived_interface": OTHER}},
                  {"keepalived_topology": topology, "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]})
    for host, nic in (("lb1", IFACE), ("lb2", OTHER)):
        got = {name: (i["interface"], i["vips"]) for name, i in instances(run.conf(host)).items()}
        if topology == "single":
            want = {"VI_1": (nic, [f"198.51.100.100/24 dev {nic} label {nic}:1", f"198.51.100.101/24 dev {nic} label {nic}:2"])}
        else:
            want = {"VI_1": (nic, [f"198.51.100.100/24 dev {nic} label {nic}:1"]),
                    "VI_2": (nic, [f"198.51.100.101/24 dev {nic} label {nic}:2"])}
        assert got == want, host
