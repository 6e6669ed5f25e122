# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's playbooks run on the load balancers only: a user's own web servers (in a
group called `web`, as in the worked examples) are never a target. ansible-playbook's own
--list-hosts decides, for every playbook and example inventory; the lab's backends are
deployed by the lab (lab/playbooks/backends.yml), not by halb.pair.site."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from tests.helpers.ansible_run import REPO
from tests.helpers.tools import tool

pytestmark = pytest.mark.ansible

PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
INVENTORIES = sorted(p for p in (REPO / "inventories").iterdir() if p.is_dir())


def _lb_hosts(inventory) -> set[str]:
    out = subprocess.run([tool("ansible-inventory") or "ansible-inventory", "-i", str(inventory), "--list"],
                         capture_output=True, text=True, check=True, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    data = yaml.safe_load(out.stdout)
    groups = [g for g in data if g not in ("_meta", "all", "ungrouped")]
    lb = set()
    for g in groups:
        if g == "lb" or g.startswith("lb"):
            lb |= set(data[g].get("hosts") or [])
            for child in data[g].get("children") or []:
                lb |= set(data.get(child, {}).get("hosts") or [])
    return lb


def _listed(inventory, playbook) -> set[str]:
    out = subprocess.run([tool("ansible-playbook") or "ansible-playbook", "-i", str(inventory), "--list-hosts", str(playbook), "-e", "node=lb1"],
                         capture_output=True, text=True, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    assert out.returncode == 0, out.stdout + out.stderr
    return {h.strip() for block in re.findall(r"hosts \(\d+\):\n((?:\s{6,}\S+\n?)*)", out.stdout) for h in block.split()}


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda p: p.name)
@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_playbooks_target_only_the_load_balancers(inventory, playbook):
    listed = _listed(inventory, playbook)
    lbs = _lb_hosts(inventory)
    assert listed, f"{playbook.name} lists no host on {inventory.name}"
    assert listed <= lbs, f"{playbook.name} targets hosts outside the load balancers: {sorted(listed - lbs)}"


def test_the_check_sees_a_play_on_the_web_group():
    """The check can fail: the lab's backends play, on the `web` group, is reported."""
    listed = _listed(REPO / "inventories" / "single", REPO / "lab" / "playbooks" / "backends.yml")
    assert listed and not listed <= _lb_hosts(REPO / "inventories" / "single")
