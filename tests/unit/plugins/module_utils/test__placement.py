# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement verdicts from tables: instance lists in the shape of
halb.pair.keepalived_instances (docs/design.md) and vip_info results per host."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.module_utils._placement import (
    PlacementError,
    drain_blockers,
    failing,
    judge,
    judge_lvs,
    node_view,
    render,
    render_lvs,
    summary,
)

A, B = "198.51.100.100", "198.51.100.101"


def instance(name, vrid, master, vips, nodes=("lb1", "lb2"), preempt=True):
    prios = {h: 100 - 10 * i for i, h in enumerate(n for n in nodes if n != master)}
    prios[master] = 150
    return {
        "name": name,
        "vrid": vrid,
        "master": master,
        "preempt": preempt,
        "advert_int": 1.0,
        "version": 2,
        "vips": [{"address": v, "prefix": 24, "cidr": f"{v}/24", "dev": "eth0", "label": "eth0:1"} for v in vips],
        "nodes": [
            {"host": h, "state": "MASTER" if h == master else "BACKUP", "priority": prios[h], "interface": "eth0"} for h in nodes
        ],
    }


def report(held=(), drained=False, nginx=True, running=True):
    return {
        "changed": False,
        "held_vips": list(held),
        "source": "json",
        "drain": {"value": -253 if drained else 0, "drained": drained, "status": "drained" if drained else "active"},
        "nginx": {"healthy": nginx, "status": 200 if nginx else 502, "latency_ms": 1.0, "node": "x"},
        "keepalived": {"running": running, "version": "2.2.7"},
        "instances": [],
    }


SINGLE = [instance("VI_1", 55, "lb1", [A])]
DUAL = [instance("VI_1", 55, "lb1", [A]), instance("VI_2", 56, "lb2", [B])]

