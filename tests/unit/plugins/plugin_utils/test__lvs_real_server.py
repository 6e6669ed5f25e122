# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs_real_server role's decisions: its preflight, one row per rule, and its sysctl plan
from what a node's /proc/sys holds (a host, a container with /proc/sys read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.halb.pair.plugins.plugin_utils._lvs_real_server import check, sysctl_keys, sysctl_plan

ROLE = Path(__file__).resolve().parents[4] / "roles" / "lvs_real_server"
OPTIONS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
WANTED = {"arp_ignore": 1, "arp_announce": 2}


def values(**overrides):
    return {**DEFAULTS, "lvs_real_server_vips": ["198.51.100.100"], **overrides}


@pytest.mark.parametrize("overrides", [
    {},
    {"lvs_real_server_vips": ["198.51.100.100", "2001:db8::100"]},
    {"lvs_real_server_device": "vip0"},
    {"lvs_real_server_device": "dummy.lvs-1"},
    {"lvs_real_server_state": "absent", "lvs_real_server_vips": []},
    {"lvs_real_server_arp_ignore": 8, "lvs_real_server_arp_announce": 0},
], ids=repr)
def test_good_values_pass(overrides):
    assert check("web1", values(**overrides), OPTIONS) == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"lvs_real_server_vips": []}, "lvs_real_server_vips on web1 is empty with lvs_real_server_state present"),
    ({"lvs_real_server_vips": ["198.51.100.100/32"]}, "lvs_real_server_vips[0] on web1"),
    ({"lvs_real_server_vips": ["web.example"]}, "lvs_real_server_vips[0] on web1"),
    ({"lvs_real_server_vips": ["fe80::1%eth0"]}, "a zone index"),
    ({"lvs_real_server_vips": ["198.51.100.100", "198.51.100.100"]}, "lvs_real_server_vips[1] on web1: found '198.51.100.100', the address"),
    ({"lvs_real_server_vips": ["2001:db8::1", "2001:DB8:0::1"]},
     "lvs_real_server_vips[1] on web1: found '2001:DB8:0::1', the address of '2001:db8::1'"),
    ({"lvs_real_server_vips": ["127.0.0.1"]}, "a loopback, unspecified, multicast or link-local address"),
    ({"lvs_real_server_vips": ["::1"]}, "a loopback, unspecified, multicast or link-local address"),
    ({"lvs_real_server_vips": ["0.0.0.0"]}, "a loopback, unspecified, multicast or link-local address"),
    ({"lvs_real_server_vips": ["224.0.0.18"]}, "a loopback, unspecified, multicast or link-local address"),
    ({"lvs_real_server_vips": ["fe80::1"]}, "a loopback, unspecified, multicast or link-local address"),
    ({"lvs_real_server_vips": "198.51.100.100"}, "lvs_real_server_vips on web1"),
    ({"lvs_real_server_device": "a-very-long-device0"}, "more than 15 (IFNAMSIZ - 1)"),
    ({"lvs_real_server_device": "eth0:1"}, "lvs_real_server_device on web1"),
    ({"lvs_real_server_device": "lo\nExecStart=/bin/sh"}, "lvs_real_server_device on web1"),
    ({"lvs_real_server_device": "all"}, "found 'all', the name of /proc/sys/net/ipv4/conf/all"),
    ({"lvs_real_server_device": "default"}, "found 'default'"),
    ({"lvs_real_server_state": "stopped"}, "lvs_real_server_state on web1"),
    ({"lvs_real_server_arp_ignore": 9}, "lvs_real_server_arp_ignore"),
    ({"lvs_real_server_arp_announce": 3}, "lvs_real_server_arp_announce"),
    ({"lvs_real_server_arp_announce": "two"}, "lvs_real_server_arp_announce"),
], ids=repr)
def test_bad_values_are_refused_by_name(overrides, expected):
    problems = check("web1", values(**overrides), OPTIONS)
    assert len(problems) == 1, problems
    assert expected in problems[0], problems


def test_every_problem_at_once():
    problems = check("web1", values(lvs_real_server_vips=["127.0.0.1", "127.0.0.1"], lvs_real_server_device="all"), OPTIONS)
    assert len(problems) == 4, problems


def test_keys_of_lo_and_of_a_dummy_device():
    assert sysctl_keys("lo") == ["net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce"]
    assert sysctl_keys("vip0")[2:] == ["net/ipv4/conf/vip0/arp_ignore", "net/ipv4/conf/vip0/arp_announce"]


