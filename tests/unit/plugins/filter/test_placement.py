# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vip_placement filters: thin wrappers, errors turned into AnsibleFilterError, and
the real Jinja path through ansible-playbook on localhost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.filter.placement import FilterModule

from tests.helpers.tools import tool

REPO = Path(__file__).resolve().parents[4]
A = "198.51.100.100"
INSTANCES = [
    {
        "name": "VI_1",
        "vrid": 55,
        "master": "lb1",
        "preempt": True,
        "vips": [{"address": A, "prefix": 24, "cidr": f"{A}/24", "dev": "eth0", "label": "eth0:1"}],
        "nodes": [
            {"host": "lb1", "state": "MASTER", "priority": 150, "interface": "eth0"},
            {"host": "lb2", "state": "BACKUP", "priority": 100, "interface": "eth0"},
        ],
    }
]


def report(held):
    return {
        "held_vips": held,
        "drain": {"drained": False, "value": 0, "status": "active"},
        "nginx": {"healthy": True, "status": 200, "latency_ms": 0.9, "node": "x"},
        "keepalived": {"running": True, "version": "2.2.7"},
        "source": "json",
        "instances": [],
    }


F = FilterModule().filters()


def test_filters_registered():
    assert set(F) == {"vip_placement", "vip_placement_table", "vip_placement_failing", "vip_placement_summary", "vip_drain_blockers"}


@pytest.mark.parametrize(
    ("reports", "verdict"),
    [
        ({"lb1": report([A]), "lb2": report([])}, "ok"),
        ({"lb1": report([A]), "lb2": report([A])}, "split_brain"),
        ({"lb1": report([]), "lb2": report([])}, "orphan"),
    ],
)
def test_vip_placement(reports, verdict):
    (placement,) = F["vip_placement"](INSTANCES, reports)
    assert placement["verdict"] == verdict
    failing = F["vip_placement_failing"]([placement])
    assert bool(failing) is (verdict != "ok")
    assert F["vip_placement_summary"]([placement]).startswith("all VIPs ok" if verdict == "ok" else verdict)
    assert F["vip_placement_table"]([placement], reports)[0].startswith("VIP")


def test_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match="vip_placement: expected a non-empty nodes list"):
        F["vip_placement"]([{"name": "VI_1", "vips": [A]}], {})
    with pytest.raises(AnsibleFilterError, match="vip_placement_failing: expected verdicts"):
        F["vip_placement_failing"]([], ["bad"])


@pytest.mark.ansible
def test_through_ansible_playbook(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n"
        '        dest: "{{ out }}"\n'
        "        mode: '0644'\n"
        "        content: \"{{ instances | halb.pair.vip_placement(reports) | map(attribute='verdict') | list | to_json }}\"\n"
    )
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"instances": INSTANCES, "reports": {"lb1": report([A]), "lb2": report([A])}}))
    proc = subprocess.run(
        [
            tool("ansible-playbook") or "ansible-playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            f"@{extra}",
            "-e",
            f"out={tmp_path / 'out.json'}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # this run's environment (ansible-test units' wrappers need its PATH and PYTHONPATH)
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == ["split_brain"]
