"""playbooks/leave.yml's refusals before it touches anything, through the real playbook.

Fake nodes lb1/lb2 use the local connection, so both read this machine (which holds none
of the pair's VIPs: every VIP is an orphan). Each run is in check mode as a safety net;
each test shows the refusal, and that no task of the leave itself ran.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers.ansible_run import REPO, VENV_BIN, default_interface, run_playbook

pytestmark = pytest.mark.ansible

LEAVE = REPO / "playbooks" / "leave.yml"
BASE = {"keepalived_interface": default_interface(), "keepalived_topology": "dual_master",
        "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
#: the tasks that change a node: none of them may run after a refusal
LEAVING_TASKS = ("TASK [halb.pair._pair : Keep this node's plan to leave its pair]", "TASK [halb.pair.keepalived : ")


@pytest.mark.parametrize("inventory", ["inventories/single", "inventories/dual_master", "lab/inventory"])
def test_leave_passes_the_syntax_check(inventory):
    assert (REPO / inventory).is_dir()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", inventory, str(LEAVE)],
                          cwd=REPO, capture_output=True, text=True, check=False, env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                                                                                       "PATH": f"{VENV_BIN}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _untouched(run):
    assert run.rc != 0, run.output
    for task in LEAVING_TASKS:
        assert task not in run.output, run.output
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", run.output, re.M)
    assert recap and all(changed == "0" for _, changed in recap), recap


@pytest.mark.parametrize(("extra", "found"), [([], "found no node"), (["-e", "node=lb9"], "found lb9"), (["-e", "node=web1"], "found web1")])
def test_leave_expects_one_node_of_the_play(tmp_path, extra, found):
    run = run_playbook(tmp_path, LEAVE, ["lb1", "lb2"], BASE, extra=["--check", *extra])
    _untouched(run)
    assert f"expected -e node=<one of lb1, lb2>, {found}" in run.output
    # it stopped at its first task: nothing was read either
    assert "TASK [halb.pair._pair : Read VIPs" not in run.output


def test_leave_refuses_a_pair_whose_vips_have_no_holder(tmp_path):
    # nothing here holds the VIPs: both are orphans, which fails before the node is drained
    run = run_playbook(tmp_path, LEAVE, ["lb1", "lb2"], BASE, extra=["--check", "-e", "node=lb1"])
    _untouched(run)
    assert "orphan: VIP 198.51.100.100 (VI_1) held by no node" in run.output
    assert "TASK [halb.pair._pair : Read VIPs, keepalived state, drain value and nginx health]" in run.output
