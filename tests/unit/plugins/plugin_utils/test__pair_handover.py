"""The hand-over's configuration and the drain's timeout, from the pair model.

Expected values by hand: MDI = 3 A + (256 - p) A / 256 (KEEPALIVED.md); the health
endpoint at the peer's address and the nginx role's port and path."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _pair

SINGLE = {"keepalived_vips": ["198.51.100.100/24"]}


def facts(address, iface="eth0"):
    return {"ansible_facts": {"interfaces": [iface], iface: {"ipv4": {"address": address, "netmask": "255.255.255.0"}}}}


def hostvars(**group):
    return {"lb1": {**group, **facts("198.51.100.11")}, "lb2": {**group, **facts("198.51.100.12")}}


def test_node_address_from_facts_or_unicast_source():
    hv = hostvars(**SINGLE)
    hv["lb2"]["keepalived_unicast_src_ip"] = "198.51.100.62"
    p = _pair.model(["lb1", "lb2"], hv).as_dict()
    assert p["nodes"]["lb1"]["address"] == "198.51.100.11"
    assert p["nodes"]["lb2"]["address"] == "198.51.100.62"
    assert _pair.model(["lb1", "lb2"], {"lb1": dict(SINGLE), "lb2": dict(SINGLE)}).as_dict()["nodes"]["lb1"]["address"] is None


def test_handover_names_each_peer_at_its_address_with_its_health_endpoint():
    hv = hostvars(**SINGLE)
    hv["lb2"]["nginx_lb_health_port"] = 9000
    p = _pair.model(["lb1", "lb2"], hv)
    cfg = _pair.handover(p, "lb1", "/var/lib/halb-pair/handover", "/var/lib/halb-pair/nginx-down")
    assert cfg["vips"] == ["198.51.100.100"]
    assert cfg["peers"] == [{"host": "lb2", "health_url": "http://198.51.100.12:9000/healthz"}]
    assert (cfg["handover_file"], cfg["fault_file"]) == ("/var/lib/halb-pair/handover", "/var/lib/halb-pair/nginx-down")


def test_a_peer_without_a_known_address_is_left_out():
    hv = {"lb1": {**SINGLE, **facts("198.51.100.11")}, "lb2": dict(SINGLE)}
    assert _pair.handover(_pair.model(["lb1", "lb2"], hv), "lb1", "/h", "/f")["peers"] == []


@pytest.mark.parametrize(
    ("group", "timeout"),
    [
        # advert 1 s, backup 100: MDI 3.609375; 2 MDI + 1
        ({}, round(2 * (3 + 156 / 256) + 1, 2)),
        # VRRPv3, 0.1 s
        ({"keepalived_vrrp_version": 3, "keepalived_advert_int": 0.1}, round(2 * (0.3 + 156 * 0.1 / 256) + 1, 2)),
        # a preempt delay of 30 s is waited out too
        ({"keepalived_preempt_delay": 30}, round(2 * (3 + 156 / 256) + 30 + 1, 2)),
    ],
    ids=["advert-1", "fast", "preempt-delay"],
)
def test_handover_timeout(group, timeout):
    p = _pair.model(["lb1", "lb2"], hostvars(**SINGLE, **group))
    assert _pair.handover(p, "lb1", "/h", "/f")["timeout"] == timeout


def test_drain_timeout_waits_out_a_preempt_delay_and_is_never_below_20_s():
    plain = _pair.model(["lb1", "lb2"], hostvars(**SINGLE))
    assert _pair.drain_plan(plain, {}, "lb1", restore=True)["timeout"] == 20.0
    delayed = _pair.model(["lb1", "lb2"], hostvars(**SINGLE, keepalived_preempt_delay=60))
    assert _pair.drain_plan(delayed, {}, "lb1", restore=True)["timeout"] == round(2 * (3 + 156 / 256) + 60 + 1, 2)


def test_status_has_a_vrrp_guard_verdict_of_its_own():
    p = _pair.model(["lb1", "lb2"], hostvars(**SINGLE))

    def report(spoofed, guarded=True):
        r = {"held_vips": [], "keepalived": {"running": True}, "instances": [], "drain": {"drained": False}, "nginx": {"healthy": True}}
        if guarded:
            r["vrrp_guard"] = {"vrrp_spoofed": {"packets": spoofed, "bytes": 40 * spoofed}}
        return r

    ok = _pair.status(p, {"lb1": report(0), "lb2": report(0)})
    assert ok["vrrp_guard"]["verdict"] == "ok"
    attacked = _pair.status(p, {"lb1": report(24), "lb2": report(0)})
    assert attacked["vrrp_guard"]["verdict"] == "foreign_vrrp"
    assert "VRRP GUARD  FOREIGN_VRRP" in attacked["table"][-1] and "lb1: 24" in attacked["table"][-1]
    assert _pair.status_all([p], [{"lb1": report(24), "lb2": report(0)}])["foreign_vrrp"] == ["lb"]
    bare = _pair.status(p, {"lb1": report(0, guarded=False), "lb2": report(0)})
    assert bare["vrrp_guard"]["verdict"] == "unguarded"


def _guard_report(guarded=True):
    r = {"held_vips": ["198.51.100.100"], "keepalived": {"running": True}, "instances": [], "drain": {"drained": False}, "nginx": {"healthy": True}}
    if guarded:
        r["vrrp_guard"] = {"vrrp_spoofed": {"packets": 0, "bytes": 0}}
    return r


# (case, keepalived_vrrp_guard per node, lb1 has a table, guard verdict, the alert hook runs)
GUARD_ALERTS = [
    ("guard asked for (auto) and missing", {}, False, "unguarded", True),
    ("guard asked for (true) and missing", {"keepalived_vrrp_guard": True}, False, "unguarded", True),
    ("guard in place", {}, True, "ok", False),
    ("guard switched off and absent", {"keepalived_vrrp_guard": False}, False, "off", False),
    ("guard switched off by a string", {"keepalived_vrrp_guard": "false"}, False, "off", False),
]


@pytest.mark.parametrize(("guard", "lb1_guarded", "verdict", "alert"), [c[1:] for c in GUARD_ALERTS], ids=[c[0] for c in GUARD_ALERTS])
def test_a_missing_guard_that_is_configured_on_alerts(guard, lb1_guarded, verdict, alert):
    """unguarded used to neither alert nor fail: the placement was ok, and the hook ran only for foreign_vrrp."""
    p = _pair.model(["lb1", "lb2"], hostvars(**SINGLE, **guard))
    lb2 = _guard_report(guarded=lb1_guarded)
    whole = _pair.status_all([p], [{"lb1": _guard_report(guarded=lb1_guarded), "lb2": dict(lb2, held_vips=[])}])
    assert whole["problems"] == [] and whole["failing"] == []
    assert whole["vrrp_guard"]["lb"]["verdict"] == verdict
    assert whole["alert"] is alert
    assert whole["unguarded"] == (["lb"] if verdict == "unguarded" else [])
    if verdict == "unguarded":
        assert "VRRP GUARD  UNGUARDED" in whole["table"][-1] and "lb1" in whole["table"][-1]


def test_placement_problems_alert():
    p = _pair.model(["lb1", "lb2"], hostvars(**SINGLE))
    sick = dict(_guard_report(), nginx={"healthy": False})
    whole = _pair.status_all([p], [{"lb1": sick, "lb2": dict(_guard_report(), held_vips=[])}])
    assert [x["verdict"] for x in whole["problems"]] == ["unhealthy_holder"] and whole["failing"] == []
    assert whole["alert"] is True
