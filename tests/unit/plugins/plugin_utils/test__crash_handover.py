"""The crash hand-over's configuration from the pair model.

Expected values by hand: wait = MDI of the lowest-priority peer + one advert interval,
MDI = 3 A + (256 - p) A / 256 (KEEPALIVED.md); addresses from the facts below."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_advert
from ansible_collections.halb.pair.plugins.plugin_utils import _crash_handover as ch
from ansible_collections.halb.pair.plugins.plugin_utils import _pair


def facts(address, iface="eth0"):
    return {"ansible_facts": {"interfaces": [iface], iface: {"ipv4": {"address": address, "netmask": "255.255.255.0"}}}}


def pair(n=2, **group):
    hosts = [f"lb{i + 1}" for i in range(n)]
    hv = {h: {**group, **facts(f"198.51.100.{11 + i}")} for i, h in enumerate(hosts)}
    addresses = {h: _pair.address_of(hv[h]) for h in hosts}
    return _pair.model(hosts, hv, addresses=addresses)


def test_single_pair_v2_with_password():
    c = ch.config(pair(keepalived_vips=["198.51.100.110/24"]), "lb1", "s3cret")
    (i,) = c["instances"]
    assert i == {
        "name": "VI_1",
        "vrid": 55,
        "version": 2,
        "advert_int": 1.0,
        "interface": "eth0",
        "source": "198.51.100.11",
        # the single topology's default label, the guide's eth0:1
        "vips": [{"address": "198.51.100.110", "cidr": "198.51.100.110/24", "dev": "eth0", "label": "eth0:1"}],
        "auth_pass": "s3cret",
        "unicast_peers": [],
    }
    assert c["peers"] == [{"host": "lb2", "health_url": "http://198.51.100.12:8081/healthz"}]
    assert c["state_dir"] == "/var/lib/halb-pair/state"
    assert c["wait"] == round(3 + 156 / 256 + 1, 3)  # peer lb2 at 100
    assert c["skipped"] == []


def test_the_backup_waits_for_the_master_priority():
    # lb2's peer for VI_1 is lb1 at 150: MDI 3 + 106/256, + 1 s
    assert ch.config(pair(keepalived_vips=["198.51.100.110/24"]), "lb2")["wait"] == round(3 + 106 / 256 + 1, 3)


def test_dual_master_lists_both_instances():
    c = ch.config(pair(keepalived_topology="dual_master", keepalived_vips=["198.51.100.120/24", "198.51.100.121/24"]), "lb1")
    assert [(i["name"], i["vrid"], [v["address"] for v in i["vips"]]) for i in c["instances"]] == [
        ("VI_1", 55, ["198.51.100.120"]),
        ("VI_2", 56, ["198.51.100.121"]),
    ]


def test_fast_profile_v3_drops_the_password():
    c = ch.config(pair(keepalived_profile="fast", keepalived_vips=["198.51.100.110/24"]), "lb1", "s3cret")
    (i,) = c["instances"]
    assert (i["version"], i["advert_int"], i["auth_pass"]) == (3, 0.1, None)
    assert c["wait"] == round(0.3 + 0.1 * 156 / 256 + 0.1, 3)


def test_unicast_peers_and_source():
    c = ch.config(pair(keepalived_unicast=True, keepalived_vips=["198.51.100.110/24"]), "lb1")
    (i,) = c["instances"]
    assert (i["source"], i["unicast_peers"]) == ("198.51.100.11", ["198.51.100.12"])


def test_three_nodes_wait_for_the_lowest_peer():
    c = ch.config(pair(3, keepalived_vips=["198.51.100.110/24"]), "lb1")
    assert c["wait"] == round(3 + (256 - 90) / 256 + 1, 3)  # the third node at 90
    assert [p["host"] for p in c["peers"]] == ["lb2", "lb3"]


def test_ipv6_instance_is_skipped():
    c = ch.config(pair(keepalived_vips=["2001:db8::110/64"], keepalived_vrrp_version=3), "lb1")
    assert c["instances"] == []
    assert [s["name"] for s in c["skipped"]] == ["VI_1"]


def test_unknown_source_address_is_an_error():
    hv = {"lb1": {"keepalived_vips": ["198.51.100.110/24"]}, "lb2": {"keepalived_vips": ["198.51.100.110/24"]}}
    with pytest.raises(ch.CrashHandoverError) as exc:
        ch.config(_pair.model(["lb1", "lb2"], hv), "lb1")
    assert "source address is unknown" in str(exc.value)


def test_unknown_host_is_an_error():
    with pytest.raises(ch.CrashHandoverError):
        ch.config(pair(keepalived_vips=["198.51.100.110/24"]), "lb9")


def test_a_password_the_script_refuses_fails_without_being_quoted():
    # the preflight refuses it first; this checks the script's own rule is applied too
    with pytest.raises(ch.CrashHandoverError) as exc:
        ch.config(pair(keepalived_vips=["198.51.100.110/24"]), "lb1", "ab#cdefg")
    assert "ab#cdefg" not in str(exc.value)


def test_result_is_what_the_script_loads():
    c = ch.config(pair(keepalived_vips=["198.51.100.110/24"]), "lb1", "s3cret")
    loaded = _vrrp_advert.load_config(c)
    assert loaded["instances"] == c["instances"] and loaded["wait"] == c["wait"]


def test_a_vip_label_is_passed_on():
    c = ch.config(pair(keepalived_vips=[{"address": "198.51.100.110/24", "label": "eth0:7"}]), "lb1")
    assert c["instances"][0]["vips"][0]["label"] == "eth0:7"