def lines(ignore="0", announce="0", writable="1", dev=None):
    out = [f"net/ipv4/conf/all/arp_ignore {ignore} {writable}", f"net/ipv4/conf/all/arp_announce {announce} {writable}"]
    if dev:
        name, d_ignore, d_announce, d_writable = dev
        out += [f"net/ipv4/conf/{name}/arp_ignore {d_ignore} {d_writable}", f"net/ipv4/conf/{name}/arp_announce {d_announce} {d_writable}"]
    return out


@pytest.mark.parametrize(("read", "device", "absent", "write", "refused", "left"), [
    # a host: the defaults (0) written
    (lines(), "lo", False, {"net/ipv4/conf/all/arp_ignore": 1, "net/ipv4/conf/all/arp_announce": 2}, 0, 0),
    # a container whose runtime set them: nothing written, nothing refused, though read-only
    (lines("1", "2", "0"), "lo", False, {}, 0, 0),
    # a container with them wrong and read-only: refused (each key)
    (lines("0", "2", "0"), "lo", False, {}, 1, 0),
    (lines("0", "0", "0"), "lo", False, {}, 2, 0),
    # one right, one wrong and writable
    (lines("1", "0"), "lo", False, {"net/ipv4/conf/all/arp_announce": 2}, 0, 0),
    # a dummy device, its keys read-only and smaller: conf/all governs, left alone
    (lines("1", "2", "0", dev=("vip0", "0", "0", "0")), "vip0", False, {}, 0, 2),
    # ... and conf/all wrong and writable: written, so the device's smaller value is still left
    (lines("0", "0", "1", dev=("vip0", "0", "0", "0")), "vip0", False,
     {"net/ipv4/conf/all/arp_ignore": 1, "net/ipv4/conf/all/arp_announce": 2}, 0, 2),
    # a device value larger than wanted and read-only: the kernel would use it, refused
    (lines("1", "2", "0", dev=("vip0", "8", "2", "0")), "vip0", False, {}, 1, 0),
    # a dummy device on a host: its keys written too
    (lines("1", "2", "1", dev=("vip0", "0", "0", "1")), "vip0", False,
     {"net/ipv4/conf/vip0/arp_ignore": 1, "net/ipv4/conf/vip0/arp_announce": 2}, 0, 0),
    # lo's own keys are not the role's
    (lines("1", "2", dev=("lo", "0", "0", "1")), "lo", False, {}, 0, 0),
    # absent: back to 0 where writable; read-only is left, never refused
    (lines("1", "2"), "lo", True, {"net/ipv4/conf/all/arp_ignore": 0, "net/ipv4/conf/all/arp_announce": 0}, 0, 0),
    (lines("1", "2", "0"), "lo", True, {}, 0, 2),
    (lines(), "lo", True, {}, 0, 0),
    # absent on a host without IPv4 keys: nothing
    ([], "lo", True, {}, 0, 0),
], ids=lambda v: repr(v)[:60])
def test_sysctl_plan(read, device, absent, write, refused, left):
    wanted = {"arp_ignore": 0, "arp_announce": 0} if absent else WANTED
    plan = sysctl_plan(read, "web1", device, wanted, absent)
    assert {w["key"]: w["value"] for w in plan["write"]} == write
    assert len(plan["refused"]) == refused, plan["refused"]
    assert len(plan["left"]) == left, plan["left"]


def test_a_refusal_says_what_to_do():
    (msg,) = sysctl_plan(lines("0", "2", "0"), "web1", "lo", WANTED)["refused"]
    assert msg.startswith("net/ipv4/conf/all/arp_ignore is 0 on web1; lvs_real_server needs 1")
    assert "podman run --sysctl net.ipv4.conf.all.arp_ignore=1" in msg


def test_a_device_not_made_yet_is_missing_not_refused():
    plan = sysctl_plan(lines("1", "2"), "web1", "vip0", WANTED)
    assert plan["missing"] == ["net/ipv4/conf/vip0/arp_ignore", "net/ipv4/conf/vip0/arp_announce"]
    assert plan["refused"] == [] and plan["write"] == []


def test_no_ipv4_keys_is_refused_when_present():
    assert len(sysctl_plan([], "web1", "lo", WANTED)["refused"]) == 2


def test_unreadable_output_is_an_error():
    with pytest.raises(ValueError, match="KEY VALUE WRITABLE"):
        sysctl_plan(["garbage"], "web1", "lo", WANTED)
