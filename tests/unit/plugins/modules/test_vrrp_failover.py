# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _node_io
from ansible_collections.halb.pair.plugins.modules import vrrp_failover

from tests.helpers import node_scripts

A, B = "198.51.100.100", "198.51.100.101"


def ip_json(*vips):
    infos = [{"family": "inet", "local": "198.51.100.11", "prefixlen": 24, "scope": "global"}]
    infos += [{"family": "inet", "local": v, "prefixlen": 24, "scope": "global"} for v in vips]
    return json.dumps([{"ifname": "eth0", "addr_info": infos}])


class Node:
    """A fake node whose VIPs follow the drain file after `lag` readings of ip -j addr."""

    def __init__(self, drain, held_active, held_drained, lag=2, stuck=False):
        self.drain = drain
        self.held = {"0": list(held_active), "-253": list(held_drained)}
        self.lag = lag
        self.stuck = stuck
        self.seen_value = drain.read_text().strip()
        self.reads = 0

    def __call__(self, argv):
        if argv[1:] != ["-j", "addr", "show"]:
            raise AssertionError(f"unexpected command {argv}")
        value = self.drain.read_text().strip()
        if value != self.seen_value:
            self.reads += 1
            if self.reads > self.lag and not self.stuck:
                self.seen_value, self.reads = value, 0
        return 0, ip_json(*self.held.get(self.seen_value, [])), ""


@pytest.fixture
def drain(tmp_path):
    path = tmp_path / "drain"
    path.write_text("0\n")
    return path


def args(drain, **kw):
    return dict({"drain_file": str(drain), "poll_interval": 0.001, "timeout": 2}, **kw)


def test_drain_moves_vips_and_reports(run_module, drain):
    node = Node(drain, [A, B], [])
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", vips=[A, f"{B}/24"]), node)
    assert kind == "exit", result
    assert result["changed"] is True
    assert drain.read_text() == "-253\n"
    assert (result["before"], result["after"]) == (0, -253)
    assert result["held_before"] == [A, B]
    assert result["held_after"] == []
    assert result["moved"] == {"released": [A, B], "acquired": []}
    assert result["waited"] is True
    assert isinstance(result["elapsed"], float)
    # The node held its VIPs for a few readings after the write: make-before-break.
    assert len(result["_calls"]) >= 3


def test_drain_is_idempotent(run_module, drain):
    drain.write_text("-253\n")
    node = Node(drain, [A], [])
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", vips=[A]), node)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["moved"] == {"released": [], "acquired": []}
    assert drain.read_text() == "-253\n"


@pytest.mark.parametrize(
    ("before", "state", "changed"),
    [("0", "drained", True), ("-253", "drained", False), ("-253", "active", True), ("0", "active", False)],
)
def test_check_mode_predicts_and_writes_nothing(run_module, drain, before, state, changed):
    drain.write_text(f"{before}\n")
    node = Node(drain, [A], [])
    kind, result = run_module(vrrp_failover.main, args(drain, state=state, vips=[A]), node, check_mode=True, diff=True)
    assert kind == "exit"
    assert result["changed"] is changed
    assert drain.read_text() == f"{before}\n"
    assert result["waited"] is False
    after = "-253" if state == "drained" else "0"
    assert result["diff"] == {"before": f"{before}\n", "after": f"{after}\n"}


def test_timeout_restores_previous_value(run_module, drain):
    drain.write_text("-60\n")
    node = Node(drain, [A], [], stuck=True)
    node.held["-60"] = [A]
    node.seen_value = "-60"
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", vips=[A], timeout=0.05), node)
    assert kind == "fail"
    assert result["restored"] is True
    assert drain.read_text() == "-60\n"
    assert (result["before"], result["after"], result["changed"]) == (-60, -60, True)
    assert result["msg"].startswith(
        f"expected {drain}=-253 to make the node release 198.51.100.100 within 0.05 s, found it still holding 198.51.100.100"
    )
    assert result["msg"].endswith(f"restored {drain} to -60")


def test_timeout_when_already_drained_leaves_file(run_module, drain):
    drain.write_text("-253\n")
    node = Node(drain, [A], [A])  # no peer takes over
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", vips=[A], timeout=0.05), node)
    assert kind == "fail"
    assert result["restored"] is False
    assert drain.read_text() == "-253\n"


def test_activate_waits_for_preferred_vips(run_module, drain):
    drain.write_text("-253\n")
    node = Node(drain, [A], [])
    kind, result = run_module(vrrp_failover.main, args(drain, state="active", vips=[A]), node, diff=True)
    assert kind == "exit", result
    assert result["changed"] is True
    assert drain.read_text() == "0\n"
    assert result["moved"] == {"released": [], "acquired": [A]}
    assert result["diff"] == {"before": "-253\n", "after": "0\n"}


def test_activate_timeout_fails_but_stays_active(run_module, drain):
    drain.write_text("-253\n")
    node = Node(drain, [], [])
    kind, result = run_module(vrrp_failover.main, args(drain, state="active", vips=[A], timeout=0.05), node)
    assert kind == "fail"
    assert drain.read_text() == "0\n"
    assert "found it without 198.51.100.100" in result["msg"]


def test_activate_without_vips_does_not_wait(run_module, drain, monkeypatch):
    drain.write_text("-253\n")
    warnings = []
    monkeypatch.setattr(vrrp_failover.AnsibleModule, "warn", lambda self, w: warnings.append(w))
    kind, result = run_module(vrrp_failover.main, args(drain, state="active"), Node(drain, [], []))
    assert kind == "exit"
    assert result["waited"] is False
    assert drain.read_text() == "0\n"
    assert warnings and "nothing was waited for" in warnings[0]


