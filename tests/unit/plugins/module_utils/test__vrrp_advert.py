"""Adverts the crash hand-over sends for a dead keepalived, and its decisions.

Expected bytes are computed by hand in the comments (RFC 1071 sums of 16-bit words), or
are an advert keepalived 2.2.7 itself sent in the lab (lab/tests/test_vrrp_attack.py)."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_advert as va

VIP = "198.51.100.110"  # c6 33 64 6e
SRC = "198.51.100.11"  # c6 33 64 0b


def test_checksum_of_rfc1071_example():
    # RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum ~ddf2 = 220d
    assert va.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # v2, VRID 55, prio 0, 1 address, no auth, advert 1 s:
        # 2137 + 0001 + 0001 + c633 + 646e = 14bda -> 4bdb, ~ = b424
        ((2, 55, 0, [VIP], 1), "213700010001b424" + "c633646e" + "0000000000000000"),
        # v2 PASS "abc": 2137 + 0001 + 0101 + c633 + 646e + 6162 + 6300 = 2113e... -> 113e, ~ = eec1
        ((2, 55, 0, [VIP], 1, "abc"), "213700010101eec1" + "c633646e" + "6162630000000000"),
        # keepalived's own VI_1 advert in the lab (priority 150, PASS lab-only, VIP .100)
        ((2, 55, 150, ["198.51.100.100"], 1, "lab-only"), "21379601010172b7c63364646c61622d6f6e6c79"),
        # v3 to 224.0.0.18 from .11, advert 0.1 s (10 cs), pseudo-header c633 640b e000 0012 0070 000c,
        # message 3137 0001 000a c633 646e: sum 366af -> 66b2, ~ = 994d
        ((3, 55, 0, [VIP], 0.1, None, SRC), "31370001000a994d" + "c633646e"),
    ],
)
def test_adverts_by_hand(args, expected):
    assert va.advert(*args).hex() == expected


def test_v3_checksum_covers_the_destination():
    mc = va.advert(3, 55, 0, [VIP], 1, None, SRC)
    uni = va.advert(3, 55, 0, [VIP], 1, None, SRC, "198.51.100.12")
    assert mc[:6] == uni[:6] and mc[8:] == uni[8:] and mc[6:8] != uni[6:8]
    for dst, pkt in (("224.0.0.18", mc), ("198.51.100.12", uni)):
        pseudo = ipaddress.IPv4Address(SRC).packed + ipaddress.IPv4Address(dst).packed + struct.pack("!BBH", 0, 112, len(pkt))
        assert va.checksum(pseudo + pkt) == 0


@pytest.mark.parametrize(
    "args",
    [
        (2, 0, 0, [VIP], 1),  # VRID 0
        (2, 256, 0, [VIP], 1),
        (2, 55, 256, [VIP], 1),
        (2, 55, 0, [], 1),  # no address
        (2, 55, 0, [VIP], 0.5),  # v2: whole seconds only
        (2, 55, 0, [VIP], 1, "123456789"),  # 9 bytes
        (3, 55, 0, [VIP], 1),  # v3 without a source
        (3, 55, 0, [VIP], 41, None, SRC),  # > 40.95 s
        (4, 55, 0, [VIP], 1),
        (2, 55, 0, ["2001:db8::1"], 1),
    ],
)
def test_out_of_range_refused(args):
    with pytest.raises(va.AdvertError):
        va.advert(*args)


def _ip_header(src, proto=112, ttl=255):
    return bytes([0x45, 0, 0, 40, 0, 0, 0, 0, ttl, proto, 0, 0]) + ipaddress.IPv4Address(src).packed + bytes([224, 0, 0, 18])


def test_parse_reads_a_received_advert():
    pkt = _ip_header("198.51.100.12") + va.advert(2, 55, 100, [VIP], 1)
    assert va.parse(pkt) == {"src": "198.51.100.12", "ttl": 255, "version": 2, "vrid": 55, "priority": 100, "count": 1}
    assert va.parse(_ip_header("198.51.100.12", proto=6) + b"\0" * 20) is None
    assert va.parse(b"\x45") is None


# --------------------------------------------------------------------------- configuration


def inst(**over):
    base = {
        "name": "VI_1",
        "vrid": 55,
        "version": 2,
        "advert_int": 1,
        "interface": "eth0",
        "source": SRC,
        "vips": [{"address": VIP, "cidr": VIP + "/24", "dev": "eth0"}],
        "auth_pass": None,
        "unicast_peers": [],
    }
    return {**base, **over}


def cfg(*instances, **over):
    return {"state_dir": "/var/lib/halb-pair/state", "peers": [], "instances": list(instances), **over}


def test_config_loads_with_defaults():
    c = va.load_config(cfg(inst()))
    assert (c["wait"], c["release_delay"], c["repeat"], c["peer_timeout"]) == (5.0, 0.1, 2, 0.3)
    assert c["instances"][0]["advert_int"] == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"vrid": 0},
        {"version": 1},
        {"advert_int": 0.5},  # v2
        {"interface": "eth0\nExecStart=/bin/sh"},
        {"interface": "a-very-long-interface"},
        {"source": "198.51.100.300"},
        {"auth_pass": "ab#cdefg"},
        {"auth_pass": "has space"},
        {"auth_pass": "x", "version": 3, "advert_int": 0.1},  # v3 has no authentication
        {"vips": []},
        {"vips": [{"address": VIP, "cidr": "198.51.100.111/24", "dev": "eth0"}]},
        {"unicast_peers": ["not-an-address"]},
        {"vips": [{"address": VIP, "cidr": VIP + "/24", "dev": "eth0", "label": "eth1:1"}]},  # another device
        {"vips": [{"address": VIP, "cidr": VIP + "/24", "dev": "eth0", "label": "eth0:1 label x"}]},
        {"name": "VI 1"},
    ],
)
def test_config_refuses(bad):
    with pytest.raises(va.AdvertError) as exc:
        va.load_config(cfg(inst(**bad)))
    assert "ab#cdefg" not in str(exc.value)


def test_config_refuses_out_of_range_timers():
    with pytest.raises(va.AdvertError):
        va.load_config(cfg(inst(), wait=600))
    with pytest.raises(va.AdvertError):
        va.load_config(cfg(inst(), state_dir="relative"))


def test_packets_multicast_or_each_unicast_peer():
    assert [d for d, _p in va.packets(va.load_config(cfg(inst()))["instances"][0])] == ["224.0.0.18"]
    uni = va.load_config(cfg(inst(version=3, advert_int=0.1, unicast_peers=["198.51.100.12", "198.51.100.13"])))["instances"][0]
    out = va.packets(uni)
    assert [d for d, _p in out] == ["198.51.100.12", "198.51.100.13"]
    assert all(p[2] == 0 for _d, p in out)  # priority 0


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}, True),
        ({"SERVICE_RESULT": "core-dump", "EXIT_CODE": "dumped", "EXIT_STATUS": "SEGV"}, True),
        ({"SERVICE_RESULT": "watchdog", "EXIT_CODE": "killed", "EXIT_STATUS": "ABRT"}, True),
        # a failed start: keepalived (or an ExecStartPre=) exited non-zero, no VRRP ran
        ({"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "1"}, False),
        # a start or a stop that systemd had to kill: never started, or already releasing
        ({"SERVICE_RESULT": "timeout", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}, False),
        ({"SERVICE_RESULT": "resources"}, False),
        ({"SERVICE_RESULT": "start-limit-hit"}, False),
        ({"SERVICE_RESULT": "signal", "EXIT_CODE": "exited", "EXIT_STATUS": "1"}, False),  # not the main process's death
        ({"SERVICE_RESULT": "success", "EXIT_CODE": "killed", "EXIT_STATUS": "TERM"}, False),  # systemctl stop
        ({"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"}, False),
        ({}, False),  # by hand
    ],
)
def test_crashed_only_after_the_death_of_a_running_keepalived(env, expected):
    assert va.crashed(env) is expected


@pytest.mark.parametrize(
    ("line", "state"),
    [
        ('INSTANCE "VI_1" MASTER 150 1764031200.123\n', "MASTER"),
        ('INSTANCE "VI_1" FAULT 0 1764031200.123', "FAULT"),
        ("", None),
        ("garbage", None),
    ],
)
def test_feed_state(line, state):
    assert va.feed_state(line) == state


DUAL = cfg(inst(), inst(name="VI_2", vrid=56, vips=[{"address": "198.51.100.111", "cidr": "198.51.100.111/24", "dev": "eth0"}]))


@pytest.mark.parametrize(
    ("states", "held", "expected"),
    [
        ({"VI_1": "MASTER", "VI_2": "BACKUP"}, {SRC, VIP}, ["VI_1"]),
        ({"VI_1": "MASTER", "VI_2": "BACKUP"}, {SRC}, ["VI_1"]),  # feed says MASTER, VIP already gone
        ({"VI_1": "BACKUP", "VI_2": None}, {SRC, "198.51.100.111"}, ["VI_2"]),  # a stale VIP: it was MASTER
        ({"VI_1": "MASTER", "VI_2": "MASTER"}, {SRC}, ["VI_1", "VI_2"]),
        ({"VI_1": "FAULT", "VI_2": "BACKUP"}, {SRC}, []),  # nginx down: FAULT already sent priority 0
        ({}, set(), []),
    ],
)
def test_was_master(states, held, expected):
    c = va.load_config(DUAL)
    assert [i["name"] for i in va.was_master(c, states, held)] == expected


@pytest.mark.parametrize(
    ("over", "seen", "expected"),
    [
        ({}, {"src": "198.51.100.12", "vrid": 55, "version": 2, "priority": 100}, True),
        ({}, {"src": "198.51.100.12", "vrid": 55, "version": 2, "priority": 0}, False),  # releasing, not holding
        ({}, {"src": SRC, "vrid": 55, "version": 2, "priority": 150}, False),  # our own
        ({}, {"src": "198.51.100.12", "vrid": 56, "version": 2, "priority": 100}, False),  # another instance
        ({}, {"src": "198.51.100.12", "vrid": 55, "version": 3, "priority": 100}, False),
        ({}, None, False),
        ({"unicast_peers": ["198.51.100.12"]}, {"src": "198.51.100.12", "vrid": 55, "version": 2, "priority": 100}, True),
        ({"unicast_peers": ["198.51.100.12"]}, {"src": "198.51.100.99", "vrid": 55, "version": 2, "priority": 100}, False),
    ],
)
def test_taken_over(over, seen, expected):
    i = va.load_config(cfg(inst(**over)))["instances"][0]
    assert va.taken_over(i, seen) is expected


def test_standalone_stdlib_only():
    # The role copies this file to the nodes next to its script: no import of the collection.
    import ast
    from pathlib import Path

    tree = ast.parse(Path(va.__file__).read_text())
    names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert names <= {"__future__", "ipaddress", "re", "struct", "typing"}


@pytest.mark.parametrize(
    ("states", "held", "expected"),
    [
        ({"VI_1": "MASTER", "VI_2": "MASTER"}, {SRC}, [VIP, "198.51.100.111"]),  # both removed by the dying keepalived
        ({"VI_1": "MASTER", "VI_2": "BACKUP"}, {SRC, VIP}, []),  # still there: nothing to put back
        ({"VI_1": "BACKUP", "VI_2": None}, {SRC, "198.51.100.111"}, []),  # only a feed saying MASTER puts back
        ({"VI_1": "MASTER"}, {SRC}, [VIP]),
    ],
)
def test_missing_vips_put_back(states, held, expected):
    c = va.load_config(DUAL)
    todo = va.was_master(c, states, held)
    assert [v["address"] for v in va.missing(todo, states, held)] == expected


def test_a_label_is_kept():
    c = va.load_config(cfg(inst(vips=[{"address": VIP, "cidr": VIP + "/24", "dev": "eth0", "label": "eth0:1"}])))
    assert c["instances"][0]["vips"][0]["label"] == "eth0:1"


# --------------------------------------------------------------------------- who else holds a VIP


def _inst(name, *vips):
    return {"name": name, "vips": [{"address": v, "cidr": v + "/24", "dev": "eth0", "label": None} for v in vips]}


@pytest.mark.parametrize(
    ("held", "theirs", "kept", "put_back"),
    [
        ([], [], ["VI_1", "VI_2"], ["198.51.100.100", "198.51.100.101"]),  # nobody holds them: put back, announce
        ([], ["198.51.100.100"], ["VI_2"], ["198.51.100.101"]),  # VI_1 is the peer's
        (["198.51.100.100"], ["198.51.100.100"], ["VI_1", "VI_2"], ["198.51.100.101"]),  # both hold it: release ours
        ([], ["198.51.100.100", "198.51.100.101"], [], []),
    ],
)
def test_not_held_elsewhere(held, theirs, kept, put_back):
    todo = [_inst("VI_1", "198.51.100.100"), _inst("VI_2", "198.51.100.101")]
    back = [v for i in todo for v in i["vips"] if v["address"] not in held]
    keep, again = va.not_held_elsewhere(todo, back, held, theirs)
    assert [i["name"] for i in keep] == kept
    assert [v["address"] for v in again] == put_back


MAC = bytes.fromhex("020000000011")
PEER_MAC = bytes.fromhex("020000000012")


def test_arp_probe_frame():
    frame = va.arp_probe(MAC, "198.51.100.100")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC and frame[12:14] == b"\x08\x06"
    assert frame[14:22] == bytes.fromhex("0001080006040001")  # Ethernet, IPv4, request
    assert frame[28:32] == b"\0\0\0\0"  # probe: no sender address
    assert frame[38:42] == bytes([198, 51, 100, 100])
    with pytest.raises(va.AdvertError):
        va.arp_probe(b"\0", "198.51.100.100")


def _reply(sender_mac, sender_ip, op=2, ethertype=b"\x08\x06"):
    arp = bytes.fromhex("000108000604") + op.to_bytes(2, "big") + sender_mac + bytes(sender_ip) + MAC + bytes(4)
    return MAC + sender_mac + ethertype + arp


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (_reply(PEER_MAC, [198, 51, 100, 100]), "198.51.100.100"),
        (_reply(MAC, [198, 51, 100, 100]), None),  # our own
        (_reply(PEER_MAC, [198, 51, 100, 100], op=1), None),  # a request, not a reply
        (_reply(PEER_MAC, [198, 51, 100, 100], ethertype=b"\x08\x00"), None),
        (b"\0" * 20, None),
    ],
)
def test_arp_reply(frame, expected):
    assert va.arp_reply(frame, MAC) == expected
