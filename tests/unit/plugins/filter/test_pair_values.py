# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the model and the preflight read of a host (issue 17): the values its own tasks
resolved (recorded by the keepalived preflight) over its host variables; a role default
left as it is stays a default; host variables are templated with hostvars in reach."""

from __future__ import annotations

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from ansible_collections.halb.pair.plugins.filter.pair import RESOLVED, FilterModule, host_values

F = FilterModule().filters()
BASE = {"keepalived_vips": ["198.51.100.100/24"]}


def test_recorded_values_win_over_host_variables():
    hv = {"lb1": {**BASE, RESOLVED: {"keepalived_router_id": "from-play", "keepalived_master_priority": 160}},
          "lb2": dict(BASE)}
    got = host_values(hv, ["lb1", "lb2"])
    assert got["lb1"]["keepalived_router_id"] == "from-play"
    assert RESOLVED not in got["lb1"]
    pair = F["pair_model"](["lb1", "lb2"], hv)
    assert pair["nodes"]["lb1"]["priorities"] == {"VI_1": 160}


def test_a_role_default_left_as_it_is_stays_a_default():
    # the fast profile's timers win over the role's defaults (vrrp_version 2, advert_int 1),
    # also when the recorded values hold those defaults
    recorded = {"keepalived_profile": "fast", "keepalived_vrrp_version": 2, "keepalived_advert_int": 1}
    hv = {h: {**BASE, "keepalived_profile": "fast", RESOLVED: recorded} for h in ("lb1", "lb2")}
    inst = F["pair_model"](["lb1", "lb2"], hv)["instances"][0]
    assert (inst["version"], inst["advert_int"]) == (3, 0.1)


def test_a_default_value_set_on_the_host_is_given():
    # the same value set in the inventory is the host's own: it wins over the profile
    recorded = {"keepalived_profile": "fast", "keepalived_vrrp_version": 2, "keepalived_advert_int": 1}
    hv = {h: {**BASE, "keepalived_profile": "fast", "keepalived_vrrp_version": 2, "keepalived_advert_int": 1,
              RESOLVED: recorded} for h in ("lb1", "lb2")}
    inst = F["pair_model"](["lb1", "lb2"], hv)["instances"][0]
    assert (inst["version"], inst["advert_int"]) == (2, 1)


def test_host_variables_reading_hostvars_resolve(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  children:\n    lb:\n      hosts: {lb1: {}, lb2: {}}\n"
        "      vars:\n        keepalived_vips: [198.51.100.100/24]\n"
        "        keepalived_smtp_server: \"{{ hostvars['mx'].ansible_host }}\"\n"
        "    mail:\n      hosts: {mx: {ansible_host: 198.51.100.25}}\n"
    )
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inv)])
    hostvars = HostVars(inventory, VariableManager(loader=loader, inventory=inventory), loader)
    got = host_values(hostvars, ["lb1", "lb2"])
    assert got["lb1"]["keepalived_smtp_server"] == "198.51.100.25"
    assert F["pair_model"](["lb1", "lb2"], hostvars)["hosts"] == ["lb1", "lb2"]
