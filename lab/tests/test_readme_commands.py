# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/halb_lab/readme_commands.py runs the lab commands of docs/lab.md (the README is the
installed user's and has none): the blocks it finds there are the lab's."""

from __future__ import annotations

from halb_lab import REPO
from halb_lab import readme_commands as rc


def test_the_lab_commands_are_read_from_docs_lab_md():
    assert rc.LAB_DOC == REPO / "docs" / "lab.md"
    found = dict(rc.blocks(rc.LAB_DOC.read_text()))
    assert sorted(found) == ["by-hand", "operations"]
    assert "ansible-playbook -i lab/inventory playbooks/failover.yml -e node=lb1 -e restore=true" in found["operations"]
    assert any(line.startswith("scripts/lab shell lb1 systemctl stop keepalived") for line in found["by-hand"])


def test_the_readme_holds_no_lab_commands():
    # a block left in the README would silently no longer run
    assert rc.blocks((REPO / "README.md").read_text()) == []
