# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's judgement from tables: reports in vip_info's shape, what the segment
answered, hold times, starts and ends, the rate limit, and the metrics it exports.

Expected values are written by hand from the rules in _watch's docstring."""

from __future__ import annotations

import json
import re

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _watch, _watch_metrics
from ansible_collections.halb.pair.plugins.module_utils._watch import Problem, RateLimit, Tracker, observe
from ansible_collections.halb.pair.plugins.plugin_utils import _pair

A, B = "198.51.100.100", "198.51.100.101"
MAC_PEER, MAC_STRANGER = "02:00:00:00:00:12", "02:00:00:00:00:99"


def instance(name, vrid, master, vip, nodes=("lb1", "lb2")):
    return {"name": name, "vrid": vrid, "master": master, "preempt": True,
            "nodes": [{"host": h, "priority": 150 if h == master else 100} for h in nodes],
            "vips": [{"address": vip, "cidr": f"{vip}/24"}]}


DUAL = [instance("VI_1", 55, "lb1", A), instance("VI_2", 56, "lb2", B)]
CFG = {"node": "lb1", "instances": DUAL, "vips": [A, B], "interface": "eth0", "listen": "198.51.100.11", "port": 9654,
       "peers": {"lb2": "http://198.51.100.12:9654/state"}}


def report(held=(), drained=False, nginx=True, running=True):
    return {"held_vips": list(held), "keepalived": {"running": running},
            "drain": {"value": -253 if drained else 0, "drained": drained, "status": "drained" if drained else "active"},
            "nginx": {"healthy": nginx}, "instances": [], "vrrp_guard": {}, "vrrp_strangers": []}


OK_NODE = {"drained": False, "foreign": None, "guard_missing": False, "drift": []}

CASES = [
    # id, reports, segment (vip -> other MACs; None: not probed), node findings, expected {(kind, subject)}
    ("each VIP on its master", {"lb1": report([A]), "lb2": report([B])}, {A: [], B: [MAC_PEER]}, OK_NODE, set()),
    ("two reports hold A", {"lb1": report([A, B]), "lb2": report([A, B])}, {A: [MAC_PEER], B: [MAC_PEER]}, OK_NODE,
     {("split_brain", A), ("split_brain", B)}),
    # the peer's watcher is silent (or says it holds nothing): its MAC still answers for A
    ("the segment sees a second holder the reports do not", {"lb1": report([A]), "lb2": None}, {A: [MAC_PEER], B: [MAC_PEER]},
     OK_NODE, {("split_brain", A)}),
    ("a stranger answers for a VIP this node holds", {"lb1": report([A]), "lb2": report([B])}, {A: [MAC_STRANGER], B: [MAC_PEER]},
     OK_NODE, {("split_brain", A)}),
    ("nobody holds B and the peer is silent: the segment says orphan", {"lb1": report([A]), "lb2": None}, {A: [], B: []},
     OK_NODE, {("orphan", B)}),
    ("the peer is silent but answers ARP for B: no problem", {"lb1": report([A]), "lb2": None}, {A: [], B: [MAC_PEER]},
     OK_NODE, set()),
    ("not probed: the reports alone (unknown is no problem)", {"lb1": report([A]), "lb2": None}, None, OK_NODE, set()),
    ("both answer, nobody holds anything", {"lb1": report(), "lb2": report()}, {A: [], B: []}, OK_NODE,
     {("orphan", A), ("orphan", B)}),
    # a peer's report is its last reading: during a move it may show the VIP where it was
    ("a stale report of two holders, one on the segment", {"lb1": report([A]), "lb2": report([A, B])}, {A: [], B: [MAC_PEER]},
     OK_NODE, set()),
    ("a stale report of no holder, one on the segment", {"lb1": report(), "lb2": report([B])}, {A: [MAC_PEER], B: [MAC_PEER]},
     OK_NODE, set()),
    ("two other MACs answer for a VIP this node does not hold", {"lb1": report([A]), "lb2": report()},
     {A: [], B: [MAC_PEER, MAC_STRANGER]}, OK_NODE, {("split_brain", B)}),
    ("lb1 holds both although lb2 is healthy", {"lb1": report([A, B]), "lb2": report()}, {A: [], B: []}, OK_NODE,
     {("misplaced", B)}),
    ("lb1 holds A with a failing nginx", {"lb1": report([A], nginx=False), "lb2": report([B])}, {A: [], B: [MAC_PEER]},
     OK_NODE, {("unhealthy_holder", A)}),
    # a planned drain: the VIP on the peer is drained, not misplaced; the node's own problem waits for the bound
    ("lb1 drained", {"lb1": report(drained=True), "lb2": report([A, B])}, {A: [MAC_PEER], B: [MAC_PEER]},
     {**OK_NODE, "drained": True}, {("drained", "lb1")}),
    ("the node's own findings", {"lb1": report([A]), "lb2": report([B])}, {A: [], B: [MAC_PEER]},
     {"drained": False, "foreign": ["198.51.100.13"], "guard_missing": True, "drift": ["keepalived.conf"]},
     {("foreign_vrrp", "lb1"), ("guard_missing", "lb1"), ("config_drift", "keepalived.conf")}),
]


