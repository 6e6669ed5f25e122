# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 9: values given as `-e NAME=VALUE` (strings) mean to the derivation, the pair
model and the template what they mean to the preflight (one conversion: _topology.typed),
and a VIP's dev defaults to each node's own interface."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _pair, _preflight, _topology
from ansible_collections.halb.pair.plugins.plugin_utils._topology import derive

HOSTS = ["lb1", "lb2"]
BASE = {"keepalived_vips": ["198.51.100.100/24"]}


def both(**extra):
    """Group vars plus extra vars on every host, as `-e` puts them."""
    return {h: {**BASE, **extra} for h in HOSTS}


# (extra var as -e gives it, what the derivation must read) - expected values from the
# variables' meaning (a YAML boolean 'false' is off), not from output.
DERIVE_CASES = [
    pytest.param({"keepalived_nopreempt": "false"}, lambda i: i.preempt is True, id="nopreempt=false"),
    pytest.param({"keepalived_nopreempt": "False"}, lambda i: i.preempt is True, id="nopreempt=False"),
    pytest.param({"keepalived_nopreempt": "no"}, lambda i: i.preempt is True, id="nopreempt=no"),
    pytest.param({"keepalived_nopreempt": "0"}, lambda i: i.preempt is True, id="nopreempt=0"),
    pytest.param({"keepalived_nopreempt": "true"}, lambda i: i.preempt is False, id="nopreempt=true"),
    pytest.param({"keepalived_nopreempt": "yes"}, lambda i: i.preempt is False, id="nopreempt=yes"),
    pytest.param({"keepalived_unicast": "false"}, lambda i: i.unicast is False, id="unicast=false"),
    pytest.param({"keepalived_unicast": "off"}, lambda i: i.unicast is False, id="unicast=off"),
    pytest.param({"keepalived_unicast": "true", "keepalived_unicast_src_ip": "198.51.100.11"},
                 lambda i: i.unicast is True, id="unicast=true"),
    pytest.param({"keepalived_master_priority": "200"},
                 lambda i: [(n.host, n.priority) for n in i.nodes] == [("lb1", 200), ("lb2", 100)], id="master_priority=200"),
    pytest.param({"keepalived_backup_priority": "120"},
                 lambda i: [(n.host, n.priority) for n in i.nodes] == [("lb1", 150), ("lb2", 120)], id="backup_priority=120"),
    pytest.param({"keepalived_vrid_base": "77"}, lambda i: i.vrid == 77, id="vrid_base=77"),
    pytest.param({"keepalived_preempt_delay": "5"},
                 lambda i: i.preempt_delay == 5 and [n.state for n in i.nodes] == ["BACKUP", "BACKUP"], id="preempt_delay=5"),
    pytest.param({"keepalived_vrrp_version": "3", "keepalived_advert_int": "0.5"},
                 lambda i: (i.version, i.advert_int) == (3, 0.5), id="version=3,advert=0.5"),
    pytest.param({"keepalived_check_weight": "-70"}, lambda i: i.check_weight == -70, id="check_weight=-70"),
]


@pytest.mark.parametrize(("extra", "expect"), DERIVE_CASES)
def test_derivation_reads_extra_vars_as_the_preflight_types_them(extra, expect):
    (inst,) = derive(HOSTS, both(**extra))
    assert expect(inst)


@pytest.mark.parametrize(("extra", "expect"), DERIVE_CASES)
def test_pair_model_reads_extra_vars_as_the_preflight_types_them(extra, expect):
    (inst,) = _pair.model(HOSTS, both(**extra)).instances
    assert expect(inst)


@pytest.mark.parametrize(("extra", "want"), [
    ({"keepalived_check_timeout": "3"}, {"timeout": 3}),
    ({"keepalived_check_interval": "5", "keepalived_check_fall": "4", "keepalived_check_rise": "6"},
     {"interval": 5, "fall": 4, "rise": 6}),
    ({"keepalived_check_timeout": "3.0"}, {"timeout": 3}),
])
def test_pair_model_check_timers_are_typed(extra, want):
    check = _pair.model(HOSTS, both(**extra)).nodes["lb1"].check
    got = {k: getattr(check, k) for k in want}
    assert got == want
    assert all(isinstance(v, int) and not isinstance(v, bool) for v in got.values())


@pytest.mark.parametrize(("extra", "key", "want"), [
    ({"keepalived_nopreempt": "false"}, "keepalived_nopreempt", False),
    ({"keepalived_check_timeout": "3"}, "keepalived_check_timeout", 3),
    ({"keepalived_advert_int": "1"}, "keepalived_advert_int", 1.0),
    ({"nginx_lb_health_port": "8082"}, "nginx_lb_health_port", 8082),
    ({"keepalived_check_timeout": "3s"}, "keepalived_check_timeout", "3s"),  # not convertible: the preflight reports it
])
def test_typed_is_the_preflights_conversion(extra, key, want):
    assert _topology.typed(extra)[key] == want
    assert _preflight.converted("lb1", extra, {})[key] == want


