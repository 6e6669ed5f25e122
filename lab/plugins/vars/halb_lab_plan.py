# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's address plan as inventory variables (halb_lab.plan_vars; lab/README.md)."""

from __future__ import annotations

DOCUMENTATION = """
    name: halb_lab_plan
    short_description: the lab's address plan (lab/addresses.yml) for the lab's own inventories
    description:
      - Gives each host of a plan user's inventory its C(lab_ip) (and C(lab_upstream) for a web
        backend), the pair's group C(keepalived_vips), C(keepalived_vrid_base) and
        C(keepalived_smtp_server), and C(all) the VIPs' placement C(lab_vips).
      - Which user an inventory belongs to, by its source path; every other inventory gets nothing.
        C(lab/inventory) is the user C(lab). Under Molecule (C(MOLECULE_SCENARIO_NAME) set), a
        source under C(MOLECULE_EPHEMERAL_DIRECTORY) is the user C(molecule-<scenario>).
        A source under C(HALB_LAB_PLAN_INVENTORY) is the user C(HALB_LAB_PLAN_USER) (the benchmarks
        set both for the inventory they write).
    options:
      stage:
        ini:
          - key: stage
            section: vars_halb_lab_plan
        env:
          - name: ANSIBLE_VARS_PLUGIN_STAGE
    extends_documentation_fragment:
      - vars_plugin_staging
"""

from halb_lab.plan_vars import VarsModule  # noqa: E402,F401  (the lab's package: scripts/bootstrap's .pth)