CASES = [
    # id, instances, reports, expected [(vip, holders, verdict, expected holder)]
    ("single ok", SINGLE, {"lb1": report([A]), "lb2": report()}, [(A, ["lb1"], "ok", "lb1")]),
    ("split brain", SINGLE, {"lb1": report([A]), "lb2": report([A])}, [(A, ["lb1", "lb2"], "split_brain", "lb1")]),
    ("orphan", SINGLE, {"lb1": report(), "lb2": report()}, [(A, [], "orphan", "lb1")]),
    ("unknown: lb1 silent, lb2 holds nothing", SINGLE, {"lb2": report()}, [(A, [], "unknown", "lb2")]),
    ("unknown when lb1 failed", SINGLE, {"lb1": {"failed": True, "msg": "boom"}, "lb2": report()}, [(A, [], "unknown", "lb2")]),
    ("lb1 silent, lb2 holds: ok", SINGLE, {"lb2": report([A])}, [(A, ["lb2"], "ok", "lb2")]),
    ("misplaced", SINGLE, {"lb1": report(), "lb2": report([A])}, [(A, ["lb2"], "misplaced", "lb1")]),
    # a drain is a state to come back from: never ok, so a forgotten one alerts
    ("drained master, backup holds", SINGLE, {"lb1": report(drained=True), "lb2": report([A])}, [(A, ["lb2"], "drained", "lb2")]),
    ("drained master still holds", SINGLE, {"lb1": report([A], drained=True), "lb2": report()}, [(A, ["lb1"], "drained", "lb2")]),
    ("drained backup: no failover left", SINGLE, {"lb1": report([A]), "lb2": report(drained=True)}, [(A, ["lb1"], "drained", "lb1")]),
    # the holder's nginx fails its check: clients reach a broken balancer
    ("nginx down on the holder", SINGLE, {"lb1": report([A], nginx=False), "lb2": report()}, [(A, ["lb1"], "unhealthy_holder", "lb2")]),
    ("nginx down everywhere", SINGLE, {"lb1": report([A], nginx=False), "lb2": report(nginx=False)},
     [(A, ["lb1"], "unhealthy_holder", None)]),
    ("keepalived stopped on the holder", SINGLE, {"lb1": report([A], running=False), "lb2": report()},
     [(A, ["lb1"], "unhealthy_holder", "lb2")]),
    ("an unhealthy holder before a drain", SINGLE, {"lb1": report(drained=True), "lb2": report([A], nginx=False)},
     [(A, ["lb2"], "unhealthy_holder", None)]),
    ("nginx down on master", SINGLE, {"lb1": report(nginx=False), "lb2": report([A])}, [(A, ["lb2"], "ok", "lb2")]),
    ("keepalived stopped on master", SINGLE, {"lb1": report(running=False), "lb2": report([A])}, [(A, ["lb2"], "ok", "lb2")]),
    (
        "nopreempt",
        [instance("VI_1", 55, "lb1", [A], preempt=False)],
        {"lb1": report(), "lb2": report([A])},
        [(A, ["lb2"], "ok", "lb1")],
    ),
    (
        "dual master ok",
        DUAL,
        {"lb1": report([A]), "lb2": report([B])},
        [(A, ["lb1"], "ok", "lb1"), (B, ["lb2"], "ok", "lb2")],
    ),
    (
        "dual master, lb1 drained holds nothing",
        DUAL,
        {"lb1": report(drained=True), "lb2": report([A, B])},
        [(A, ["lb2"], "drained", "lb2"), (B, ["lb2"], "drained", "lb2")],
    ),
    (
        "dual master, split brain on one VIP only",
        DUAL,
        {"lb1": report([A, B]), "lb2": report([B])},
        [(A, ["lb1"], "ok", "lb1"), (B, ["lb1", "lb2"], "split_brain", "lb2")],
    ),
    (
        "three nodes: expected is the next priority",
        [instance("VI_1", 55, "lb1", [A], nodes=("lb1", "lb2", "lb3"))],
        {"lb1": report(drained=True), "lb2": report(nginx=False), "lb3": report([A])},
        [(A, ["lb3"], "drained", "lb3")],
    ),
    (
        "a host outside the instance holding the VIP counts",
        SINGLE,
        {"lb1": report([A]), "lb2": report(), "lb3": report([A])},
        [(A, ["lb1", "lb3"], "split_brain", "lb1")],
    ),
    (
        "VIP given as plain strings, held as CIDR",
        [dict(instance("VI_1", 55, "lb1", []), vips=["198.51.100.100/24"])],
        {"lb1": report(["198.51.100.100/24"]), "lb2": report()},
        [(A, ["lb1"], "ok", "lb1")],
    ),
    (
        "nginx not checked counts as healthy",
        SINGLE,
        {"lb1": dict(report(), nginx={"healthy": None}), "lb2": report([A])},
        [(A, ["lb2"], "misplaced", "lb1")],
    ),
]


