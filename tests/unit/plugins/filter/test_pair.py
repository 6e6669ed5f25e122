# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pair filters: thin wrappers over _pair, errors as AnsibleFilterError, and every
filter's documentation rendered by ansible-doc."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.filter.pair import FilterModule

from tests.helpers.tools import tool

REPO = Path(__file__).resolve().parents[4]
F = FilterModule().filters()
SINGLE = {"keepalived_vips": ["198.51.100.100/24"], "nginx_lb_health_port": 9000}
GROUPS = {"all": ["lb1", "lb2", "web1"], "lb": ["lb1", "lb2"], "web": ["web1"]}


def hostvars(**per_host):
    out = {h: dict(SINGLE) for h in ("lb1", "lb2")}
    out["web1"] = {}
    for h, v in per_host.items():
        out[h].update(v)
    return out


def test_pair_model_through_the_filter():
    pair = F["pair_model"](["lb1", "lb2"], hostvars())
    assert pair["nodes"]["lb2"]["check"]["url"] == "http://127.0.0.1:9000/healthz"
    assert pair["addresses"] == ["198.51.100.100"]


def test_unicast_source_from_facts():
    facts = {h: {"keepalived_unicast": True, "ansible_facts": {"eth0": {"ipv4": {"address": ip}}}}
             for h, ip in (("lb1", "198.51.100.11"), ("lb2", "198.51.100.12"))}
    pair = F["pair_model"](["lb1", "lb2"], hostvars(**facts))
    nodes = pair["instances"][0]["nodes"]
    assert [(n["unicast_src_ip"], n["unicast_peers"]) for n in nodes] == [
        ("198.51.100.11", ["198.51.100.12"]),
        ("198.51.100.12", ["198.51.100.11"]),
    ]


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="pair_model: nginx_lb_health_port on lb1"):
        F["pair_model"](["lb1", "lb2"], hostvars(lb1={"nginx_lb_health_port": "x"}))
    with pytest.raises(AnsibleFilterError, match="pairs: keepalived_group on web1"):
        F["pairs"](["web1"], hostvars(), GROUPS)


def test_status_reads_halb_pair_read():
    hv = hostvars(lb1={"halb_pair_read": {"results": [{"item": "lb1", "held_vips": ["198.51.100.100"]}]}},
                  lb2={"halb_pair_read": {"results": [{"item": "lb2", "held_vips": ["198.51.100.100"]}]}})
    status = F["pair_status"](F["pairs"](["lb1", "lb2"], hv, GROUPS), hv)
    assert [p["verdict"] for p in status["failing"]] == ["split_brain"]
    plan = F["pair_drain"](F["pair_model"](["lb1", "lb2"], hv), status["reports"], "lb1")
    assert (plan["state"], plan["vips"], plan["blockers"]) == ("drained", ["198.51.100.100"], [])


def test_leave_and_the_status_of_the_remaining_nodes_through_the_filters():
    """leave.yml's plan (pair_leave) and its last judgement (pair_status with leaving)."""
    gone = {"item": "lb1", "held_vips": ["198.51.100.100"], "keepalived": {"running": False}}
    hv = hostvars(lb1={"halb_pair_read": {"results": [gone]}},
                  lb2={"halb_pair_read": {"results": [{"item": "lb2", "held_vips": ["198.51.100.100"]}]}})
    pairs = F["pairs"](["lb1"], hv, GROUPS)
    # judged as a pair, lb1's stale address beside lb2's is a split brain; judged without lb1 too
    assert [p["verdict"] for p in F["pair_status"](pairs, hv)["failing"]] == ["split_brain"]
    remaining = F["pair_status"](pairs, hv, ["split_brain", "orphan"], None, ["lb1"])
    assert [(p["holders"], p["nodes"], p["verdict"]) for p in remaining["failing"]] == [(["lb2", "lb1"], ["lb2"], "split_brain")]
    plan = F["pair_leave"](pairs[0], remaining["reports"], "lb1")
    assert (plan["drain"], plan["refused"]) == (False, "")
    assert plan["how"].startswith("keepalived does not run on lb1")
    with pytest.raises(AnsibleFilterError, match="pair_leave: node: expected one of the pair's hosts"):
        F["pair_leave"](pairs[0], {}, "web1")


