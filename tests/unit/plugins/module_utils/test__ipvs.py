# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's IPVS table from tables: samples spaced as ip_vs_info_seq_show prints them
(net/netfilter/ipvs/ip_vs_ctl.c: "%s  %08X:%04X %s %s ", "  -> %08X:%04X      %-7s %-6d %-10d %-10d")."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.module_utils._ipvs import IpvsParseError, config_hz, describe, live, name, parse

HEADER = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
)


def real(address, port, forward, weight, active=0, inactive=0):
    return {"address": address, "port": port, "forward": forward, "weight": weight, "active": active, "inactive": inactive}


def vs(protocol, address, port, scheduler, reals=(), flags=(), persistent=None, fwmark=None):
    return {"protocol": protocol, "address": address, "port": port, "fwmark": fwmark, "scheduler": scheduler,
            "flags": list(flags), "persistent": persistent, "real_servers": list(reals)}


PARSE_CASES = [
    ("empty text", "", None, []),
    ("header only: ip_vs loaded, no virtual server", HEADER, None, []),
    (
        "IPv4 TCP, DR, one real server drained to weight 0",
        HEADER
        + "TCP  C633648C:1F90 rr  \n"
        + "  -> C633643F:1F90      Route   1      0          2         \n"
        + "  -> C6336440:1F90      Route   0      0          0         \n",
        None,
        [vs("TCP", "198.51.100.140", 8080, "rr", [real("198.51.100.63", 8080, "Route", 1, 0, 2),
                                                  real("198.51.100.64", 8080, "Route", 0)])],
    ),
    (
        "a virtual server with no real server, then another",
        HEADER + "UDP  C633648C:0035 rr  \n" + "TCP  C633648C:01BB wlc  \n" + "  -> C633643F:01BB      Masq    3      17         40        \n",
        None,
        [vs("UDP", "198.51.100.140", 53, "rr"), vs("TCP", "198.51.100.140", 443, "wlc", [real("198.51.100.63", 443, "Masq", 3, 17, 40)])],
    ),
    (
        "fwmark, persistent 300 s at HZ=250 (the kernel prints jiffies and the netmask)",
        HEADER + "FWM  00000001 wlc persistent 75000 FFFFFFFF\n" + "  -> C6336440:0000      Masq    1      2          5         \n",
        250,
        [vs("FWM", None, None, "wlc", [real("198.51.100.64", 0, "Masq", 1, 2, 5)], ["persistent"], 300, fwmark=1)],
    ),
    (
        "persistent without the kernel's HZ: flagged, seconds unknown",
        HEADER + "TCP  C633648C:0050 sh persistent 75000 FFFFFFFF\n",
        None,
        [vs("TCP", "198.51.100.140", 80, "sh", flags=["persistent"])],
    ),
    (
        "one-packet scheduling (ops) and persistence, UDP",
        HEADER + "UDP  C633648C:0035 rr ops persistent 360000 FFFFFF00\n" + "  -> C633640D:0035      Tunnel  2      0          9         \n",
        1000,
        [vs("UDP", "198.51.100.140", 53, "rr", [real("198.51.100.13", 53, "Tunnel", 2, 0, 9)], ["ops", "persistent"], 360)],
    ),
    (
        "the brief's persistent form without a netmask",
        HEADER + "FWM  0000002A wlc persistent 300\n",
        1,
        [vs("FWM", None, None, "wlc", flags=["persistent"], persistent=300, fwmark=42)],
    ),
    (
        "IPv6 as the kernel prints it (%pI6: colons, every group in full), local real server",
        HEADER
        + "TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:1F90 rr \n"
        + "  -> [2001:0db8:0000:0000:0000:0000:0000:0040]:1F90      Masq    1      0          0         \n"
        + "  -> [0000:0000:0000:0000:0000:0000:0000:0001]:1F90      Local   1      1          0         \n",
        None,
        [vs("TCP", "2001:db8::1", 8080, "rr", [real("2001:db8::40", 8080, "Masq", 1), real("::1", 8080, "Local", 1, 1, 0)])],
    ),
    (
        "IPv6 as 32 hex digits without colons (%pi6)",
        HEADER + "SCTP  [20010db8000000000000000000000001]:1F90 rr \n"
        + "  -> [20010db8000000000000000000000041]:1F90      Route   0      0          0         \n",
        None,
        [vs("SCTP", "2001:db8::1", 8080, "rr", [real("2001:db8::41", 8080, "Route", 0)])],
    ),
    (
        "both families in one table",
        HEADER + "TCP  C633648C:1F90 rr  \n" + "  -> C633643F:1F90      Route   1      0          0         \n"
        + "TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:1F90 rr \n",
        None,
        [vs("TCP", "198.51.100.140", 8080, "rr", [real("198.51.100.63", 8080, "Route", 1)]), vs("TCP", "2001:db8::1", 8080, "rr")],
    ),
]