@pytest.mark.parametrize(("instances", "reports", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_judge(instances, reports, expected):
    result = judge(instances, reports)
    assert [(p["vip"], p["holders"], p["verdict"], p["expected"]) for p in result] == expected


# (case, reports, verdict, words the WHY column must hold)
REASONS = [
    ("unhealthy holder", {"lb1": report([A], nginx=False), "lb2": report()}, "unhealthy_holder",
     ["on lb1", "nginx fails its health check"]),
    ("stale holder", {"lb1": report([A], running=False), "lb2": report()}, "unhealthy_holder", ["on lb1", "keepalived is not running"]),
    ("drained master", {"lb1": report(drained=True), "lb2": report([A])}, "drained",
     ["lb1 drained", "not on its preferred master lb1", "failover.yml -e node=lb1 -e restore=true"]),
    ("drained backup", {"lb1": report([A]), "lb2": report(drained=True)}, "drained", ["lb2 drained", "on its preferred master"]),
]


@pytest.mark.parametrize(("reports", "verdict", "words"), [c[1:] for c in REASONS], ids=[c[0] for c in REASONS])
def test_the_reason_says_what_is_wrong(reports, verdict, words):
    (p,) = judge(SINGLE, reports)
    assert p["verdict"] == verdict
    for w in words:
        assert w in p["reason"]
    assert verdict.upper() in "\n".join(render([p]))


def test_new_verdicts_alert_but_do_not_fail_by_default():
    placements = judge(DUAL, {"lb1": report([A], nginx=False), "lb2": report([B], drained=True)})
    assert [p["verdict"] for p in placements] == ["unhealthy_holder", "drained"]
    assert failing(placements) == []
    assert "unhealthy_holder: VIP" in summary(placements) and "drained: VIP" in summary(placements)
    assert [p["verdict"] for p in failing(placements, ["drained", "unhealthy_holder"])] == ["unhealthy_holder", "drained"]


def test_judge_lists_unreachable_and_reason():
    (p,) = judge(SINGLE, {"lb2": report()})
    assert p["unreachable"] == ["lb1"]
    assert "lb1" in p["reason"]
    assert p["preferred"] == "lb1"
    assert p["instance"] == "VI_1"
    assert p["vrid"] == 55
    assert p["cidr"] == "198.51.100.100/24"


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ({"name": "VI_1"}, "expected the list"),
        (["VI_1"], "with a name"),
        ([{"name": "VI_1", "vips": [A]}], "nodes list"),
        ([{"name": "VI_1", "vips": [A], "nodes": ["lb1"]}], "per node"),
        ([{"name": "VI_1", "vips": [], "nodes": [{"host": "lb1"}]}], "vips list"),
        ([{"name": "VI_1", "vips": [{"prefix": 24}], "nodes": [{"host": "lb1"}]}], "VIP as a string"),
        ([{"name": "VI_1", "vips": ["lb-vip"], "nodes": [{"host": "lb1"}]}], "expected an IP address"),
    ],
)
def test_judge_rejects_bad_instances(instances, message):
    with pytest.raises(PlacementError, match=message):
        judge(instances, {})


def test_node_view_rejects_foreign_result():
    with pytest.raises(PlacementError, match="held_vips"):
        node_view({"changed": False, "stdout": ""})


@pytest.mark.parametrize("value", [None, {}, {"failed": True}, {"unreachable": True}])
def test_node_view_silent(value):
    assert node_view(value) is None


def test_failing_and_summary():
    placements = judge(DUAL, {"lb1": report([A, B]), "lb2": report([B])})
    assert [p["vip"] for p in failing(placements)] == [B]
    assert failing(placements, ["ok"])[0]["vip"] == A
    text = summary(placements)
    assert text.startswith("split_brain: VIP 198.51.100.101 (VI_2) held by lb1, lb2")
    assert "198.51.100.100" not in text
    assert summary(judge(SINGLE, {"lb1": report([A]), "lb2": report()})) == "all VIPs ok"


def test_failing_rejects_unknown_verdict():
    with pytest.raises(PlacementError, match="expected verdicts"):
        failing([], ["fine"])


def test_render_table_and_nodes():
    reports = {"lb1": report([A]), "lb2": report(), "lb3": {"failed": True, "msg": "ssh: connect refused"}}
    lines = render(judge(SINGLE, reports), reports)
    assert lines[0].split() == ["VIP", "INSTANCE", "VRID", "PREFERRED", "HOLDERS", "VERDICT", "WHY"]
    assert lines[1].split()[:6] == ["198.51.100.100/24", "VI_1", "55", "lb1", "lb1", "ok"]
    assert lines[2] == ""
    assert lines[3].split()[0] == "NODE"
    assert any(line.startswith("lb3") and "no answer" in line for line in lines)
    # Columns line up: the verdict column starts at the same offset on every row.
    assert lines[0].index("VERDICT") == lines[1].index("ok")


def test_render_upper_cases_problems():
    lines = render(judge(SINGLE, {"lb1": report([A]), "lb2": report([A])}))
    assert "SPLIT_BRAIN" in lines[1]
    assert len(lines) == 2