def test_preflight_accepts_what_the_model_then_derives():
    hv = both(keepalived_nopreempt="false", keepalived_backup_priority="120", keepalived_check_timeout="3")
    assert _preflight.check(HOSTS, {h: _preflight.converted(h, v, {}) for h, v in hv.items()}) == []


def test_health_port_from_extra_vars_is_an_int():
    node = _pair.model(HOSTS, both(nginx_lb_health_port="8082")).nodes["lb2"]
    assert (node.health.port, node.health.url) == (8082, "http://127.0.0.1:8082/healthz")


# --- per-node dev (issue 9, item 7) -------------------------------------------------

NICS = {"lb1": {"keepalived_interface": "eth0"}, "lb2": {"keepalived_interface": "ens3"}}


def per_node(group_vars):
    return {h: {**group_vars, **NICS[h]} for h in HOSTS}


def rendered(inst):
    return {n.host: (n.interface, [(v.cidr, v.dev, v.label) for v in n.vips]) for n in inst.nodes}


@pytest.mark.parametrize(("group_vars", "want"), [
    pytest.param({"keepalived_vips": ["198.51.100.100/24"]}, {
        "lb1": ("eth0", [("198.51.100.100/24", "eth0", "eth0:1")]),
        "lb2": ("ens3", [("198.51.100.100/24", "ens3", "ens3:1")]),
    }, id="single"),
    pytest.param({"keepalived_vips": [{"address": "198.51.100.100/24", "label": None}]}, {
        "lb1": ("eth0", [("198.51.100.100/24", "eth0", None)]),
        "lb2": ("ens3", [("198.51.100.100/24", "ens3", None)]),
    }, id="no-label"),
    pytest.param({"keepalived_vips": [{"address": "198.51.100.100/24", "dev": "bond0"}]}, {
        "lb1": ("eth0", [("198.51.100.100/24", "bond0", "bond0:1")]),
        "lb2": ("ens3", [("198.51.100.100/24", "bond0", "bond0:1")]),
    }, id="explicit-dev-everywhere"),
])
def test_vip_dev_defaults_to_each_nodes_interface(group_vars, want):
    (inst,) = derive(HOSTS, per_node(group_vars))
    assert rendered(inst) == want


def test_dual_master_labels_per_node():
    insts = derive(HOSTS, per_node({"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}))
    assert [rendered(i) for i in insts] == [
        {"lb1": ("eth0", [("198.51.100.100/24", "eth0", "eth0:1")]), "lb2": ("ens3", [("198.51.100.100/24", "ens3", "ens3:1")])},
        {"lb1": ("eth0", [("198.51.100.101/24", "eth0", "eth0:2")]), "lb2": ("ens3", [("198.51.100.101/24", "ens3", "ens3:2")])},
    ]


def test_preflight_passes_a_pair_with_different_nic_names():
    assert _preflight.check(HOSTS, per_node({"keepalived_vips": ["198.51.100.100/24"]})) == []


def test_generated_label_too_long_on_one_node_only_is_refused_for_that_node():
    nics = {"lb1": {"keepalived_interface": "eth0"}, "lb2": {"keepalived_interface": "enp0s31f6abcd"}}  # 13 bytes
    vips = [f"198.51.100.{100 + i}/24" for i in range(10)]
    hv = {h: {"keepalived_topology": "dual_master", "keepalived_vips": vips, **nics[h]} for h in HOSTS}
    errors = _preflight.check(HOSTS, hv)
    assert errors and all("on lb2" in e for e in errors), errors
    assert any("'enp0s31f6abcd:10'" in e and "label" in e for e in errors), errors


def test_a_label_of_another_nic_is_refused_where_it_does_not_fit():
    hv = per_node({"keepalived_vips": [{"address": "198.51.100.100/24", "label": "eth0:1"}]})
    errors = _preflight.check(HOSTS, hv)
    assert errors and all("lb2" in e for e in errors), errors


# --- unicast with an IPv6 VIP (issue 9: refused only by keepalived -t before) --------

@pytest.mark.parametrize(("vips", "src", "refused"), [
    (["2001:db8::100/64"], {"lb1": "198.51.100.11", "lb2": "198.51.100.12"}, True),
    (["2001:db8::100/64"], {"lb1": "2001:db8::11", "lb2": "2001:db8::12"}, False),
    (["198.51.100.100/24"], {"lb1": "198.51.100.11", "lb2": "198.51.100.12"}, False),
    (["198.51.100.100/24"], {"lb1": "2001:db8::11", "lb2": "198.51.100.12"}, True),
])
def test_unicast_source_of_another_family_than_the_vips_is_refused(vips, src, refused):
    hv = {h: {"keepalived_vips": vips, "keepalived_unicast": True, "keepalived_unicast_src_ip": src[h]} for h in HOSTS}
    errors = [e for e in _preflight.check(HOSTS, hv) if "unicast source" in e]
    assert bool(errors) == refused, errors
    if refused:
        assert "keepalived_unicast_src_ip on lb1" in errors[0] and "must be of the VIPs' family" in errors[0]