def test_preflight_of_every_pair():
    groups = {"all": ["a1", "a2", "b1", "b2"], "lb": ["a1", "a2", "b1", "b2"], "lb_a": ["a1", "a2"], "lb_b": ["b1", "b2"]}
    hv = {h: {"keepalived_group": f"lb_{h[0]}", "keepalived_vips": [f"198.51.100.{10 + i}/24"]}
          for i, h in enumerate(groups["lb"])}
    hv["b1"]["keepalived_vips"] = hv["b2"]["keepalived_vips"] = ["198.51.100.20/24"]
    found = F["pair_preflight"](groups["lb"], hv, groups)
    # lb_a disagrees on its VIPs (a per-host value), and once fixed the VRID is shared
    assert any(m.startswith("pair lb_a: keepalived_vips on a2") for m in found), found
    hv["a2"]["keepalived_vips"] = hv["a1"]["keepalived_vips"]
    assert F["pair_preflight"](groups["lb"], hv, groups) == [
        "pair lb_b: VI_1 uses virtual_router_id 55, which pair lb_a already uses for VI_1 on the same segment (eth0); "
        "VRIDs must be unique per segment: set another keepalived_vrid_base for one pair, or keepalived_segment if "
        "they are on different L2 segments"
    ]


def test_pair_members_outside_the_limit_and_those_without_an_address():
    groups = {"all": ["a1", "a2", "b1", "b2"], "lb": ["a1", "a2", "b1", "b2"], "lb_a": ["a1", "a2"], "lb_b": ["b1", "b2"]}
    hv = {h: {"keepalived_group": f"lb_{h[0]}"} for h in groups["lb"]}
    hv["a1"]["ansible_facts"] = {"eth0": {"ipv4": {"address": "198.51.100.11"}}}
    hv["b2"]["keepalived_unicast_src_ip"] = "198.51.100.22"
    # --limit a1: the whole pair lb_a, not lb_b
    assert F["pair_members"](["a1"], hv, groups) == ["a1", "a2"]
    assert F["pair_members"](["a1", "b1"], hv, groups) == ["a1", "a2", "b1", "b2"]
    # facts of a1 and b2's unicast source are known; a2 and b1 must be gathered
    assert F["pair_members"](["a1", "b1"], hv, groups, without_address=True) == ["a2", "b1"]
    # a broken inventory: the hosts as given, for the preflight to name the problem
    assert F["pair_members"](["web9"], hv, groups) == ["web9"]


FILTERS = ["pair_model", "pairs", "pair_status", "pair_drain", "pair_leave", "pair_preflight", "pair_handover",
           "pair_members", "pair_contract", "pair_watch"]


def test_every_pair_filter_is_documented():
    assert sorted(F) == sorted(FILTERS)


@pytest.mark.parametrize("name", FILTERS)
def test_ansible_doc_renders(name):
    out = subprocess.run([tool("ansible-doc") or "ansible-doc", "-t", "filter", "--json", f"halb.pair.{name}"],
                         capture_output=True, text=True, check=True, cwd=REPO,
                         # this run's environment (ansible-test units' wrappers need its PATH and PYTHONPATH)
                         env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))).stdout
    doc = json.loads(out)[f"halb.pair.{name}"]
    assert doc["doc"]["name"] == name
    assert doc["doc"]["options"]["_input"]["required"] is True
    assert doc["examples"].strip()
    assert doc["return"]["_value"]["description"]


def test_the_watchers_configuration_names_the_collections_version():
    import yaml

    group = {"keepalived_vips": ["198.51.100.100/24"]}
    hv = {h: {**group, "ansible_facts": {"eth0": {"ipv4": {"address": a}}}} for h, a in (("lb1", "198.51.100.11"), ("lb2", "198.51.100.12"))}
    cfg = F["pair_watch"](F["pair_model"](["lb1", "lb2"], hv), "lb1", {})
    galaxy = yaml.safe_load((Path(__file__).resolve().parents[4] / "galaxy.yml").read_text())
    assert cfg["version"] == galaxy["version"] and cfg["node"] == "lb1"