BLOCKER_CASES = [
    ("healthy peer", SINGLE, {"lb1": report([A]), "lb2": report()}, "lb1", []),
    ("peer silent", SINGLE, {"lb1": report([A])}, "lb1", ["VI_1 (198.51.100.100): no healthy peer of lb1 to take over (peers: lb2)"]),
    ("peer drained", SINGLE, {"lb1": report([A]), "lb2": report(drained=True)}, "lb1", ["VI_1"]),
    ("peer nginx down", SINGLE, {"lb1": report([A]), "lb2": report(nginx=False)}, "lb1", ["VI_1"]),
    ("peer keepalived stopped", SINGLE, {"lb1": report([A]), "lb2": report(running=False)}, "lb1", ["VI_1"]),
    ("draining the backup is safe when the master is healthy", SINGLE, {"lb1": report([A]), "lb2": report()}, "lb2", []),
    ("dual master, the other node drained", DUAL, {"lb1": report(drained=True), "lb2": report([A, B])}, "lb2", ["VI_1", "VI_2"]),
    ("dual master, healthy peer", DUAL, {"lb1": report([A]), "lb2": report([B])}, "lb2", []),
    ("unknown node", SINGLE, {"lb1": report([A])}, "lb9", ["lb9 is a node of no instance"]),
]


@pytest.mark.parametrize(("instances", "reports", "node", "expected"), [c[1:] for c in BLOCKER_CASES], ids=[c[0] for c in BLOCKER_CASES])
def test_drain_blockers(instances, reports, node, expected):
    reasons = drain_blockers(instances, reports, node)
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected, strict=True):
        assert reason.startswith(start)


# --------------------------------------------------------------------------- a node leaving the pair

THREE = [instance("VI_1", 55, "lb1", [A], nodes=("lb1", "lb2", "lb3")), instance("VI_2", 56, "lb2", [B], nodes=("lb1", "lb2", "lb3"))]
GONE = report(running=False)  # what vip_info says of a node after leave.yml: keepalived stopped, nothing held

LEAVING_CASES = [
    # id, instances, reports, leaving, expected [(vip, holders, verdict, preferred, nodes)]
    ("the peer holds both: ok, preferred on it", DUAL, {"lb1": GONE, "lb2": report([A, B])}, ["lb1"],
     [(A, ["lb2"], "ok", "lb2", ["lb2"]), (B, ["lb2"], "ok", "lb2", ["lb2"])]),
    ("a VIP the leaving node still holds beside the peer: split brain", DUAL,
     {"lb1": report([A], running=False), "lb2": report([A, B])}, ["lb1"],
     [(A, ["lb2", "lb1"], "split_brain", "lb2", ["lb2"]), (B, ["lb2"], "ok", "lb2", ["lb2"])]),
    ("held only by the leaving node: a stale address", DUAL, {"lb1": report([A], running=False), "lb2": report([B])}, ["lb1"],
     [(A, ["lb1"], "unhealthy_holder", "lb2", ["lb2"]), (B, ["lb2"], "ok", "lb2", ["lb2"])]),
    ("held by no remaining node: orphan", DUAL, {"lb1": GONE, "lb2": report([B])}, ["lb1"],
     [(A, [], "orphan", "lb2", ["lb2"]), (B, ["lb2"], "ok", "lb2", ["lb2"])]),
    ("three nodes: the remaining node of highest priority is preferred", THREE,
     {"lb1": GONE, "lb2": report([A, B]), "lb3": report()}, ["lb1"],
     [(A, ["lb2"], "ok", "lb2", ["lb2", "lb3"]), (B, ["lb2"], "ok", "lb2", ["lb2", "lb3"])]),
    ("three nodes: on the lower remaining node while the higher is healthy: misplaced", THREE,
     {"lb1": GONE, "lb2": report([B]), "lb3": report([A])}, ["lb1"],
     [(A, ["lb3"], "misplaced", "lb2", ["lb2", "lb3"]), (B, ["lb2"], "ok", "lb2", ["lb2", "lb3"])]),
    ("a leaving node that does not answer is not waited for", DUAL, {"lb2": report([A, B])}, ["lb1"],
     [(A, ["lb2"], "ok", "lb2", ["lb2"]), (B, ["lb2"], "ok", "lb2", ["lb2"])]),
    ("no node leaving: judged as ever", DUAL, {"lb1": report([A]), "lb2": report([B])}, [],
     [(A, ["lb1"], "ok", "lb1", ["lb1", "lb2"]), (B, ["lb2"], "ok", "lb2", ["lb1", "lb2"])]),
]


