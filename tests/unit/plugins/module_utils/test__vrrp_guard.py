"""The VRRP guard's nft table: built from the pair, checked by the real `nft -c`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_guard as g

from tests.helpers.netns import UNSHARE_NET

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


def _block(text: str, name: str) -> list[str]:
    """The lines of ``set NAME { ... }`` in the rendered file, without indentation."""
    lines = text.splitlines()
    start = lines.index(f"\tset {name} {{")
    end = lines.index("\t}", start)
    return [line.strip() for line in lines[start + 1:end]]


def test_render_remembers_the_sources_of_dropped_adverts_per_family():
    text = g.render(g.spec_for([*DUAL, V6], ADDRS, LINK))
    assert _block(text, "strangers4") == ["type ipv4_addr", "size 1024", "flags dynamic,timeout", "timeout 3600s"]
    assert _block(text, "strangers6") == ["type ipv6_addr", "size 1024", "flags dynamic,timeout", "timeout 3600s"]
    v4_update = "meta nfproto ipv4 @th,8,8 { 55, 56 } update @strangers4 { ip saddr }"
    v6_update = "meta nfproto ipv6 @th,8,8 { 57 } update @strangers6 { ip6 saddr }"
    assert f"\t\t{v4_update}" in text.splitlines()
    assert f"\t\t{v6_update}" in text.splitlines()
    # the source is remembered after the peers are let through and before the drop counts it
    assert text.index("vrrp_peer accept") < text.index(v4_update) < text.index("{ 55, 56 } counter name vrrp_spoofed drop")
    assert text.index(v6_update) < text.index("{ 57 } counter name vrrp_spoofed drop") < text.index("vrrp_other drop")
    # the update is a rule of its own: a full set stops that rule only, the drop still counts
    assert not any("update @" in line and "drop" in line for line in text.splitlines())


def test_an_ipv4_pair_has_no_ipv6_stranger_set():
    text = g.render(g.spec_for(DUAL, ADDRS))
    assert "set strangers4 {" in text
    assert "strangers6" not in text


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


# --------------------------------------------------------------------------- the sources it drops


def _set_json(name: str, elems, table: str = "halb_pair_vrrp", family_type: str = "ipv4_addr") -> str:
    """``nft -j list set inet TABLE NAME`` as nftables 1.0.6 prints it (recorded in a network namespace)."""
    s = {"family": "inet", "name": name, "table": table, "type": family_type, "handle": 6, "size": 1024,
         "flags": ["timeout"], "timeout": 3600}
    if elems is not None:
        s["elem"] = elems
    return json.dumps({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
                                    {"set": s}]})


# (case, nft -j output, expected)
STRANGER_CASES = [
    ("one source the guard remembers", _set_json("strangers4", [{"elem": {"val": "198.51.100.13", "expires": 3599}}]),
     [{"address": "198.51.100.13", "expires": 3599}]),
    ("an element with a timeout of its own", _set_json("strangers4", [{"elem": {"val": "198.51.100.13", "timeout": 600, "expires": 599}}]),
     [{"address": "198.51.100.13", "expires": 599}]),
    ("a plain element: no expiry known", _set_json("strangers4", ["198.51.100.14"]), [{"address": "198.51.100.14", "expires": None}]),
    ("sorted by address, not as text",
     _set_json("strangers4", [{"elem": {"val": "198.51.100.100", "expires": 10}}, {"elem": {"val": "198.51.100.9", "expires": 20}}]),
     [{"address": "198.51.100.9", "expires": 20}, {"address": "198.51.100.100", "expires": 10}]),
    ("IPv6, written the short way", _set_json("strangers6", [{"elem": {"val": "fe80:0:0:0:0:0:0:13", "expires": 5}}], family_type="ipv6_addr"),
     [{"address": "fe80::13", "expires": 5}]),
    ("an empty set has no elem key", _set_json("strangers4", None), []),
    ("the peers' set is not a stranger", _set_json("peers4", ["198.51.100.11"]), []),
    ("another table's set of that name", _set_json("strangers4", ["198.51.100.13"], table="someone_else"), []),
    ("what is not an address is left out",
     _set_json("strangers4", [{"elem": {"val": {"prefix": {"addr": "198.51.100.0", "len": 24}}}}, "not-an-address", 7]), []),
    ("nothing", "", []),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in STRANGER_CASES], ids=[c[0] for c in STRANGER_CASES])
def test_strangers_are_read_from_the_guards_sets(text, expected):
    assert g.strangers(text) == expected


def test_strangers_of_a_broken_answer_raise_value_error():
    with pytest.raises(ValueError):
        g.strangers("{not json")


# (case, per node counters, sources per node, verdict, strangers, fragments of why)
SEEN_CASES = [
    ("the source is named", {"lb1": {"vrrp_spoofed": {"packets": 24}}, "lb2": {"vrrp_spoofed": {"packets": 0}}},
     {"lb1": [{"address": "198.51.100.13", "expires": 3500}], "lb2": []}, "foreign_vrrp", ["198.51.100.13"],
     ["(lb1: 24 packets; from 198.51.100.13)", "a node taken out of the inventory that still runs keepalived", "playbooks/leave.yml",
      "a stranger on the segment"]),
    ("one address seen by both nodes is named once", {"lb1": {"vrrp_spoofed": {"packets": 3}}, "lb2": {"vrrp_spoofed": {"packets": 4}}},
     {"lb1": [{"address": "198.51.100.13"}], "lb2": ["198.51.100.13", "198.51.100.9"]}, "foreign_vrrp", ["198.51.100.9", "198.51.100.13"],
     ["(lb1: 3, lb2: 4 packets; from 198.51.100.9, 198.51.100.13)"]),
    ("packets older than the sets' memory", {"lb1": {"vrrp_spoofed": {"packets": 2}}, "lb2": {"vrrp_spoofed": {"packets": 0}}},
     {}, "foreign_vrrp", [], ["(lb1: 2 packets; no source seen in the last 60 min)"]),
    ("many sources: five in the sentence, all in the key",
     {"lb1": {"vrrp_spoofed": {"packets": 7}}, "lb2": {"vrrp_spoofed": {"packets": 0}}},
     {"lb1": [f"198.51.100.{n}" for n in range(40, 47)]}, "foreign_vrrp", [f"198.51.100.{n}" for n in range(40, 47)],
     ["from 198.51.100.40, 198.51.100.41, 198.51.100.42, 198.51.100.43, 198.51.100.44 and 2 more)"]),
    ("a remembered source alone is foreign VRRP", {"lb1": {"vrrp_spoofed": {"packets": 0}}, "lb2": {"vrrp_spoofed": {"packets": 0}}},
     {"lb2": ["198.51.100.13"]}, "foreign_vrrp", ["198.51.100.13"], ["(no packet counted; from 198.51.100.13)"]),
    ("a node without guard says nothing", {"lb1": {"vrrp_spoofed": {"packets": 0}}, "lb2": {"vrrp_spoofed": {"packets": 0}}},
     {"lb1": None, "lb2": []}, "ok", [], ["VRRP only from the pair's nodes"]),
    ("a node that is not judged is not read", {"lb1": {"vrrp_spoofed": {"packets": 0}}},
     {"lb3": ["198.51.100.13"]}, "ok", [], ["VRRP only from the pair's nodes"]),
]


@pytest.mark.parametrize(("per_node", "seen", "want", "strangers", "fragments"), [c[1:] for c in SEEN_CASES], ids=[c[0] for c in SEEN_CASES])
def test_verdict_names_the_strangers(per_node, seen, want, strangers, fragments):
    v = g.verdict(per_node, None, seen)
    assert v["verdict"] == want
    assert v["strangers"] == strangers
    for fragment in fragments:
        assert fragment in v["why"]


def test_every_verdict_has_the_strangers_key():
    assert g.verdict({"lb1": None}, {"lb1": False})["strangers"] == []
    assert g.verdict({"lb1": None})["strangers"] == []


# --------------------------------------------------------------------------- the guard in a kernel

UNSHARE = shutil.which("unshare")
IP = shutil.which("ip") or "/usr/sbin/ip"
SEND = r"""
import socket, sys
# a VRRPv2 advert for VRID 55 (RFC 3768 5.1), sent to this namespace's own loopback
pkt = bytes([0x21, 55, 100, 1, 0, 1, 0, 0]) + socket.inet_aton("198.51.100.100") + bytes(8)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
for _ in range(int(sys.argv[1])):
    s.sendto(pkt, ("127.0.0.1", 0))