def test_no_wait(run_module, drain):
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", wait=False), Node(drain, [A], []))
    assert kind == "exit"
    assert result["waited"] is False
    assert drain.read_text() == "-253\n"


def test_missing_drain_file_fails(run_module, tmp_path):
    kind, result = run_module(vrrp_failover.main, args(tmp_path / "nope", state="drained", vips=[A]), lambda argv: (0, ip_json(), ""))
    assert kind == "fail"
    assert result["msg"].startswith(f"expected the drain file {tmp_path / 'nope'}")
    assert result["msg"].endswith("found none")


@pytest.fixture
def keepalived(tmp_path, monkeypatch):
    """A live stand-in for keepalived: a process the identity check takes for keepalived's own."""
    monkeypatch.setattr(_node_io, "KEEPALIVED_COMM", node_scripts.FAKE_KEEPALIVED)
    with node_scripts.process(tmp_path, node_scripts.FAKE_KEEPALIVED) as proc:
        yield proc


def test_drain_discovers_vips_from_keepalived(run_module, drain, tmp_path, monkeypatch, keepalived):
    pid_file = tmp_path / "keepalived.pid"
    pid_file.write_text(f"{keepalived.pid}\n")
    dump = json.dumps([{"data": {"iname": "VI_1", "state": 2, "vips": [f"{A}/24 dev eth0"]}}])
    monkeypatch.setattr(_node_io, "request_dump", lambda pid, sig, path, parse, **kw: parse(dump))
    node = Node(drain, [A], [])

    def commands(argv):
        if argv[1:] == ["--signum=JSON"]:
            return 0, "36\n", ""
        return node(argv)

    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", pid_file=str(pid_file)), commands)
    assert kind == "exit", result
    assert result["watched"] == [A]
    assert result["moved"]["released"] == [A]


def test_drain_without_vips_or_keepalived_fails(run_module, drain, tmp_path):
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", pid_file=str(tmp_path / "none.pid")), Node(drain, [A], []))
    assert kind == "fail"
    assert result["msg"].startswith("expected vips, or keepalived running to list them")
    assert drain.read_text() == "0\n"


def test_peers_check(run_module, drain, monkeypatch):
    answers = iter([False, True])
    monkeypatch.setattr(_node_io, "tcp_open", lambda address, port, timeout=1.0: next(answers))
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained", vips=[A], peers_check_port=80), Node(drain, [A], []))
    assert kind == "exit", result
    assert result["peers_answering"] == [A]


def test_peers_check_timeout_restores(run_module, drain, monkeypatch):
    monkeypatch.setattr(_node_io, "tcp_open", lambda address, port, timeout=1.0: False)
    kind, result = run_module(
        vrrp_failover.main, args(drain, state="drained", vips=[A], peers_check_port=80, timeout=0.05), Node(drain, [A], [], lag=0)
    )
    assert kind == "fail"
    assert result["restored"] is True
    assert "expected a peer to answer on port 80 of 198.51.100.100" in result["msg"]
    assert drain.read_text() == "0\n"


def test_bad_state_rejected_by_argument_spec(run_module, drain):
    kind, result = run_module(vrrp_failover.main, args(drain, state="maintenance"), Node(drain, [], []))
    assert kind == "fail"
    assert "value of state must be one of: drained, active" in result["msg"]


def test_drain_discovery_without_keepalived_binary_fails(run_module, drain):
    kind, result = run_module(vrrp_failover.main, args(drain, state="drained"), Node(drain, [A], []), missing=("keepalived",))
    assert kind == "fail"
    assert result["msg"] == "expected vips, or keepalived to list them, found no keepalived in PATH"


# --- a real module process interrupted during its wait (SIGTERM, SIGHUP of a dropped session, Ctrl-C) ---

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[4]
MODULE = REPO / "plugins" / "modules" / "vrrp_failover.py"


def waiting_module(tmp_path, drain, **popen) -> subprocess.Popen:
    """A real module process that drained and waits: its `ip` always shows the VIP, no peer
    takes it, so it waits (60 s timeout) until something interrupts it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ip").write_text(f"#!/bin/sh\necho '{ip_json(A)}'\n")
    (bindir / "ip").chmod(0o755)
    params = tmp_path / "args.json"
    params.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args(drain, state="drained", vips=[A], timeout=60, poll_interval=0.02)}))
    # this process's own import path: ansible and ansible_collections.halb.pair as pytest or
    # ansible-test units found them
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, str(MODULE), str(params)], env=env, **popen)
    deadline = time.monotonic() + 30
    while drain.read_text() != "-253\n":
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail("the module never drained")
        time.sleep(0.02)
    time.sleep(0.2)  # well into the wait
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_signal_during_the_wait_restores_the_drain(tmp_path, drain, signum):
    proc = waiting_module(tmp_path, drain, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert drain.read_text() == "0\n", (out, err)
    result = json.loads(out)
    assert result["failed"] is True
    assert result["restored"] is True
    assert (result["before"], result["after"]) == (0, 0)
    assert result["msg"] == f"interrupted by {signal.Signals(signum).name} while applying {drain}=-253; restored {drain} to 0"
    assert proc.returncode == 1


def test_the_controller_going_away_during_the_wait_restores_the_drain(tmp_path, drain):
    """Ctrl-C on the controller or a dropped SSH session: sshd closes the session's pipes
    and no signal reaches a pipelined module without a tty. Here the module's stdout is a
    pipe whose reader this test closes during the wait: the drain must be put back long
    before the 60 s timeout would restore it anyway."""
    proc = waiting_module(tmp_path, drain, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdout.close()  # the controller's end of the session
        deadline = time.monotonic() + 10
        while drain.read_text() != "0\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        restored = drain.read_text()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert restored == "0\n", "the drain stayed after the controller went away"
