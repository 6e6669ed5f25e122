# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.module_utils._ipaddr import (
    IpAddrParseError,
    global_addresses,
    held_addresses,
    normalise_address,
    parse_ip_addr_json,
)

LO = {
    "ifindex": 1,
    "ifname": "lo",
    "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo"}],
}
ETH0_VIP = {
    "ifindex": 2,
    "ifname": "eth0",
    "addr_info": [
        {"family": "inet", "local": "198.51.100.11", "prefixlen": 24, "scope": "global", "label": "eth0"},
        {"family": "inet", "local": "198.51.100.100", "prefixlen": 24, "scope": "global", "secondary": True, "label": "eth0:1"},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"},
    ],
}
DOWN = {"ifindex": 3, "ifname": "eth1", "flags": ["BROADCAST"], "addr_info": []}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("198.51.100.100", "198.51.100.100"),
        ("198.51.100.100/24", "198.51.100.100"),
        (" 198.51.100.100/24 ", "198.51.100.100"),
        ("2001:DB8::0:1/64", "2001:db8::1"),
    ],
)
def test_normalise_address(value, expected):
    assert normalise_address(value) == expected


@pytest.mark.parametrize("value", ["", "lb1", "198.51.100.300", "198.51.100/24"])
def test_normalise_address_rejects(value):
    with pytest.raises(ValueError, match="expected an IP address"):
        normalise_address(value)


def test_normalise_address_rejects_non_string():
    with pytest.raises(TypeError):
        normalise_address(None)


def test_parse_flattens_every_address():
    parsed = parse_ip_addr_json(json.dumps([LO, ETH0_VIP, DOWN]))
    assert [(a["dev"], a["cidr"]) for a in parsed] == [
        ("lo", "127.0.0.1/8"),
        ("eth0", "198.51.100.11/24"),
        ("eth0", "198.51.100.100/24"),
        ("eth0", "fe80::1/64"),
    ]
    assert parsed[2]["label"] == "eth0:1"
    assert parsed[3]["label"] is None


def test_parse_skips_empty_objects():
    assert parse_ip_addr_json("[{}, " + json.dumps(DOWN) + "]") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty output"),
        ("   \n", "empty output"),
        ("[{", "invalid JSON"),
        ('{"ifname": "eth0"}', "found a dict"),
        ("[1]", "one JSON object per interface"),
        ('[{"ifname": 3, "addr_info": []}]', "ifname"),
        ('[{"ifname": "eth0", "addr_info": [{"local": "198.51.100.1"}]}]', "prefixlen"),
        ('[{"ifname": "eth0", "addr_info": [{"local": "nope", "prefixlen": 24}]}]', "expected an IP address"),
    ],
)
def test_parse_rejects_malformed(text, message):
    with pytest.raises((IpAddrParseError, ValueError), match=message):
        parse_ip_addr_json(text)


def test_held_addresses_in_order_without_duplicates():
    parsed = parse_ip_addr_json(json.dumps([LO, ETH0_VIP]))
    held = held_addresses(parsed, ["198.51.100.101/24", "198.51.100.100", "198.51.100.100/24"])
    assert list(held) == ["198.51.100.101", "198.51.100.100"]
    assert held["198.51.100.101"] is None
    assert held["198.51.100.100"]["dev"] == "eth0"


def test_global_addresses_leave_out_loopback_and_link_local():
    parsed = parse_ip_addr_json(json.dumps([LO, ETH0_VIP]))
    assert global_addresses(parsed) == {"eth0": ["198.51.100.11/24", "198.51.100.100/24"]}


# --- recorded outputs (iproute2 6.1.0, Debian 12; see tests/unit/fixtures/README.md) ---
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize(
    ("path", "eth0", "held"),
    [
        ("lab/lb1.ip_addr.no_vip.json", ["198.51.100.11/24"], []),
        ("mol/lb1.ip_addr.json", ["198.51.100.41/24", "198.51.100.110/24"], ["198.51.100.110"]),
        ("mol/lb2.ip_addr.json", ["198.51.100.42/24"], []),
        ("lab/lb1.ip_addr.json", ["198.51.100.11/24", "198.51.100.100/24"], ["198.51.100.100"]),
        ("lab/lb2.ip_addr.json", ["198.51.100.12/24", "198.51.100.101/24"], ["198.51.100.101"]),
    ],
)
def test_recorded_ip_addr(path, eth0, held):
    parsed = parse_ip_addr_json((FIXTURES / path).read_text())
    assert global_addresses(parsed) == {"eth0": eth0}
    found = held_addresses(parsed, ["198.51.100.110", "198.51.100.100", "198.51.100.101"])
    assert [vip for vip, entry in found.items() if entry] == held
    labels = {"198.51.100.110": "eth0:1", "198.51.100.100": "eth0:1", "198.51.100.101": "eth0:2"}
    for vip in held:
        assert found[vip]["label"] == labels[vip]
