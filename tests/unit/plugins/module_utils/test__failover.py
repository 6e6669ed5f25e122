# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The act phase of vrrp_failover, from recorded `ip -j addr` outputs (tests/unit/fixtures):
the wait, the peer check, the failure texts, the restore, and the signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _drain, _failover, _ipaddr, _node_io

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VIP = "198.51.100.100"
# lb1 of the lab holding VI_1's VIP, and lb1 without it (recorded).
HOLDING = (FIXTURES / "lab" / "lb1.ip_addr.json").read_text()
RELEASED = (FIXTURES / "lab" / "lb1.ip_addr.no_vip.json").read_text()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Node:
    """The drain file and `ip -j addr` of lb1: after `lag` readings following a write, the
    recorded output for the written value is returned (None: the VIP never moves)."""

    def __init__(self, before=0, outputs=None, lag=2, on_read=None):
        self.file = _drain.render(before)
        self.writes: list[str] = []
        self.outputs = outputs if outputs is not None else {0: HOLDING, -253: RELEASED}
        self.lag, self.reads, self.on_read = lag, 0, on_read
        self.seen = before

    def write(self, text):
        self.file = text
        self.writes.append(text)

    def read_held(self):
        self.reads += 1
        if self.on_read:
            self.on_read(self.reads)
        value = _drain.parse_drain(self.file)
        if value != self.seen and self.reads > self.lag:
            self.seen = value
        output = self.outputs.get(self.seen) or HOLDING
        held = _ipaddr.held_addresses(_ipaddr.parse_ip_addr_json(output), [VIP])
        return [vip for vip, entry in held.items() if entry is not None]


def apply(node, state="drained", before=0, clock=None, **kw):
    clock = clock or Clock()
    plan = _drain.plan_drain(before, state)
    args = dict(drain_file="/var/lib/halb-pair/drain", wait=True, timeout=5.0, interval=0.2, peers_port=None,
                write=node.write, read_held=node.read_held, probe=lambda vip, port, timeout: True, clock=clock, sleep=clock.sleep)
    args.update(kw)
    on_read, node.on_read = node.on_read, None
    held_before = node.read_held()
    node.reads, node.on_read = 0, on_read
    return _failover.apply(plan, state, [VIP], held_before, **args)


def test_drain_waits_until_the_recorded_output_shows_the_vip_gone():
    node = Node()
    out = apply(node)
    assert out["failed"] is False, out
    assert node.writes == ["-253\n"]
    assert out["result"]["held_after"] == []
    assert out["result"]["moved"] == {"released": [VIP], "acquired": []}
    assert out["result"]["waited"] is True
    assert out["result"]["elapsed"] == pytest.approx(0.4)  # two polls of 0.2 s on the fake clock
    assert node.reads == 3


def test_drain_timeout_restores_and_says_what_it_found():
    node = Node(outputs={0: HOLDING, -253: HOLDING})
    out = apply(node, timeout=1.0)
    assert out["failed"] is True
    assert node.writes == ["-253\n", "0\n"]
    assert out["result"]["restored"] is True and out["result"]["after"] == 0
    assert out["msg"] == (
        f"expected /var/lib/halb-pair/drain=-253 to make the node release {VIP} within 1 s, found it still holding {VIP}; "
        "restored /var/lib/halb-pair/drain to 0"
    )


def test_drain_already_drained_timeout_leaves_the_file():
    node = Node(before=-253, outputs={-253: HOLDING})
    out = apply(node, before=-253, timeout=0.5)
    assert out["failed"] is True
    assert node.writes == []
    assert out["result"]["restored"] is False
    assert out["msg"].endswith("the drain file was left at -253 (unchanged)")


@pytest.mark.parametrize(
    ("answers", "failed", "answering"),
    [([True], False, [VIP]), ([False, False, True], False, [VIP]), ([False] * 100, True, [])],
)
def test_peer_check(answers, failed, answering):
    node = Node(lag=0)
    replies = iter(answers)
    out = apply(node, peers_port=80, timeout=2.0, probe=lambda vip, port, timeout: next(replies))
    assert out["failed"] is failed
    assert out["result"]["peers_answering"] == answering
    if failed:
        assert out["msg"].startswith(f"expected a peer to answer on port 80 of {VIP} within 2 s, found no answer")
        assert node.writes[-1] == "0\n"


def test_activate_timeout_stays_active():
    node = Node(before=-253, outputs={-253: RELEASED, 0: RELEASED})
    out = apply(node, state="active", before=-253, timeout=0.5)
    assert out["failed"] is True
    assert node.writes == ["0\n"]
    assert out["msg"] == (
        f"expected the node to hold {VIP} within 0.5 s of writing 0 to /var/lib/halb-pair/drain, found it without {VIP};"
        " it stays active (a peer with a higher priority, or preempt off?)"
    )