@pytest.mark.parametrize(("text", "hz", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES])
def test_parse(text, hz, expected):
    assert parse(text, hz) == expected


BAD_CASES = [
    ("a real server before any virtual server", HEADER + "  -> C633643F:1F90      Route   1      0          0\n", "before its real server"),
    ("an address that is not hex", HEADER + "TCP  198.51.100.140:8080 rr\n", "ADDRESS:PORT in hex"),
    ("an unknown forwarding method", HEADER + "TCP  C633648C:1F90 rr\n  -> C633643F:1F90      Bridge  1      0          0\n", "forwarding method"),
    ("a short real-server line", HEADER + "TCP  C633648C:1F90 rr\n  -> C633643F:1F90      Route   1\n", "ACTIVECONN INACTCONN"),
    ("a weight that is not a number", HEADER + "TCP  C633648C:1F90 rr\n  -> C633643F:1F90      Route   x      0          0\n", "weight"),
    ("persistent without its timeout", HEADER + "TCP  C633648C:1F90 rr persistent\n", "timeout after persistent"),
    ("a broken IPv6 address", HEADER + "TCP  [2001:0db8::zz]:1F90 rr\n", "in hex"),
    ("a fwmark that is not hex", HEADER + "FWM  mark wlc\n", "firewall mark"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_parse_refuses_what_the_kernel_does_not_print(text, words):
    with pytest.raises(IpvsParseError, match=words):
        parse(text)


LIVE_CASES = [
    ("no real server", vs("TCP", "198.51.100.140", 8080, "rr"), False),
    ("every real server at weight 0", vs("TCP", "198.51.100.140", 8080, "rr", [real("198.51.100.63", 8080, "Route", 0)] * 2), False),
    ("one of weight 1",
     vs("TCP", "198.51.100.140", 8080, "rr", [real("198.51.100.63", 8080, "Route", 0), real("198.51.100.64", 8080, "Route", 1)]), True),
]


@pytest.mark.parametrize(("server", "expected"), [c[1:] for c in LIVE_CASES], ids=[c[0] for c in LIVE_CASES])
def test_live(server, expected):
    assert live(server) is expected


DESCRIBE_CASES = [
    (
        "IPv4, two real servers",
        vs("TCP", "198.51.100.140", 8080, "rr", [real("198.51.100.63", 8080, "Route", 1, 0, 2), real("198.51.100.64", 8080, "Route", 0)]),
        "TCP 198.51.100.140:8080 rr  real 198.51.100.63:8080 Route w1 act 0 inact 2; 198.51.100.64:8080 Route w0 act 0 inact 0",
    ),
    ("no real server", vs("UDP", "198.51.100.140", 53, "rr"), "UDP 198.51.100.140:53 rr  real none"),
    (
        "fwmark, persistent in seconds",
        vs("FWM", None, None, "wlc", [real("198.51.100.64", 0, "Masq", 1, 2, 5)], ["persistent"], 300, fwmark=1),
        "FWM 1 wlc persistent 300  real 198.51.100.64:0 Masq w1 act 2 inact 5",
    ),
    ("persistent, seconds unknown; ops", vs("UDP", "198.51.100.140", 53, "rr", flags=["ops", "persistent"]),
     "UDP 198.51.100.140:53 rr ops persistent  real none"),
    (
        "IPv6 in brackets",
        vs("TCP", "2001:db8::1", 8080, "rr", [real("2001:db8::40", 8080, "Masq", 1)]),
        "TCP [2001:db8::1]:8080 rr  real [2001:db8::40]:8080 Masq w1 act 0 inact 0",
    ),
]


@pytest.mark.parametrize(("server", "expected"), [c[1:] for c in DESCRIBE_CASES], ids=[c[0] for c in DESCRIBE_CASES])
def test_describe(server, expected):
    assert describe(server) == expected


def test_name():
    assert name(vs("SCTP", "2001:db8::1", 8080, "rr")) == "SCTP [2001:db8::1]:8080"
    assert name(vs("FWM", None, None, "wlc", fwmark=7)) == "FWM 7"


@pytest.mark.parametrize(("text", "hz"), [("CONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250), ("# CONFIG_HZ is not set\n", None), ("", None)])
def test_config_hz(text, hz):
    assert config_hz(text) == hz