@pytest.mark.parametrize(("instances", "reports", "leaving", "expected"), [c[1:] for c in LEAVING_CASES], ids=[c[0] for c in LEAVING_CASES])
def test_judge_the_remaining_nodes(instances, reports, leaving, expected):
    got = [(p["vip"], p["holders"], p["verdict"], p["preferred"], p["nodes"]) for p in judge(instances, reports, leaving)]
    assert got == expected


def test_an_instance_with_no_node_left_is_an_orphan_whoever_holds_it():
    alone = [instance("VI_9", 59, "lb1", [A], nodes=("lb1",))]
    (p,) = judge(alone, {"lb1": report([A], running=False), "lb2": report()}, ["lb1"])
    assert (p["verdict"], p["holders"], p["nodes"], p["preferred"]) == ("orphan", ["lb1"], [], None)
    assert p["reason"] == "no node of this instance is left in the pair (still on lb1: a stale address)"
    (p,) = judge(alone, {"lb1": GONE}, ["lb1"])
    assert (p["verdict"], p["reason"]) == ("orphan", "no node of this instance is left in the pair")


# --- LVS: virtual servers on the director that forwards them ----------------------------

VS_ADDR, VS6 = "198.51.100.140", "2001:db8::140"


def real(address, weight, port=8080, forward="Route", active=0, inactive=0):
    return {"address": address, "port": port, "forward": forward, "weight": weight, "active": active, "inactive": inactive}


def vserver(address=VS_ADDR, port=8080, reals=(), protocol="TCP", fwmark=None, scheduler="rr"):
    return {"protocol": protocol, "address": address, "port": port, "fwmark": fwmark, "scheduler": scheduler,
            "flags": [], "persistent": None, "real_servers": list(reals)}


def director(virtual_servers, addresses=("198.51.100.31/24",), held=()):
    """A vip_info result of an LVS director: its global addresses, the VIPs it holds, its IPVS table."""
    return dict(report(held), addresses={"eth0": list(addresses)}, virtual_servers=virtual_servers)


HOLDS = ("198.51.100.31/24", f"{VS_ADDR}/24")
ONE_LIVE = [real("198.51.100.63", 1), real("198.51.100.64", 0)]
ALL_ZERO = [real("198.51.100.63", 0), real("198.51.100.64", 0)]

LVS_CASES = [
    # id, reports, expected [(node, virtual server, verdict)]
    ("the holder with a live real server: ok", {"lvs1": director([vserver(reals=ONE_LIVE)], HOLDS)},
     [("lvs1", "TCP 198.51.100.140:8080", "ok")]),
    ("the holder, every real server at weight 0", {"lvs1": director([vserver(reals=ALL_ZERO)], HOLDS)},
     [("lvs1", "TCP 198.51.100.140:8080", "lvs_no_live_real_server")]),
    ("the holder, no real server at all", {"lvs1": director([vserver()], HOLDS)},
     [("lvs1", "TCP 198.51.100.140:8080", "lvs_no_live_real_server")]),
    # the backup director keeps the same table and forwards nothing: shown, not judged
    ("the backup director is not judged", {"lvs1": director([vserver(reals=ONE_LIVE)], HOLDS), "lvs2": director([vserver(reals=ALL_ZERO)])},
     [("lvs1", "TCP 198.51.100.140:8080", "ok")]),
    ("held as a VIP of an instance (held_vips) counts too", {"lvs1": director([vserver()], held=[VS_ADDR])},
     [("lvs1", "TCP 198.51.100.140:8080", "lvs_no_live_real_server")]),
    ("IPv6, the address spelt differently by ip and the kernel",
     {"lvs1": director([vserver(VS6, 80, [real("2001:db8::63", 0, 80)])], ("2001:DB8:0::140/64",))},
     [("lvs1", "TCP [2001:db8::140]:80", "lvs_no_live_real_server")]),
    ("only the virtual servers whose address the node holds",
     {"lvs1": director([vserver(reals=ONE_LIVE), vserver("198.51.100.141", 53, protocol="UDP")], HOLDS)},
     [("lvs1", "TCP 198.51.100.140:8080", "ok")]),
    ("a fwmark service has no address: not judged", {"lvs1": director([vserver(None, None, protocol="FWM", fwmark=1)], HOLDS)}, []),
    ("no ip_vs (null), empty table, silent node, a vip_info before virtual_servers",
     {"a": director(None, HOLDS), "b": director([], HOLDS), "c": {"failed": True, "msg": "boom"}, "d": report([VS_ADDR])}, []),
]


