# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pair's contract: what every node must share, and the changes a rolling operation refuses."""

from __future__ import annotations

import copy
import json

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _pair
from ansible_collections.halb.pair.plugins.plugin_utils import _pair_contract as C


def _model(**over):
    hv = {}
    for h, ip in (("lb1", "198.51.100.11"), ("lb2", "198.51.100.12")):
        hv[h] = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"],
                 "ansible_facts": {"eth0": {"ipv4": {"address": ip}}}, **over}
    return _pair.model(["lb1", "lb2"], hv, "lb").as_dict()


BASE = C.contract(_model(), "lab-only")


def test_the_contract_of_a_dual_master_pair():
    assert BASE["addresses"] == {"lb1": "198.51.100.11", "lb2": "198.51.100.12"}
    assert BASE["instances"]["VI_2"] == {"vrid": 56, "version": 2, "advert_int": 1.0, "family": 4, "unicast": False,
                                         "vips": ["198.51.100.101/24"], "nodes": ["lb1", "lb2"]}
    # the password only as a digest
    assert "lab-only" not in json.dumps(BASE)
    assert len(BASE["auth"]) == 16


@pytest.mark.parametrize(("over", "auth", "expected"), [
    ({}, "lab-only", []),
    ({}, "rotated1", ["the VRRP password (keepalived_auth_pass)"]),
    ({"keepalived_advert_int": 2}, "lab-only", ["VI_1 advert_int: 1.0 -> 2.0", "VI_2 advert_int: 1.0 -> 2.0"]),
    ({"keepalived_vrid_base": 60}, "lab-only", ["VI_1 vrid: 55 -> 60", "VI_2 vrid: 56 -> 61"]),
    ({"keepalived_unicast": True}, "lab-only", ["VI_1 unicast: False -> True", "VI_2 unicast: False -> True"]),
    ({"keepalived_profile": "fast"}, "lab-only",
     ["VI_1 version: 2 -> 3", "VI_1 advert_int: 1.0 -> 0.1", "VI_2 version: 2 -> 3", "VI_2 advert_int: 1.0 -> 0.1"]),
    # a per-node setting (priority) is not the pair's contract: it may roll node by node
    ({"keepalived_master_priority": 200}, "lab-only", []),
])
def test_changes_name_every_pair_wide_setting(over, auth, expected):
    assert C.changes(C.contract(_model(**over), auth), BASE) == expected


def test_addresses_instances_and_nodes():
    running = copy.deepcopy(BASE)
    running["addresses"]["lb2"] = "198.51.100.13"
    running["addresses"]["lb3"] = "198.51.100.14"
    del running["instances"]["VI_2"]
    running["instances"]["VI_3"] = dict(BASE["instances"]["VI_1"])
    assert C.changes(BASE, running) == [
        "the VRRP address of lb2: 198.51.100.13 -> 198.51.100.12",
        "node lb3 left the pair",
        "instance VI_2 added",
        "instance VI_3 removed",
    ]


@pytest.mark.parametrize("text", [None, "", "not json", "[]", json.dumps({"version": 99}), json.dumps({"instances": {}})])
def test_no_contract_to_compare_is_no_change(text):
    assert C.parse(text) is None
    assert C.changes(BASE, C.parse(text)) == []


def test_a_contract_file_reads_back():
    assert C.parse(json.dumps(BASE)) == BASE
    assert C.changes(BASE, C.parse(json.dumps(BASE))) == []
