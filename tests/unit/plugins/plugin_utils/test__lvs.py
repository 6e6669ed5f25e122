# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVS virtual servers: the plan the template renders, and one row per refusal of the
preflight (through ``_preflight.check``, the rules run once per pair)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _lvs
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check
from ansible_collections.halb.pair.plugins.plugin_utils._topology import as_dicts, derive

HOSTS = ["lb1", "lb2"]
# the lab's documentation range: directors on 198.51.100.0/25, VIPs /25 too
FACTS = {
    h: {"interfaces": ["lo", "eth0"], "eth0": {"ipv4": {"address": a, "netmask": "255.255.255.128"}}}
    for h, a in (("lb1", "198.51.100.11"), ("lb2", "198.51.100.12"))
}
BASE = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/25", "198.51.100.101/25"]}
WEB = {"web1": {"ansible_host": "198.51.100.21"}, "web2": {"ansible_host": "web2.example.org",
                                                           "keepalived_real_server_address": "198.51.100.22"}}
GROUPS = {"lb": HOSTS, "web": ["web1", "web2"], "empty": []}


def hostvars(virtual_servers, group_vars=None, facts=True, extra=None):
    out = {}
    for h in HOSTS:
        hv = {**copy.deepcopy(BASE), **(group_vars or {}), "keepalived_virtual_servers": copy.deepcopy(virtual_servers)}
        if facts:
            hv["ansible_facts"] = copy.deepcopy(FACTS[h])
        out[h] = hv
    out.update(copy.deepcopy(extra if extra is not None else WEB))
    return out


def rs(*addresses, **kw):
    return [{"address": a, **kw} for a in addresses]


DR = {"address": "198.51.100.100", "port": 80, "real_servers": rs("198.51.100.21", "198.51.100.22")}
NAT = {"address": "198.51.100.101", "port": 8080, "lb_kind": "NAT",
       "real_servers": rs("198.51.100.21", gateway="198.51.100.101") + rs("198.51.100.205", port=80, gateway="198.51.100.100")}

ACCEPTED = [
    pytest.param([], id="none"),
    pytest.param([DR], id="dr-tcp-check"),
    pytest.param([{**DR, "check": {"type": "HTTP_GET", "path": "/healthz", "status_code": 204}, "persistence_timeout": 300,
                   "sorry_server": {"address": "198.51.100.50", "port": 80}, "inhibit_on_failure": True}], id="dr-http-sorry"),
    pytest.param([NAT], id="nat-other-network-other-port"),
    pytest.param([{**DR, "protocol": "UDP"}, {**DR, "protocol": "TCP"}], id="same-address-port-two-protocols"),
    pytest.param([{"fwmark": 5, "real_servers": rs("198.51.100.21"), "check": {"port": 443},
                   "sorry_server": {"address": "198.51.100.50"}}], id="fwmark-dr"),
    pytest.param([{"fwmark": 5, "lb_kind": "NAT", "real_servers": rs("198.51.100.205", port=443, gateway="198.51.100.100"),
                   "sorry_server": {"address": "198.51.100.50", "port": 443}}], id="fwmark-nat"),
    pytest.param([{"address": "198.51.100.100", "port": 80, "real_servers_group": "web"}], id="dr-group"),
    pytest.param([{"address": "198.51.100.101", "port": 80, "lb_kind": "NAT", "real_servers_group": "web", "real_server_port": 8080,
                   "check": {"type": "MISC_CHECK", "script": "/usr/local/bin/check-web"}}], id="nat-group-misc"),
]


def with_gateways(hv):
    for h in ("web1", "web2"):
        if h in hv:
            hv[h]["keepalived_real_server_gateway"] = "198.51.100.101"
    return hv


@pytest.mark.parametrize("virtual_servers", ACCEPTED)
def test_accepted(virtual_servers):
    assert check(HOSTS, with_gateways(hostvars(virtual_servers)), GROUPS) == []


