# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a user has it: built into its tarball, installed into an empty
collections path, and run from a directory outside this repository with an EMPTY
ansible.cfg (stock settings: the default callback, no callback_result_format).

The status table (halb.pair._pair's judge.yml, what status.yml, failover.yml and
upgrade.yml show) must come out one table line per output line, not as one string
full of escaped newlines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.tools import tool

pytestmark = pytest.mark.ansible

REPO = Path(__file__).resolve().parents[2]
VIP = "198.51.100.100/24"

# What every node's halb.pair.vip_info returned, as read.yml registers it: lb1 holds the
# VIP, lb2 does not.
READS = {
    "lb1": {"results": [{"item": "lb1", "held_vips": ["198.51.100.100"]}]},
    "lb2": {"results": [{"item": "lb2", "held_vips": []}]},
}
PLAYBOOK = [{
    "name": "The status table from fixed reads",
    "hosts": "lb",
    "gather_facts": False,
    "tasks": [{"name": "Judge", "ansible.builtin.import_role": {"name": "halb.pair._pair", "tasks_from": "judge.yml"}}],
}]


def run_outside(tmp_path: Path, collections: Path) -> subprocess.CompletedProcess:
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "ansible.cfg").write_text("")
    inventory = {"all": {"children": {"lb": {
        "hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "halb_pair_read": READS[h]}
                  for h in READS},
        "vars": {"keepalived_vips": [VIP]},
    }}}}
    (work / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (work / "status.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(work / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(collections),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([tool("ansible-playbook") or "ansible-playbook", "-i", "hosts.yml", "status.yml"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_status_table_prints_one_line_per_row_with_stock_settings(installed, tmp_path):
    assert not str(tmp_path).startswith(str(REPO))
    proc = run_outside(tmp_path, installed)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    lines = out.splitlines()
    # the rows a person reads, each on an output line of its own (the callback's JSON
    # quoting of one list item); the VIP's row says where it is and that this is right
    header = [i for i, line in enumerate(lines) if line.strip().startswith('"VIP ') and "VERDICT" in line]
    assert header, out
    row = [line for line in lines if line.strip().startswith(f'"{VIP}') and " lb1 " in line and " ok " in line]
    assert len(row) == 1, out
    node_rows = [line for line in lines if line.strip().startswith('"NODE ')]
    assert node_rows, out
    # no table line arrives as one string with escaped newlines in it
    assert "\\n" not in out, out
    # and every row is a JSON string of its own, as the default callback prints a list
    for line in lines[header[0]:]:
        if line.strip() in ("]", "}"):
            break
        json.loads(line.strip().rstrip(","))