@pytest.mark.parametrize(("reports", "segment", "node", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_observe(reports, segment, node, expected):
    _placements, problems = observe(CFG, reports, segment, node)
    assert {(p.kind, p.subject) for p in problems} == expected


def test_the_segment_names_the_second_holder_and_counts_it():
    placements, problems = observe(CFG, {"lb1": report([A]), "lb2": None}, {A: [MAC_PEER], B: [MAC_PEER]}, OK_NODE)
    (p,) = [p for p in placements if p["vip"] == A]
    assert p["verdict"] == "split_brain" and MAC_PEER in p["reason"] and p["holders"] == ["lb1"]
    assert _watch.holders_seen(p, "lb1", [MAC_PEER]) == 2
    # a reporting peer and its MAC are one holder, not two
    (q,) = [p for p in observe(CFG, {"lb1": report([A]), "lb2": report([A])}, {A: [MAC_PEER]}, OK_NODE)[0] if p["vip"] == A]
    assert _watch.holders_seen(q, "lb1", [MAC_PEER]) == 2
    assert problems[0].reason.startswith(f"VIP {A} (VI_1): held by lb1 and answered on the segment by {MAC_PEER}")


def test_a_problem_counts_after_its_hold_and_ends_once():
    tr = Tracker({"split_brain": 1.0})
    sb = Problem("split_brain", A, "two holders")
    assert tr.update([sb], 100.0, "lb1") == []
    assert tr.update([sb], 100.5, "lb1") == []
    (start,) = tr.update([sb], 101.0, "lb1")
    assert (start["event"], start["since"], start["duration"]) == ("started", 100.0, 1.0)
    assert tr.update([sb], 101.5, "lb1") == [] and tr.problems() == [sb]
    (end,) = tr.update([], 103.0, "lb1")
    assert (end["event"], end["duration"]) == ("ended", 3.0)
    assert tr.update([], 103.5, "lb1") == [] and tr.problems() == []


def test_a_blip_shorter_than_its_hold_is_no_problem():
    # make-before-break: two holders for one reading, then one
    tr = Tracker({"split_brain": 1.0})
    sb = Problem("split_brain", A, "two holders")
    events = tr.update([sb], 10.0, "lb1") + tr.update([], 10.5, "lb1") + tr.update([sb], 11.0, "lb1") + tr.update([], 11.5, "lb1")
    assert events == []


def test_a_zero_hold_counts_at_once():
    (ev,) = Tracker({"foreign_vrrp": 0.0}).update([Problem("foreign_vrrp", "lb1", "x")], 5.0, "lb1")
    assert ev["event"] == "started" and ev["duration"] == 0.0


@pytest.mark.parametrize(("kind", "me", "answered", "expected"), [
    ("split_brain", "lb1", {"lb1", "lb2"}, True),
    ("split_brain", "lb2", {"lb1", "lb2"}, False),   # lb1 answers: it announces
    ("split_brain", "lb2", {"lb2"}, True),           # lb1 is silent: lb2 does
    ("orphan", "lb2", {"lb1", "lb2"}, False),
    ("config_drift", "lb2", {"lb1", "lb2"}, True),   # a node's own problem: the node
    ("drained", "lb2", {"lb1", "lb2"}, True),
])
def test_one_announcer_per_pair_problem(kind, me, answered, expected):
    assert _watch.announcer(kind, me, ["lb1", "lb2"], answered) is expected


def test_rate_limit_holds_back_and_says_so():
    rl = RateLimit(2, 60)
    assert [rl.allow(t) for t in (0, 1, 2, 3)] == [True, True, False, False]
    assert rl.take_suppressed() == 2 and rl.take_suppressed() == 0
    assert rl.allow(61) is True  # the window moved past the first message


def test_message_names_kind_subject_and_node_and_the_suppressed():
    ev = _watch.Event(event="started", kind="split_brain", subject=A, reason="VIP x: held by lb1, lb2", node="lb1",
                      since=0.0, at=1.0, duration=1.0)
    subject, body = _watch.message(ev, "lb", ["TABLE LINE"], suppressed=3)
    assert subject == f"[halb.pair lb] split_brain started: {A} (seen by lb1)"
    assert "held by lb1, lb2" in body and "TABLE LINE" in body and "3 alert(s) were held back" in body
    assert _watch.message({**ev, "event": "ended"}, "lb")[0].startswith("[halb.pair lb] split_brain ended")
    restored = {**ev, "event": "restored", "kind": "guard_missing", "subject": "lb1"}
    subject, body = _watch.message(restored, "lb")
    assert subject == "[halb.pair lb] guard_missing restored: lb1 (seen by lb1)" and "Put back at" in body


@pytest.mark.parametrize(("change", "error"), [
    ({}, None),
    ({"port": 0}, "expected port 1..65535"),
    ({"listen": "lb1"}, "expected listen to be an address"),
    ({"interval": 0.01}, "expected interval 0.1..10 s"),
    ({"hold": {"split_brian": 1}}, "expected hold as {kind: seconds}"),
    ({"hold": {"split_brain": -1}}, "expected hold.split_brain >= 0 s"),
    ({"hook": ["relative/cmd"]}, "expected hook as null or an argv list"),
    ({"mail": {"server": "198.51.100.30"}}, "expected mail as null or {server, port, from, to}"),
    ({"peers": []}, "expected peers as {node: state URL}"),
])
def test_check_config(change, error):
    errors = _watch.check_config({**CFG, **change})
    assert (errors == []) if error is None else any(e.startswith(error) for e in errors), errors
    assert _watch.check_config({k: v for k, v in CFG.items() if k != "vips"}) == ["expected the key 'vips'"]


def _parse(text):
    """The exposition parsed back: {(name, frozenset(labels)): value}, and every family's TYPE."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split()
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        assert m, line
        labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def test_metrics_of_a_split_brain_tick():
    placements, problems = observe(CFG, {"lb1": report([A]), "lb2": report([A, B])}, {A: [MAC_PEER], B: [MAC_PEER]}, OK_NODE)
    state = {"node": "lb1", "pair": "lb", "version": "0.2.0", "tick_at": 1700000000.5, "tick_seconds": 0.02,
             "report": {**report([A]), "instances": [{"name": "VI_1", "state": "MASTER", "effective_priority": 150},
                                                     {"name": "VI_2", "state": "BACKUP", "effective_priority": 100}],
                        "vrrp_guard": {"vrrp_peer": {"packets": 7, "bytes": 280}}},
             "placements": placements, "problems": problems, "segment": {A: [MAC_PEER], B: [MAC_PEER]},
             "transitions": {"VI_1": 2}, "drift": [], "drift_files": ["keepalived.conf"], "peers_up": {"lb2": True},
             "alerts": {("mail", "sent"): 1}, "guard_loaded": True, "guard_wanted": True}
    samples, types = _parse(_watch_metrics.render(_watch.samples(state)))
    assert samples[("halb_vrrp_state", frozenset({("vrrp_instance", "VI_1")}))] == 2
    assert samples[("halb_vrrp_state", frozenset({("vrrp_instance", "VI_2")}))] == 1
    assert samples[("halb_vip_held", frozenset({("vip", A), ("vrrp_instance", "VI_1")}))] == 1
    assert samples[("halb_vip_held", frozenset({("vip", B), ("vrrp_instance", "VI_2")}))] == 0
    assert samples[("halb_vip_holders", frozenset({("vip", A), ("vrrp_instance", "VI_1")}))] == 2
    assert samples[("halb_problem", frozenset({("kind", "split_brain"), ("subject", A)}))] == 1
    # every kind has its count, zero included, so that a rule or panel never sees "no data"
    assert {dict(k[1])["kind"] for k in samples if k[0] == "halb_problems"} == set(_watch_metrics.KINDS)
    assert samples[("halb_problems", frozenset({("kind", "orphan")}))] == 0
    assert samples[("halb_guard_packets_total", frozenset({("counter", "vrrp_peer")}))] == 7
    assert samples[("halb_alerts_total", frozenset({("channel", "mail"), ("result", "sent")}))] == 1
    assert samples[("halb_watch_last_tick_timestamp_seconds", frozenset())] == 1700000000.5
    assert types["halb_vrrp_transitions_total"] == "counter" and types["halb_vip_held"] == "gauge"


def test_render_refuses_an_unknown_name_or_wrong_labels():
    with pytest.raises(ValueError, match="expected a metric of METRICS"):
        _watch_metrics.render([("halb_nope", {}, 1)])
    with pytest.raises(ValueError, match="expected the labels"):
        _watch_metrics.render([("halb_vip_held", {"vip": A}, 1)])


def test_label_values_are_escaped():
    text = _watch_metrics.render([("halb_problem", {"kind": "config_drift", "subject": 'a"b\\c\nd'}, 1)])
    assert 'subject="a\\"b\\\\c\\nd"' in text


def test_no_label_is_instance_or_job():
    # Prometheus gives every scraped series instance and job itself
    assert not [n for n, m in _watch_metrics.METRICS.items() if {"instance", "job"} & set(m.labels)]


def facts(address, iface="eth0"):
    return {"ansible_facts": {"interfaces": [iface], iface: {"ipv4": {"address": address, "netmask": "255.255.255.0"}}}}


def test_the_watchers_configuration_from_the_pair_model_has_no_secret():
    group = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"],
             "keepalived_auth_pass": "s3cr3tpw"}
    hv = {"lb1": {**group, **facts("198.51.100.11")}, "lb2": {**group, **facts("198.51.100.12")}}
    cfg = _pair.watch(_pair.model(["lb1", "lb2"], hv), "lb1", {"port": 9700, "mail": None, "hook": None})
    assert "s3cr3tpw" not in json.dumps(cfg)
    assert cfg["listen"] == "198.51.100.11" and cfg["peers"] == {"lb2": "http://198.51.100.12:9700/state"}
    assert [i["name"] for i in cfg["instances"]] == ["VI_1", "VI_2"] and cfg["vips"] == [A, B]
    assert cfg["order"] == ["lb1", "lb2"] and _watch.check_config(cfg) == []


def test_a_node_without_an_address_is_refused_by_name():
    hv = {"lb1": {"keepalived_vips": ["198.51.100.100/24"]}, "lb2": {"keepalived_vips": ["198.51.100.100/24"]}}
    with pytest.raises(_pair.PairError, match="keepalived_watch on lb1: expected the node's address"):
        _pair.watch(_pair.model(["lb1", "lb2"], hv), "lb1", {})


def test_settling_after_keepalived_starts_anywhere_in_the_pair_not_after_it_stops():
    s = _watch.Settle(8.0, now=0.0)
    assert s.update({"lb1": 100, "lb2": 200}, 1.0) is True     # the watcher itself just started
    assert s.update({"lb1": 100, "lb2": 200}, 9.0) is False
    assert s.update({"lb1": None, "lb2": 200}, 9.0) is False    # lb1 stopped (or its watcher is silent): no settling
    assert s.update({"lb1": 101, "lb2": 200}, 20.0) is True     # lb1's keepalived back with a new PID (a reboot)
    assert s.update({"lb1": 101, "lb2": 200}, 27.9) is True and s.update({"lb1": 101, "lb2": 200}, 28.0) is False
    assert s.update({"lb1": 101, "lb2": None}, 30.0) is False   # lb2's watcher silent a moment ...
    assert s.update({"lb1": 101, "lb2": 200}, 31.0) is False    # ... and back with the same keepalived
    assert s.update({"lb1": 101, "lb2": 201}, 40.0) is True     # the peer restarted keepalived
    # a peer first heard of (down when this watcher started, booting now) is a start
    assert s.update({"lb1": 101, "lb2": 201, "lb3": 300}, 60.0) is True


def test_a_pending_problem_is_read_again_when_its_hold_ends():
    tr = Tracker({"split_brain": 0.5, "misplaced": 60.0})
    assert tr.due() is None
    tr.update([Problem("split_brain", A, "x"), Problem("misplaced", B, "y")], 10.0, "lb1")
    assert tr.due() == 10.5
    tr.update([Problem("split_brain", A, "x"), Problem("misplaced", B, "y")], 10.5, "lb1")  # counted
    assert tr.due() == 70.0


# --- drifted: a file the role wrote waits for its reload, a hand edit does not --------------
@pytest.mark.parametrize(
    ("loaded", "current", "pending", "age", "expected"),
    [
        (None, "b", None, 0.0, False),  # nothing loaded yet: no judgement
        ("a", "a", None, 0.0, False),  # what runs
        ("a", "b", None, 0.0, True),  # edited by hand (no run recorded it)
        ("a", "b", "b", 5.0, False),  # written by a run, its reload to come
        ("a", "b", "b", 599.0, False),
        ("a", "b", "b", 600.0, True),  # the run never reloaded it
        ("a", "c", "b", 5.0, True),  # edited after the run wrote it
        ("a", "b", "b", -5.0, True),  # a stamp from the future is not trusted
        ("a", "a", "b", 5.0, False),  # reloaded, then the run's stamp is stale: nothing differs
        ("a", None, "b", 5.0, True),  # the file is gone
    ],
)
def test_drifted(loaded, current, pending, age, expected):
    assert _watch.drifted(loaded, current, pending, age) is expected
