# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 9: a drain cannot move a VIP away from a master when its backup is nopreempt
(a backup never takes a VIP from a live master of lower priority, KEEPALIVED.md), so
_pair.drain_plan refuses it before anything is touched, with the reason and what to do;
the hand-over on stop puts the node in FAULT instead (a priority-0 advert) for such a pair.
preempt_delay drains work: their timeout waits out the delay (test__pair_handover)."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _pair

SINGLE = {"keepalived_vips": ["198.51.100.100/24"]}
DUAL = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}


def report(held=(), nginx=True):
    """A vip_info result (the shape of test__pair's)."""
    return {"held_vips": list(held), "drain": {"drained": False, "value": 0, "status": "active"},
            "nginx": {"healthy": nginx, "status": 200 if nginx else 502, "latency_ms": 1.0, "node": "x"},
            "keepalived": {"running": True, "version": "2.2.7"}, "instances": [], "source": "json"}


def model(**group):
    return _pair.model(["lb1", "lb2"], {"lb1": dict(group), "lb2": dict(group)})


HEALTHY = {"lb1": report(["198.51.100.100"]), "lb2": report()}

# (group vars, node, restore) -> (refused?, vips waited for) - by hand from keepalived's rules
CASES = [
    pytest.param({**SINGLE}, "lb1", False, False, ["198.51.100.100"], id="preempt: drain works"),
    pytest.param({**SINGLE, "keepalived_preempt_delay": 10}, "lb1", False, False, ["198.51.100.100"],
                 id="preempt_delay: drain works"),
    pytest.param({**SINGLE, "keepalived_nopreempt": True}, "lb1", False, True, ["198.51.100.100"], id="nopreempt: refused"),
    pytest.param({**SINGLE, "keepalived_nopreempt": "true"}, "lb1", False, True, ["198.51.100.100"],
                 id="nopreempt from -e: refused"),
    pytest.param({**SINGLE, "keepalived_nopreempt": "false"}, "lb1", False, False, ["198.51.100.100"],
                 id="nopreempt=false from -e: drain works"),
    pytest.param({**DUAL, "keepalived_nopreempt": True}, "lb2", False, True, ["198.51.100.100", "198.51.100.101"],
                 id="nopreempt dual: refused"),
    pytest.param({**SINGLE, "keepalived_nopreempt": True}, "lb1", True, False, [],
                 id="nopreempt restore: the drain file only, no VIP awaited"),
    pytest.param({**SINGLE}, "lb1", True, False, ["198.51.100.100"], id="preempt restore: its VIPs"),
]


@pytest.mark.parametrize(("group", "node", "restore", "refused", "vips"), CASES)
def test_drain_plan_with_nopreempt(group, node, restore, refused, vips):
    plan = _pair.drain_plan(model(**group), HEALTHY, node, restore)
    nopreempt = [b for b in plan["blockers"] if "nopreempt" in b]
    assert (bool(nopreempt), plan["vips"]) == (refused, vips)


def test_the_refusal_gives_the_reason_and_what_to_do():
    (msg,) = _pair.drain_plan(model(**SINGLE, keepalived_nopreempt=True), HEALTHY, "lb1")["blockers"]
    assert msg.startswith("keepalived_nopreempt is true for VI_1: a drain lowers lb1's priority")
    assert "never takes a VIP from a master of lower priority" in msg
    assert "systemctl stop keepalived" in msg and "keepalived_nopreempt: false" in msg


@pytest.mark.parametrize(("group", "value"), [
    ({**SINGLE}, -253),                                   # priority 1: make-before-break
    ({**SINGLE, "keepalived_preempt_delay": 10}, -253),
    ({**SINGLE, "keepalived_nopreempt": True}, -254),     # FAULT: a priority-0 advert
    ({**SINGLE, "keepalived_nopreempt": "yes"}, -254),
    ({**SINGLE, "keepalived_nopreempt": "no"}, -253),
])
def test_handover_value(group, value):
    assert _pair.handover(model(**group), "lb1", "/h", "/f")["handover_value"] == value