@pytest.mark.parametrize(("reports", "expected"), [c[1:] for c in LVS_CASES], ids=[c[0] for c in LVS_CASES])
def test_judge_lvs(reports, expected):
    assert [(v["node"], v["virtual_server"], v["verdict"]) for v in judge_lvs(reports)] == expected


REASON_CASES = [
    ("all weight 0", ALL_ZERO, "no real server has weight > 0 (2, all at weight 0)"),
    ("none", (), "no real server has weight > 0 (it has none)"),
]


@pytest.mark.parametrize(("reals", "words"), [c[1:] for c in REASON_CASES], ids=[c[0] for c in REASON_CASES])
def test_the_lvs_reason_says_what_is_wrong(reals, words):
    [v] = judge_lvs({"lvs1": director([vserver(reals=reals)], HOLDS)})
    assert words in v["reason"] and (v["vip"], v["port"]) == (VS_ADDR, 8080)
    line = summary([v])
    assert line.startswith("lvs_no_live_real_server: LVS TCP 198.51.100.140:8080 on lvs1") and words in line


def test_the_lvs_verdict_can_be_asked_to_fail_and_does_not_by_default():
    verdicts = judge_lvs({"lvs1": director([vserver()], HOLDS)})
    assert failing(verdicts) == []
    assert [v["verdict"] for v in failing(verdicts, ["lvs_no_live_real_server"])] == ["lvs_no_live_real_server"]


RENDER_LVS_CASES = [
    ("no node with virtual servers: no line", {"lb1": report([A]), "lb2": director(None), "lb3": director([])}, []),
    (
        "one line per virtual server, the node first, a flagged one ends with its verdict",
        {"lvs1": director([vserver(reals=[real("198.51.100.63", 1, inactive=2), real("198.51.100.64", 0)]),
                           vserver("198.51.100.140", 53, protocol="UDP")], HOLDS),
         "lvs10": director([vserver(reals=ALL_ZERO)])},
        [
            "lvs1   TCP 198.51.100.140:8080 rr  real 198.51.100.63:8080 Route w1 act 0 inact 2; 198.51.100.64:8080 Route w0 act 0 inact 0",
            "lvs1   UDP 198.51.100.140:53 rr  real none  LVS_NO_LIVE_REAL_SERVER",
            # the backup's table, every real server at weight 0: shown, not flagged (it forwards nothing)
            "lvs10  TCP 198.51.100.140:8080 rr  real 198.51.100.63:8080 Route w0 act 0 inact 0; 198.51.100.64:8080 Route w0 act 0 inact 0",
        ],
    ),
]


@pytest.mark.parametrize(("reports", "expected"), [c[1:] for c in RENDER_LVS_CASES], ids=[c[0] for c in RENDER_LVS_CASES])
def test_render_lvs(reports, expected):
    assert render_lvs(reports, judge_lvs(reports)) == expected
