"""Issue 9: what `-e NAME=VALUE` (a string) means to the preflight is what the rendered
keepalived.conf says, end to end through the keepalived role (preflight, then the
template, validated by the host's real `keepalived -t`); and a pair whose NICs have
different names renders each node's VIPs on its own NIC.

Expected values are written from what the variables mean, not read from a rendering.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import instances, parse, value
from tests.helpers.netns import UNSHARE_NET_SH

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
IFACE = default_interface()
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody", "keepalived_vips": ["198.51.100.100/24"]}


# keepalived -t checks that an interface exists (and wants multicast): it runs in a
# network namespace of its own that has exactly eth0 and ens3 (a veth pair), so the test
# does not depend on this host's NICs, and the host's network is never changed.
NETNS_KEEPALIVED = """#!/bin/sh
exec @UNSHARE_NET@ sh -c 'ip link add eth0 type veth peer name ens3 && ip link set eth0 up && ip link set ens3 up &&
  exec keepalived "$@"' keepalived-in-netns "$@"
"""
# as any user: through a user namespace of its own (tests/helpers/netns.py)
NETNS_KEEPALIVED = NETNS_KEEPALIVED.replace("@UNSHARE_NET@", UNSHARE_NET_SH)


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


@pytest.mark.parametrize("topology", ["single", "dual_master"])
def test_each_node_renders_its_vips_on_its_own_nic(tmp_path, monkeypatch, topology):
    # eth0 on lb1, ens3 on lb2: each node's VIPs on its own NIC, passing the real keepalived -t
    wrapper = tmp_path / "keepalived-in-netns"
    wrapper.write_text(NETNS_KEEPALIVED)
    wrapper.chmod(0o755)
    monkeypatch.setenv("KEEPALIVED", str(wrapper))  # read by the role's keepalived-validate
    run = _render(tmp_path, {}, {"lb1": {"keepalived_interface": "eth0"}, "lb2": {"keepalived_interface": "ens3"}},
                  {"keepalived_topology": topology, "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]})
    for host, nic in (("lb1", "eth0"), ("lb2", "ens3")):
        got = {name: (i["interface"], i["vips"]) for name, i in instances(run.conf(host)).items()}
        if topology == "single":
            want = {"VI_1": (nic, [f"198.51.100.100/24 dev {nic} label {nic}:1", f"198.51.100.101/24 dev {nic} label {nic}:2"])}
        else:
            want = {"VI_1": (nic, [f"198.51.100.100/24 dev {nic} label {nic}:1"]),
                    "VI_2": (nic, [f"198.51.100.101/24 dev {nic} label {nic}:2"])}
        assert got == want, host
    assert "keepalived-in-netns" not in run.conf("lb1")


def test_the_netns_keepalived_refuses_a_nic_it_does_not_have(tmp_path, monkeypatch):
    # the namespace's keepalived -t is a real check: a third NIC name is refused
    wrapper = tmp_path / "keepalived-in-netns"
    wrapper.write_text(NETNS_KEEPALIVED)
    wrapper.chmod(0o755)
    monkeypatch.setenv("KEEPALIVED", str(wrapper))
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, "keepalived_interface": "ens4"})
    assert run.rc != 0 and "was refused by its validator" in run.output