def test_no_wait_and_no_vips():
    node = Node()
    assert apply(node, wait=False)["result"] == {}
    plan = _drain.plan_drain(0, "active")
    out = _failover.apply(plan, "active", [], [], drain_file="d", wait=True, timeout=1, interval=0.1, peers_port=None,
                          write=node.write, read_held=node.read_held, probe=lambda *a: True)
    assert out["failed"] is False
    assert out["warnings"] == ["no VIPs to watch (vips is empty): the drain file was written, nothing was waited for"]


def test_a_failing_command_restores_the_drain():
    def read_held_fails(n):
        if n >= 1:
            raise _node_io.NodeError("expected `ip -j addr show` to exit 0, found rc=1: boom")

    node = Node(on_read=None)
    node.on_read = read_held_fails
    plan = _drain.plan_drain(0, "drained")
    out = _failover.apply(plan, "drained", [VIP], [VIP], drain_file="d", wait=True, timeout=1, interval=0.1, peers_port=None,
                          write=node.write, read_held=node.read_held, probe=lambda *a: True)
    assert out["failed"] is True
    assert node.writes == ["-253\n", "0\n"]
    assert out["msg"] == "expected `ip -j addr show` to exit 0, found rc=1: boom; restored d to 0"


@pytest.mark.parametrize("signum", _failover.SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_the_wait_restores_the_drain(signum):
    """The signal really arrives (os.kill of this process) during the wait."""
    previous = signal.getsignal(signum)

    def send(n):
        if n == 2:
            os.kill(os.getpid(), signum)

    node = Node(outputs={0: HOLDING, -253: HOLDING}, on_read=send)
    out = apply(node, timeout=60.0)
    assert out["failed"] is True
    assert node.writes == ["-253\n", "0\n"]
    assert out["result"]["restored"] is True
    assert out["msg"] == (
        f"interrupted by {signal.Signals(signum).name} while applying /var/lib/halb-pair/drain=-253; restored /var/lib/halb-pair/drain to 0"
    )
    assert signal.getsignal(signum) == previous, "the handler is put back"


def test_the_controller_going_away_during_the_wait_restores_the_drain():
    """Ctrl-C or a dropped session reach a pipelined module as its output losing its
    reader (no signal): ``gone()`` turns true on the third reading of the wait."""
    node = Node(outputs={0: HOLDING, -253: HOLDING})
    out = apply(node, timeout=60.0, gone=lambda: node.reads >= 3)
    assert out["failed"] is True
    assert node.writes == ["-253\n", "0\n"]
    assert out["result"]["restored"] is True
    assert out["msg"] == (
        f"interrupted by {_failover.GONE} while applying /var/lib/halb-pair/drain=-253; restored /var/lib/halb-pair/drain to 0"
    )


def test_a_controller_that_stays_changes_nothing():
    node = Node()
    out = apply(node, gone=lambda: False)
    assert (out["failed"], node.writes) == (False, ["-253\n"])


def test_a_signal_while_activating_leaves_the_node_active():
    node = Node(before=-253, outputs={-253: RELEASED, 0: RELEASED}, on_read=lambda n: os.kill(os.getpid(), signal.SIGTERM))
    out = apply(node, state="active", before=-253, timeout=60.0)
    assert out["failed"] is True
    assert node.writes == ["0\n"]
    assert out["msg"] == "interrupted by SIGTERM while applying /var/lib/halb-pair/drain=0; the drain file was left at 0"


def test_the_handler_only_records_and_the_next_step_raises():
    d = _failover.Deferred()
    calls = []
    step = d.guard(lambda: calls.append("ran"))
    step()
    d.handler(signal.SIGHUP, None)  # returns: nothing raised inside the handler itself
    d.handler(signal.SIGTERM, None)  # the first signal is the one reported
    with pytest.raises(_failover.Interrupted) as info:
        step()
    assert info.value.name == "SIGHUP"
    assert calls == ["ran"], "a step is not started once a signal is pending"


def test_a_signal_during_a_step_is_raised_when_the_step_is_over():
    d = _failover.Deferred()
    done = []

    def step():
        d.handler(signal.SIGINT, None)  # arrives while the command runs (e.g. during its fork)
        done.append(True)  # the step still finishes: no exception inside it

    with pytest.raises(_failover.Interrupted) as info:
        d.guard(step)()
    assert done == [True] and info.value.name == "SIGINT"


def test_a_signal_while_a_command_forks_restores_the_drain_instead_of_hanging():
    """The signal really arrives (os.kill) while the read forks a command, the way the
    module's run_command does: the drain is restored and nothing hangs."""
    import subprocess

    def read_held_forking(n):
        if n == 2:
            os.kill(os.getpid(), signal.SIGHUP)
        subprocess.run(["true"], check=True)

    node = Node(outputs={0: HOLDING, -253: HOLDING}, on_read=read_held_forking)
    out = apply(node, timeout=60.0)
    assert out["result"]["restored"] is True and node.writes == ["-253\n", "0\n"]


def test_signals_are_ignored_while_restoring():
    seen = []

    def write(text):
        seen.append((text, signal.getsignal(signal.SIGTERM)))

    _failover._restore(write, "d", 0, "why", {})
    assert seen == [("0\n", signal.SIG_IGN)]
