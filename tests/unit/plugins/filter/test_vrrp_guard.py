"""The vrrp_guard filter: the VRRP guard's nft table from the pair model.

Moved from tests/unit/plugins/module_utils/test__vrrp_guard.py: a filter needs the
controller's ansible, which ansible-test units gives tests here, not under module_utils."""

from __future__ import annotations

import pytest


def test_the_filter_builds_the_guard_from_the_pair_model():
    from ansible_collections.halb.pair.plugins.filter.vrrp_guard import vrrp_guard
    from ansible_collections.halb.pair.plugins.module_utils import _pair

    def facts(a):
        return {"ansible_facts": {"interfaces": ["eth0"], "eth0": {"ipv4": {"address": a, "netmask": "255.255.255.0"}}}}

    group = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
    hv = {"lb1": {**group, **facts("198.51.100.11")}, "lb2": {**group, **facts("198.51.100.12")}}
    pair = _pair.model(["lb1", "lb2"], hv).as_dict()
    on = vrrp_guard(pair, "auto")
    assert on["enabled"] and "elements = { 198.51.100.11, 198.51.100.12 }" in on["ruleset"] and "{ 55, 56 }" in on["ruleset"]
    assert vrrp_guard(pair, False) == {"enabled": False, "why": "switched off (keepalived_vrrp_guard: false)", "ruleset": ""}
    # no facts: auto says why it is off; true refuses
    blind = _pair.model(["lb1", "lb2"], {"lb1": dict(group), "lb2": dict(group)}).as_dict()
    off = vrrp_guard(blind, "auto")
    assert not off["enabled"] and "unknown" in off["why"]
    with pytest.raises(Exception, match="cannot be built"):
        vrrp_guard(blind, True)