"""


def _in_netns(tmp_path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([*UNSHARE_NET, "sh", "-ec", script], capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60)


@pytest.fixture
def netns(tmp_path):
    """A network namespace of the test's own (``unshare --net``; as any user through a user
    namespace, tests/helpers/netns.py): the host's ruleset is never touched."""
    probe = _in_netns(tmp_path, f"{NFT} list ruleset")
    if probe.returncode != 0:
        pytest.fail(f"cannot make a network namespace here: {probe.stderr.strip()}")
    return tmp_path


def _guarded(netns, spec: g.GuardSpec, adverts: int) -> str:
    """``spec``'s guard loaded into the namespace, ``adverts`` adverts for VRID 55 sent from
    127.0.0.1, and what ``nft -j list table`` then prints (the one read vip_info makes)."""
    (netns / "guard.nft").write_text(g.render(spec))
    (netns / "send.py").write_text(SEND)
    proc = _in_netns(netns, f"""
        {IP} link set lo up
        {NFT} -f guard.nft
        {sys.executable} send.py {adverts}
        {NFT} -j list table inet halb_pair_vrrp > table.json
    """)
    assert proc.returncode == 0, proc.stderr
    return (netns / "table.json").read_text()


def test_the_kernel_remembers_a_stranger_and_the_parsers_name_it(netns):
    """The rendered guard loaded into a fresh namespace: an advert for the pair's VRID from
    an address outside the pair (127.0.0.1) is dropped, counted and remembered; what
    ``nft -j`` then prints is what ``counters()`` and ``strangers()`` read."""
    table = _guarded(netns, g.GuardSpec(vrids=(55, 56), peers4=("198.51.100.11", "198.51.100.12")), 3)
    assert g.counters(table)["vrrp_spoofed"]["packets"] == 3
    seen = g.strangers(table)
    assert [s["address"] for s in seen] == ["127.0.0.1"]
    assert 0 < seen[0]["expires"] <= g.STRANGER_TIMEOUT
    v = g.verdict({"lb1": g.counters(table)}, None, {"lb1": seen})
    assert (v["verdict"], v["strangers"]) == ("foreign_vrrp", ["127.0.0.1"])
    assert "(lb1: 3 packets; from 127.0.0.1)" in v["why"]


def test_in_the_kernel_a_peer_is_not_a_stranger(netns):
    # the same advert from an address of the pair: accepted, and nobody remembered
    table = _guarded(netns, g.GuardSpec(vrids=(55,), peers4=("127.0.0.1", "198.51.100.12")), 2)
    c = g.counters(table)
    assert (c["vrrp_peer"]["packets"], c["vrrp_spoofed"]["packets"]) == (2, 0)
    assert g.strangers(table) == []
