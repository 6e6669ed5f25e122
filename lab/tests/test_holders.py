"""The lab's one reader of `ip -j addr` (halb_lab.holders), from recorded outputs."""

from __future__ import annotations

import json

import pytest
from halb_lab import holders as h


def _out(*addrs: str, dev: str = "eth0") -> str:
    return json.dumps([{"ifindex": 1, "ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
                       {"ifindex": 2, "ifname": dev, "addr_info": [{"family": "inet6" if ":" in a else "inet", "local": a, "prefixlen": 24}
                                                                   for a in addrs]}])


@pytest.mark.parametrize(("outputs", "expected"), [
    ({"lb1": _out("198.51.100.11", "198.51.100.100"), "lb2": _out("198.51.100.12")}, {"198.51.100.100": ["lb1"]}),
    ({"lb1": _out("198.51.100.100"), "lb2": _out("198.51.100.100")}, {"198.51.100.100": ["lb1", "lb2"]}),
    ({"lb1": _out("198.51.100.11"), "lb2": _out("198.51.100.12")}, {"198.51.100.100": []}),
    # a node that did not answer, or answered something else, holds nothing
    ({"lb1": "", "lb2": "Error: no such device"}, {"198.51.100.100": []}),
    # a VIP on a label or another device counts: every device is read
    ({"lb1": _out("198.51.100.100", dev="eth1"), "lb2": _out()}, {"198.51.100.100": ["lb1"]}),
], ids=["one", "split", "none", "no-answer", "other-device"])
def test_holders(outputs, expected):
    assert h.holders(["198.51.100.100"], outputs) == expected


def test_vips_in_any_spelling_come_back_bare_and_once():
    got = h.holders(["198.51.100.100/24", "198.51.100.100", "2001:db8::0001"], {"lb1": _out("198.51.100.100", "2001:db8::1")})
    assert got == {"198.51.100.100": ["lb1"], "2001:db8::1": ["lb1"]}


def test_read_runs_ip_on_every_node():
    calls = []

    def fake(container, *argv):
        calls.append((container, argv))
        return _out("198.51.100.100") if container == "c2" else _out()

    assert h.read(["198.51.100.100"], {"lb1": "c1", "lb2": "c2"}, fake) == {"198.51.100.100": ["lb2"]}
    assert calls == [("c1", h.IP_ADDR), ("c2", h.IP_ADDR)]
