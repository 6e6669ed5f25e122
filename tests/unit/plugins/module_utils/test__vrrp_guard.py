"""The VRRP guard's nft table: built from the pair, checked by the real `nft -c`."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_guard as g

DUAL = [
    {"name": "VI_1", "vrid": 55, "family": 4, "nodes": [{"host": "lb1"}, {"host": "lb2"}]},
    {"name": "VI_2", "vrid": 56, "family": 4, "nodes": [{"host": "lb2"}, {"host": "lb1"}]},
]
ADDRS = {"lb1": "198.51.100.11", "lb2": "198.51.100.12"}


def test_spec_holds_every_vrid_and_node_address_once():
    s = g.spec_for(DUAL, ADDRS)
    assert s.vrids == (55, 56)
    assert s.peers4 == ("198.51.100.11", "198.51.100.12")
    assert s.peers6 == ()


@pytest.mark.parametrize(
    ("instances", "addresses", "message"),
    [
        (DUAL, {"lb1": "198.51.100.11", "lb2": None}, "address of lb2 is unknown: gather its network facts .* keepalived_unicast_src_ip"),
        (DUAL, {"lb1": "198.51.100.11"}, "address of lb2 is unknown"),
        ([{**DUAL[0], "family": 6}], ADDRS, "link-local address of lb1, lb2 .* is unknown: gather its network facts"),
        ([], ADDRS, "nothing to guard"),
        ([{**DUAL[0], "vrid": 300}], ADDRS, "1..255"),
    ],
)
def test_spec_refusals(instances, addresses, message):
    with pytest.raises(g.GuardError, match=message):
        g.spec_for(instances, addresses)


LINK = {"lb1": "fe80::a8c1:ff:fe00:11", "lb2": "fe80::a8c1:ff:fe00:12"}
V6 = {"name": "VI_3", "vrid": 57, "family": 6, "nodes": [{"host": "lb1"}, {"host": "lb2"}]}


# (case, instances, link-local addresses, vrids (IPv4), peers4, vrids6, peers6)
MIXED_CASES = [
    ("an IPv6 instance beside IPv4 ones keeps them guarded", [*DUAL, V6], LINK,
     (55, 56), ("198.51.100.11", "198.51.100.12"), (57,), ("fe80::a8c1:ff:fe00:11", "fe80::a8c1:ff:fe00:12")),
    ("IPv6 only", [V6], LINK, (), (), (57,), ("fe80::a8c1:ff:fe00:11", "fe80::a8c1:ff:fe00:12")),
    ("the zone of a fact is dropped", [V6], {"lb1": "fe80::1%eth0", "lb2": "fe80::2"}, (), (), (57,), ("fe80::1", "fe80::2")),
    ("an IPv6 and an IPv4 instance may share a VRID", [DUAL[0], {**V6, "vrid": 55}], LINK,
     (55,), ("198.51.100.11", "198.51.100.12"), (55,), ("fe80::a8c1:ff:fe00:11", "fe80::a8c1:ff:fe00:12")),
]


@pytest.mark.parametrize(("instances", "link", "vrids", "peers4", "vrids6", "peers6"), [c[1:] for c in MIXED_CASES],
                         ids=[c[0] for c in MIXED_CASES])
def test_ipv6_instances_are_guarded_by_link_local_addresses(instances, link, vrids, peers4, vrids6, peers6):
    s = g.spec_for(instances, ADDRS, link)
    assert (s.vrids, s.peers4, s.vrids6, s.peers6) == (vrids, peers4, vrids6, peers6)


def test_render_guards_each_family_by_its_own_sources():
    text = g.render(g.spec_for([*DUAL, V6], ADDRS, LINK))
    assert "elements = { fe80::a8c1:ff:fe00:11, fe80::a8c1:ff:fe00:12 }" in text
    assert "ip saddr @peers4 @th,8,8 { 55, 56 } counter name vrrp_peer accept" in text
    assert "ip6 saddr @peers6 @th,8,8 { 57 } counter name vrrp_peer accept" in text
    assert "meta nfproto ipv4 @th,8,8 { 55, 56 } counter name vrrp_spoofed drop" in text
    assert "meta nfproto ipv6 @th,8,8 { 57 } counter name vrrp_spoofed drop" in text
    assert text.index("ip6 saddr @peers6") < text.index("meta nfproto ipv6")


@pytest.mark.parametrize("bad", ["fe80::1; flush ruleset", "198.51.100.11", "fe80::1 }"])
def test_a_link_local_is_an_ipv6_address_or_refused(bad):
    with pytest.raises(ValueError):
        g.spec_for([V6], ADDRS, {"lb1": bad, "lb2": "fe80::2"})


@pytest.mark.parametrize("bad", ["198.51.100.11; flush ruleset", "198.51.100.11 }", "not-an-ip", "198.51.100.256"])
def test_a_peer_is_an_address_or_refused(bad):
    with pytest.raises(ValueError):
        g.spec_for(DUAL, {"lb1": bad, "lb2": "198.51.100.12"})


def test_render_replaces_only_its_own_table():
    text = g.render(g.spec_for(DUAL, ADDRS), header="Ansible managed")
    statements = [line for line in text.splitlines() if line and not line.startswith(("#", "\t", "}"))]
    assert statements == ["table inet halb_pair_vrrp", "delete table inet halb_pair_vrrp", "table inet halb_pair_vrrp {"]
    assert "flush ruleset" not in text
    assert "ip saddr @peers4 @th,8,8 { 55, 56 } counter name vrrp_peer accept" in text
    assert "@th,8,8 { 55, 56 } counter name vrrp_spoofed drop" in text
    # peers are accepted only before the drops
    assert text.index("vrrp_peer accept") < text.index("vrrp_spoofed drop") < text.index("vrrp_other drop")


NFT = shutil.which("nft") or "/usr/sbin/nft"


@pytest.mark.parametrize(
    "spec",
    [
        g.GuardSpec(vrids=(55,), peers4=("198.51.100.11", "198.51.100.12")),
        g.GuardSpec(vrids=(55, 56, 57), peers4=("198.51.100.11", "198.51.100.12", "198.51.100.13")),
        g.GuardSpec(vrids=(1, 255), peers4=("198.51.100.11",), peers6=("2001:db8::1",)),
        g.GuardSpec(vrids=(55, 56), peers4=("198.51.100.11", "198.51.100.12"), peers6=("fe80::1", "fe80::2"), vrids6=(57,)),
        g.GuardSpec(vrids=(), peers4=(), peers6=("fe80::1", "fe80::2"), vrids6=(55, 56)),
    ],
)
def test_the_real_nft_accepts_the_file(tmp_path, spec):
    f = tmp_path / "guard.nft"
    f.write_text(g.render(spec))
    proc = subprocess.run([NFT, "-c", "-f", str(f)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_the_real_nft_refuses_a_broken_file(tmp_path):
    # The validator must be able to say no, or the test above proves nothing.
    f = tmp_path / "guard.nft"
    f.write_text(g.render(g.GuardSpec(vrids=(55,), peers4=("198.51.100.11",))).replace("type ipv4_addr", "type ipv9_addr"))
    assert subprocess.run([NFT, "-c", "-f", str(f)], capture_output=True, text=True, check=False).returncode != 0


COUNTERS_JSON = json.dumps(
    {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"counter": {"family": "inet", "name": "vrrp_peer", "table": "halb_pair_vrrp", "handle": 1, "packets": 120, "bytes": 4800}},
            {"counter": {"family": "inet", "name": "vrrp_spoofed", "table": "halb_pair_vrrp", "handle": 2, "packets": 16, "bytes": 640}},
            {"counter": {"family": "inet", "name": "vrrp_other", "table": "halb_pair_vrrp", "handle": 3, "packets": 0, "bytes": 0}},
            {"counter": {"family": "inet", "name": "vrrp_spoofed", "table": "someone_else", "handle": 4, "packets": 99, "bytes": 1}},
        ]
    }
)


def test_counters_of_the_guard_only():
    c = g.counters(COUNTERS_JSON)
    assert c == {
        "vrrp_peer": {"packets": 120, "bytes": 4800},
        "vrrp_spoofed": {"packets": 16, "bytes": 640},
        "vrrp_other": {"packets": 0, "bytes": 0},
    }
    assert g.counters("") == {}


@pytest.mark.parametrize(
    ("per_node", "want"),
    [
        ({"lb1": {"vrrp_spoofed": {"packets": 0}}, "lb2": {"vrrp_spoofed": {"packets": 0}}}, "ok"),
        ({"lb1": {"vrrp_spoofed": {"packets": 16}}, "lb2": {"vrrp_spoofed": {"packets": 0}}}, "foreign_vrrp"),
        ({"lb1": {"vrrp_spoofed": {"packets": 0}}, "lb2": None}, "unguarded"),
        ({"lb1": {"vrrp_spoofed": {"packets": 3}}, "lb2": {}}, "foreign_vrrp"),
    ],
)
def test_verdict(per_node, want):
    assert g.verdict(per_node)["verdict"] == want


# (case, per node, configured on, verdict, alerts)
CONFIGURED = [
    ("asked for and missing", {"lb1": None, "lb2": {"vrrp_spoofed": {"packets": 0}}}, {"lb1": True, "lb2": True}, "unguarded", True),
    ("switched off everywhere", {"lb1": None, "lb2": {}}, {"lb1": False, "lb2": False}, "off", False),
    ("switched off on the node without it", {"lb1": None, "lb2": {"vrrp_spoofed": {"packets": 0}}}, {"lb1": False, "lb2": True}, "ok", False),
    ("foreign VRRP wins", {"lb1": None, "lb2": {"vrrp_spoofed": {"packets": 5}}}, {"lb1": True, "lb2": True}, "foreign_vrrp", True),
]


@pytest.mark.parametrize(("per_node", "configured", "want", "alerts"), [c[1:] for c in CONFIGURED], ids=[c[0] for c in CONFIGURED])
def test_verdict_knows_where_the_guard_is_asked_for(per_node, configured, want, alerts):
    v = g.verdict(per_node, configured)
    assert v["verdict"] == want
    assert (v["verdict"] in g.ALERTING) is alerts
    if want == "unguarded":
        assert "lb1" in v["why"] and "keepalived_vrrp_guard" in v["why"]