# (virtual servers, fragments every one of which one message must hold)
REFUSED = [
    pytest.param([{**DR, "address": "198.51.100.99"}],
                 ["keepalived_virtual_servers[0] (198.51.100.99:80)", "not a VIP of the pair", "198.51.100.100, 198.51.100.101"],
                 id="address-not-a-vip"),
    pytest.param([DR, {**DR, "lb_algo": "wlc"}], ["keepalived_virtual_servers[1]", "same virtual server as keepalived_virtual_servers[0]"],
                 id="duplicate"),
    pytest.param([{"fwmark": 5, "check": {"type": "none"}, "real_servers": rs("198.51.100.21")},
                  {"fwmark": 5, "check": {"type": "none"}, "real_servers": rs("198.51.100.22")}],
                 ["keepalived_virtual_servers[1] (fwmark 5)", "same virtual server"], id="duplicate-fwmark"),
    pytest.param([{"fwmark": 5, "port": 80, "real_servers": rs("198.51.100.21")}], ["(fwmark 5)", "has no port", "found port 80"],
                 id="fwmark-with-port"),
    pytest.param([{"address": "198.51.100.100", "real_servers": rs("198.51.100.21", port=80)}], ["198.51.100.100 needs a port"],
                 id="address-without-port"),
    pytest.param([{"port": 80, "real_servers": rs("198.51.100.21")}], ["neither address nor fwmark"], id="neither"),
    pytest.param([{"fwmark": 5, "lb_kind": "NAT", "real_servers": rs("198.51.100.205", gateway="198.51.100.100")}],
                 ["real_servers[0]", "no port", "fwmark NAT"], id="fwmark-nat-rs-without-port"),
    pytest.param([{"fwmark": 5, "check": {"type": "none"}, "real_servers": rs("198.51.100.21", port=443)}],
                 ["real_servers[0]: port 443", "takes no port", "keepalived clears it"], id="fwmark-dr-rs-with-port"),
    pytest.param([{"fwmark": 5, "real_servers": rs("198.51.100.21")}], ["(fwmark 5).check.port: unset", "TCP_CHECK needs the port"],
                 id="fwmark-dr-check-without-port"),
    pytest.param([{"fwmark": 5, "check": {"type": "none"}, "real_servers": rs("198.51.100.21"),
                   "sorry_server": {"address": "198.51.100.50", "port": 80}}], ["sorry_server: found", "takes no port"],
                 id="fwmark-dr-sorry-with-port"),
    pytest.param([{**DR, "sorry_server": {"address": "198.51.100.50"}}], ["sorry_server: found", "port: 1..65535"],
                 id="sorry-without-port"),
    pytest.param([{**DR, "real_servers": rs("198.51.100.21", port=8080)}],
                 ["real_servers[0]", "port 8080 differs from the virtual server's port 80", "DR cannot remap"], id="dr-remap"),
    pytest.param([{**DR, "real_servers": rs("198.51.100.205")}],
                 ["real_servers[0]", "198.51.100.205 is outside 198.51.100.0/25, the network of the VIP"], id="dr-other-network"),
    pytest.param([{**DR, "real_servers": rs("198.51.100.40")}],
                 ["198.51.100.40 is outside 198.51.100.0/27, the network of lb2's VRRP interface"], id="dr-other-segment-than-interface"),
    pytest.param([{"fwmark": 5, "check": {"type": "none"}, "real_servers": rs("198.51.100.205")}], ["in none of the networks of the pair's VIPs"],
                 id="fwmark-dr-other-network"),
    pytest.param([{**NAT, "real_servers": rs("198.51.100.21")}],
                 ["real_servers[0]", "lb_kind NAT needs the real server's gateway", "set gateway of"], id="nat-no-gateway"),
    pytest.param([{**NAT, "real_servers": rs("198.51.100.21", gateway="198.51.100.1")}],
                 ["gateway '198.51.100.1' is not a VIP of the pair"], id="nat-gateway-not-a-vip"),
    pytest.param([{**NAT, "real_servers": [], "real_servers_group": "web"}],
                 ["real server web1 (group web)", "set keepalived_real_server_gateway for web1"], id="nat-group-no-gateway"),
    pytest.param([{**DR, "check": {"type": "MISC_CHECK"}}], ["check.script: found None", "MISC_CHECK needs the absolute path"],
                 id="misc-without-script"),
    pytest.param([{**DR, "check": {"type": "MISC_CHECK", "script": "check-web"}}], ["check.script", "'check-web'", "absolute path"],
                 id="misc-relative-script"),
    pytest.param([{**DR, "sorry_server": {"address": "198.51.100.50", "port": 8080}}],
                 ["sorry_server: port 8080 differs", "DR cannot remap"], id="sorry-dr-port"),
    pytest.param([{**DR, "sorry_server": {"address": "198.51.100.209", "port": 80}}], ["sorry_server: 198.51.100.209 is outside"],
                 id="sorry-dr-network"),
    pytest.param([{**DR, "sorry_server": {"address": "2001:db8::9", "port": 80}}], ["sorry_server: 2001:db8::9 is IPv6"],
                 id="sorry-family"),
    pytest.param([{**DR, "sorry_server": {"address": "not-an-ip", "port": 80}}],
                 ["sorry_server.address", "'not-an-ip'", "an IPv4 or IPv6 address"], id="sorry-not-an-address"),
    pytest.param([{**DR, "real_servers": rs("2001:db8::21")}], ["2001:db8::21 is IPv6, the virtual server IPv4"], id="rs-family"),
    pytest.param([{**DR, "real_servers": rs("198.51.100.21", "198.51.100.21")}], ["198.51.100.21 port 80 is already a real server"],
                 id="rs-twice"),
    pytest.param([{"address": "198.51.100.100", "port": 80}], ["no real server"], id="no-real-server"),
    pytest.param([{**DR, "real_servers": [], "real_servers_group": "nope"}], ["real_servers_group: found 'nope'", "no group"],
                 id="unknown-group"),
    pytest.param([{**DR, "real_servers": [], "real_servers_group": "empty"}], ["real_servers_group: found 'empty'"], id="empty-group"),
    pytest.param([{**DR, "real_server_port": 80}], ["real_server_port applies to the hosts of real_servers_group"],
                 id="real-server-port-without-group"),
    pytest.param([{**DR, "lb_kind": "TUN"}], ["keepalived_virtual_servers[0] (198.51.100.100).lb_kind on lb1", "'TUN'", "'DR', 'NAT'"],
                 id="lb-kind-typed"),
    pytest.param([{**DR, "lb_algo": "fifo"}], [".lb_algo on lb1", "'fifo'", "'mh'"], id="lb-algo-typed"),
    pytest.param([{**DR, "port": 0}], [".port on lb1", "found 0", "1..65535"], id="port-typed"),
    pytest.param([{**DR, "check": {"type": "HTTP_GET", "path": "/x\n}"}}], [".check.path on lb1", "a path beginning with '/'"],
                 id="path-injection"),
    pytest.param([{**DR, "bogus": 1}], ["unknown key 'bogus'"], id="unknown-key"),
]


