"""The vrrp_guard filter: the VRRP guard's nft table from the pair model.

Moved from tests/unit/plugins/module_utils/test__vrrp_guard.py: a filter needs the
controller's ansible, which ansible-test units gives tests here, not under module_utils."""

from __future__ import annotations

import pytest


def test_the_filter_builds_the_guard_from_the_pair_model():
    from ansible_collections.halb.pair.plugins.filter.vrrp_guard import vrrp_guard
    from ansible_collections.halb.pair.plugins.plugin_utils import _pair

    def facts(a):
        return {"ansible_facts": {"interfaces": ["eth0"], "eth0": {"ipv4": {"address": a, "netmask": "255.255.255.0"}}}}

    group = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
    hv = {"lb1": {**group, **facts("198.51.100.11")}, "lb2": {**group, **facts("198.51.100.12")}}
    pair = _pair.model(["lb1", "lb2"], hv).as_dict()
    on = vrrp_guard(pair, "auto")
    assert on["enabled"] and "elements = { 198.51.100.11, 198.51.100.12 }" in on["ruleset"] and "{ 55, 56 }" in on["ruleset"]
    assert vrrp_guard(pair, False) == {"enabled": False, "why": "switched off (keepalived_vrrp_guard: false)", "ruleset": ""}
    # no facts: true refuses, and so does auto (below)
    blind = _pair.model(["lb1", "lb2"], {"lb1": dict(group), "lb2": dict(group)}).as_dict()
    with pytest.raises(Exception, match="cannot be built"):
        vrrp_guard(blind, True)


def _facts(a, link=None):
    eth0 = {"ipv4": {"address": a, "netmask": "255.255.255.0"}}
    if link:
        eth0["ipv6"] = [{"address": "2001:db8::5", "prefix": "64", "scope": "global"}, {"address": link, "prefix": "64", "scope": "link"}]
    return {"ansible_facts": {"interfaces": ["eth0"], "eth0": eth0}}


MIXED = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "2001:db8::100/64"]}


def test_auto_guards_ipv6_and_ipv4_instances_together():
    """One IPv6 VIP used to switch the guard off for the IPv4 instance too."""
    from ansible_collections.halb.pair.plugins.filter.vrrp_guard import vrrp_guard
    from ansible_collections.halb.pair.plugins.plugin_utils import _pair

    hv = {"lb1": {**MIXED, **_facts("198.51.100.11", "fe80::11")}, "lb2": {**MIXED, **_facts("198.51.100.12", "fe80::12")}}
    pair = _pair.model(["lb1", "lb2"], hv).as_dict()
    assert pair["nodes"]["lb1"]["link_local"] == "fe80::11"
    on = vrrp_guard(pair, "auto")
    assert on["enabled"], on["why"]
    assert "ip saddr @peers4 @th,8,8 { 55 } counter name vrrp_peer accept" in on["ruleset"]
    assert "ip6 saddr @peers6 @th,8,8 { 56 } counter name vrrp_peer accept" in on["ruleset"]
    assert "elements = { fe80::11, fe80::12 }" in on["ruleset"]


# (case, host vars of lb2, fragments of the error)
AUTO_REFUSES = [
    ("facts not gathered (--limit)", dict(MIXED), ["auto", "lb2", "gather its network facts", "keepalived_unicast_src_ip"]),
    ("no link-local address", {**MIXED, **_facts("198.51.100.12")}, ["auto", "link-local address of lb2", "gather its network facts"]),
]


@pytest.mark.parametrize(("lb2", "fragments"), [c[1:] for c in AUTO_REFUSES], ids=[c[0] for c in AUTO_REFUSES])
def test_auto_never_switches_itself_off_on_an_unknown_address(lb2, fragments):
    """It used to return enabled: false (and the run deleted the guard's table)."""
    from ansible.errors import AnsibleFilterError
    from ansible_collections.halb.pair.plugins.filter.vrrp_guard import vrrp_guard
    from ansible_collections.halb.pair.plugins.plugin_utils import _pair

    pair = _pair.model(["lb1", "lb2"], {"lb1": {**MIXED, **_facts("198.51.100.11", "fe80::11")}, "lb2": lb2}).as_dict()
    with pytest.raises(AnsibleFilterError) as err:
        vrrp_guard(pair, "auto")
    for fragment in fragments:
        assert fragment in str(err.value)


def test_auto_is_off_only_without_an_instance():
    from ansible_collections.halb.pair.plugins.filter.vrrp_guard import vrrp_guard

    off = vrrp_guard({"instances": [], "nodes": {}}, "auto")
    assert off["enabled"] is False and "nothing to guard" in off["why"]