@pytest.mark.parametrize(("virtual_servers", "fragments"), REFUSED)
def test_refused(virtual_servers, fragments):
    hv = hostvars(virtual_servers)
    if any("lb2's VRRP interface" in f for f in fragments):
        hv["lb2"]["ansible_facts"]["eth0"]["ipv4"]["netmask"] = "255.255.255.224"
    errors = check(HOSTS, hv, GROUPS)
    assert any(all(f in e for f in fragments) for e in errors), errors


def test_group_member_without_an_address_is_named():
    extra = {"web1": {"ansible_host": "web1.example.org"}, "web2": {"keepalived_real_server_address": "198.51.100.22"}}
    errors = check(HOSTS, hostvars([{"address": "198.51.100.100", "port": 80, "real_servers_group": "web"}], extra=extra), GROUPS)
    assert errors == [
        "keepalived_virtual_servers[0] (198.51.100.100:80).real_servers_group web: the address of real server web1 is unknown "
        "(ansible_host is 'web1.example.org', not an IP address); set keepalived_real_server_address for web1"
    ]


def test_virtual_servers_must_be_equal_on_every_director():
    hv = hostvars([DR])
    hv["lb2"]["keepalived_virtual_servers"] = []
    assert any(e.startswith("keepalived_virtual_servers on lb2") and "every node" in e for e in check(HOSTS, hv, GROUPS))


def plan_of(virtual_servers, extra=None):
    hv = hostvars(virtual_servers, extra=extra)
    instances = as_dicts(derive(HOSTS, hv))
    return _lvs.plan(virtual_servers, instances, GROUPS, hv)


def test_plan_applies_the_argument_spec_defaults():
    plan, errors = plan_of([{"address": "198.51.100.100", "port": 80, "real_servers": rs("198.51.100.21")}])
    assert errors == []
    assert plan == [{
        "address": "198.51.100.100", "port": 80, "fwmark": None, "protocol": "TCP", "lb_algo": "rr", "lb_kind": "DR",
        "persistence_timeout": None, "delay_loop": 6, "inhibit_on_failure": False, "sorry_server": None,
        "check": {"type": "TCP_CHECK", "path": "/", "status_code": 200, "script": None, "misc_timeout": None,
                  "connect_timeout": 3, "retry": 3, "delay_before_retry": 1, "port": None},
        "real_servers": [{"address": "198.51.100.21", "port": 80, "weight": 1, "host": None}],
    }]


def test_plan_resolves_a_group_in_inventory_order():
    plan, errors = plan_of([{"fwmark": 7, "lb_kind": "NAT", "real_servers_group": "web", "real_server_port": 443,
                             "real_servers": rs("198.51.100.23", port=443, weight=5, gateway="198.51.100.100")}],
                           extra=with_gateways(copy.deepcopy(WEB)))
    assert errors == []
    assert [(r["address"], r["port"], r["weight"], r["host"]) for r in plan[0]["real_servers"]] == [
        ("198.51.100.23", 443, 5, None), ("198.51.100.21", 443, 1, "web1"), ("198.51.100.22", 443, 1, "web2")]
    assert (plan[0]["address"], plan[0]["port"], plan[0]["fwmark"]) == (None, None, 7)


def test_ipv6_vip_and_groups_named():
    assert _lvs.groups_named([{"keepalived_virtual_servers": [{"real_servers_group": "web"}, {"real_servers_group": "web"}, "x"]},
                              {"keepalived_virtual_servers": None}]) == ["web"]
    vs = [{"address": "2001:db8::100", "port": 80, "real_servers": rs("2001:db8::21")}]
    hv = hostvars(vs, {"keepalived_topology": "single", "keepalived_vips": ["2001:db8::100/64"]})
    assert check(HOSTS, hv, GROUPS) == []
    hv = hostvars([{**vs[0], "lb_kind": "NAT", "real_servers": rs("2001:db8::21", gateway="2001:db8::100")}],
                  {"keepalived_topology": "single", "keepalived_vips": ["2001:db8::100/64"]})
    assert any("NAT with an IPv6 address is not supported" in e for e in check(HOSTS, hv, GROUPS))
