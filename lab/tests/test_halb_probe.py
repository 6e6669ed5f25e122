"""Table tests for the failover probe's summary (lab/halb_lab/node/halb_probe.py)."""

from __future__ import annotations

import pytest
from halb_lab.node import halb_probe as probe

T0 = 1000.0  # event time


def reqs(spec: str, start: float = T0 - 1.0, step: float = 0.1, before: str = "lb1", after: str = "lb2"):
    """'..xx..' -> requests every step from start: '.' ok, 'x' failed. Node switches
    from `before` to `after` at the first failure (or at T0 when there is none)."""
    out, switched = [], False
    for i, c in enumerate(spec):
        t = start + i * step
        if c == "x":
            switched = True
        if t >= T0 and "x" not in spec:
            switched = True
        node = after if switched else before
        out.append({"t": t, "dt": 0.01, "ok": c == ".", "node": node if c == "." else None, "backend": "web1" if c == "." else None})
    return out


def w(*changes, end=T0 + 5):
    """Watch records: (t, present) changes, then an end record with the last state."""
    recs = [{"t": t, "present": p} for t, p in changes]
    recs.append({"t": end, "present": changes[-1][1], "end": True})
    return recs


# name, requests, watches, expect, expected subset of the summary
CASES = [
    (
        "clean stop: gap with no holder, 3 failures",
        reqs("..........xxx......."),
        {"lb1": w((T0 - 2, True), (T0 + 0.1, False)), "lb2": w((T0 - 2, False), (T0 + 0.7, True))},
        "lb2",
        {
            "requests": 20,
            "failed": 3,
            "failed_after_event": 3,
            "vip_moved_s": 0.7,
            "vip_single_s": 0.7,
            "no_holder_s": 0.6,
            "multi_holder_s": 0.0,
            "first_failure_s": 0.0,
            "recovered_s": 0.3,
            "error_window_s": 0.4,
            "served_before": "lb1",
            "served_after": "lb2",
            "holders_before": ["lb1"],
            "holders_after": ["lb2"],
        },
    ),
    (
        "make-before-break: overlap, no failure",
        reqs("...................."),
        {"lb1": w((T0 - 2, True), (T0 + 3.2, False)), "lb2": w((T0 - 2, False), (T0 + 3.0, True))},
        "lb2",
        {
            "failed": 0,
            "error_window_s": 0.0,
            "first_failure_s": None,
            "vip_moved_s": 3.0,
            "vip_single_s": 3.2,
            "no_holder_s": 0.0,
            "multi_holder_s": 0.2,
        },
    ),
    (
        "kill -9 and restart: the master never lost it, backup held it for a while",
        reqs("...................."),
        {"lb1": w((T0 - 2, True)), "lb2": w((T0 - 2, False), (T0 + 3.5, True), (T0 + 4.0, False))},
        "lb1",
        {"vip_moved_s": 0.0, "vip_single_s": 4.0, "multi_holder_s": 0.5, "no_holder_s": 0.0, "holders_after": ["lb1"]},
    ),
    (
        "VIP never reaches the expected node",
        reqs("..........xxxxxxxxxx"),
        {"lb1": w((T0 - 2, True), (T0 + 0.1, False)), "lb2": w((T0 - 2, False))},
        "lb2",
        {
            "vip_moved_s": None,
            "vip_single_s": None,
            "no_holder_s": 4.9,
            "holders_after": [],
            "recovered_s": None,
            "error_window_s": None,
            "served_after": None,
        },
    ),
    (
        "flap: expected node gets it, loses it, gets it back: time of the last arrival",
        reqs("...................."),
        {"lb1": w((T0 - 2, True), (T0 + 0.5, False)), "lb2": w((T0 - 2, False), (T0 + 1.0, True), (T0 + 1.5, False), (T0 + 2.0, True))},
        "lb2",
        {"vip_moved_s": 2.0, "vip_single_s": 2.0, "no_holder_s": 1.0},
    ),
    (
        "a failure before the event is counted but is not the error window",
        reqs("..x................."),
        {"lb1": w((T0 - 2, True), (T0 + 0.5, False)), "lb2": w((T0 - 2, False), (T0 + 0.5, True))},
        "lb2",
        {"failed": 1, "failed_after_event": 0, "error_window_s": 0.0},
    ),
    (
        "no watch data at all",
        reqs("...."),
        {},
        "lb2",
        {"vip_moved_s": None, "no_holder_s": 0.0, "holders_after": []},
    ),
]


@pytest.mark.parametrize(("name", "requests", "watches", "expect", "want"), CASES, ids=[c[0] for c in CASES])
def test_summarise(name, requests, watches, expect, want):
    got = probe.summarise(requests, watches, T0, expect)
    for k, v in want.items():
        if isinstance(v, float):
            assert got[k] == pytest.approx(v, abs=1e-3), k
        else:
            assert got[k] == v, k


def test_timeline_merges_simultaneous_changes():
    tl, end = probe.holder_timeline(
        {
            "a": [{"t": 1.0, "present": True}, {"t": 2.0, "present": False}, {"t": 9.0, "present": False, "end": True}],
            "b": [{"t": 1.0, "present": False}, {"t": 2.0, "present": True}, {"t": 8.0, "present": True, "end": True}],
        }
    )
    assert tl == [(1.0, frozenset({"a"})), (2.0, frozenset({"b"}))]
    assert end == 8.0


def test_render_mentions_the_figures():
    s = probe.summarise(
        reqs("..........xxx......."), {"lb1": w((T0 - 2, True), (T0 + 0.1, False)), "lb2": w((T0 - 2, False), (T0 + 0.7, True))}, T0, "lb2"
    )
    s.update(scenario="default", case="stop_master", phase="stop", vip="198.51.100.110")
    line = probe.render(s)
    assert "0.70s" in line and "3/20 failed" in line and "lb1 -> lb2" in line


# --------------------------------------------------------------------------- client-keepalive
class FakeResp:
    def __init__(self, status, node, will_close=False):
        self.status, self._node, self.will_close = status, node, will_close

    def read(self):
        return b""

    def getheader(self, name):
        return {"X-HALB-Node": self._node, "X-HALB-Backend": "web1"}.get(name)


class FakeSock:
    def settimeout(self, t):
        self.timeout = t


class FakeServer:
    """Scripted outcomes, one per request: ('ok', node) / ('ok-close', node) / ('reset',) /
    ('refused',) (the connect fails). Counts the connections made."""

    def __init__(self, script):
        self.script = list(script)
        self.connections = []

    def factory(self, host, port, timeout):
        server = self

        class Conn:
            def __init__(self):
                self.sock = None
                self.host, self.port, self.timeout = host, port, timeout
                server.connections.append(self)

            def connect(self):
                if server.script and server.script[0][0] == "refused":
                    server.script.pop(0)
                    raise ConnectionRefusedError(111, "Connection refused")
                self.sock = FakeSock()

            def request(self, method, path, headers):
                self.path, self.headers = path, headers

            def getresponse(self):
                kind, *rest = server.script.pop(0)
                if kind == "reset":
                    raise ConnectionResetError(104, "Connection reset by peer")
                return FakeResp(200, rest[0], will_close=kind == "ok-close")

            def close(self):
                self.sock = None

        return Conn()


def _run_kept(script):
    server = FakeServer(script)
    kc = probe.KeptConnection("http://198.51.100.238/x", 3, 0.2, 1.0, factory=server.factory, clock=iter(range(1000)).__next__)
    recs = [kc.request() for _ in script]
    return server, kc, recs


def test_keepalive_reuses_one_connection_while_it_works():
    server, _kc, recs = _run_kept([("ok", "lb1")] * 4)
    assert len(server.connections) == 1
    assert [r["reused"] for r in recs] == [False, True, True, True]
    assert all(r["ok"] and r["node"] == "lb1" and r["conn"] == 3 for r in recs)
    # HTTP/1.1 keep-alive: no "Connection: close" is sent, the path of the URL is asked
    assert "Connection" not in server.connections[0].headers and server.connections[0].path == "/x"
    assert server.connections[0].timeout == 0.2 and server.connections[0].sock.timeout == 1.0


def test_keepalive_reconnects_after_an_error():
    server, kc, recs = _run_kept([("ok", "lb1"), ("reset",), ("refused",), ("ok", "lb2"), ("ok", "lb2")])
    assert [r["ok"] for r in recs] == [True, False, False, True, True]
    assert recs[1]["err"].startswith("ConnectionResetError") and recs[1]["reused"] is True
    assert recs[2]["err"].startswith("ConnectionRefusedError") and recs[2]["reused"] is False
    assert [r["reused"] for r in recs[3:]] == [False, True]
    assert len(server.connections) == 3 and kc.connects == 2
    assert recs[3]["node"] == "lb2"


def test_keepalive_server_close_is_not_an_error_and_opens_a_new_connection():
    server, _kc, recs = _run_kept([("ok-close", "lb1"), ("ok", "lb1")])
    assert [r["ok"] for r in recs] == [True, True]
    assert [r["reused"] for r in recs] == [False, False]
    assert len(server.connections) == 2


def test_keepalive_records_have_the_client_fields():
    _server, _kc, recs = _run_kept([("ok", "lb1")])
    assert {"t", "dt", "ok", "status", "node", "backend", "err", "conn", "reused"} <= set(recs[0])
    assert recs[0]["t"] == 0 and recs[0]["dt"] == 1


# --------------------------------------------------------------------------- a node that went down
DOWN_CASES = [
    (
        "killed: what the watcher wrote, then nothing from the kill on",
        [{"t": T0 - 2, "present": True}],
        T0 + 0.05,
        [{"t": T0 - 2, "present": True}, {"t": T0 + 0.05, "present": False}, {"t": T0 + 5, "present": False, "end": True}],
    ),
    (
        "stopped: the watcher saw the hand-over before the node went down; its end record is dropped",
        [{"t": T0 - 2, "present": True}, {"t": T0 + 1, "present": False}, {"t": T0 + 3, "present": False, "end": True}],
        T0 + 4,
        [
            {"t": T0 - 2, "present": True},
            {"t": T0 + 1, "present": False},
            {"t": T0 + 3, "present": False},
            {"t": T0 + 4, "present": False},
            {"t": T0 + 5, "present": False, "end": True},
        ],
    ),
    (
        "records after the container went down are not the node's (clock of a later boot)",
        [{"t": T0 - 2, "present": True}, {"t": T0 + 9, "present": True}],
        T0 + 1,
        [{"t": T0 - 2, "present": True}, {"t": T0 + 1, "present": False}, {"t": T0 + 5, "present": False, "end": True}],
    ),
    ("nothing written: holds nothing", [], T0 + 1, [{"t": T0 + 1, "present": False}, {"t": T0 + 5, "present": False, "end": True}]),
]


@pytest.mark.parametrize(("name", "recs", "t_down", "want"), DOWN_CASES, ids=[c[0] for c in DOWN_CASES])
def test_down_records(name, recs, t_down, want):
    assert probe.down_records(recs, t_down, T0 + 5) == want


def test_a_killed_master_counts_as_letting_go_at_the_kill():
    # lb1 killed at T0+0.05 (its watcher died with it); lb2 takes the VIP at T0+3.5
    watches = {
        "lb1": probe.down_records([{"t": T0 - 2, "present": True}], T0 + 0.05, T0 + 5),
        "lb2": w((T0 - 2, False), (T0 + 3.5, True)),
    }
    s = probe.summarise(reqs("." * 10 + "x" * 35 + "." * 15), watches, T0, "lb2")
    assert s["holders_before"] == ["lb1"] and s["holders_after"] == ["lb2"]
    assert s["no_holder_s"] == pytest.approx(3.45, abs=1e-3)
    assert s["vip_single_s"] == pytest.approx(3.5, abs=1e-3)


def test_figures_from_the_mark():
    # a frozen lb1 keeps its address; lb2 holds from T0+3.5; lb1 thaws at T0+4 (the mark)
    # and lets go at T0+4.2: two holders from the mark for 0.2 s, 1 failure after it
    watches = {"lb1": w((T0 - 2, True), (T0 + 4.2, False)), "lb2": w((T0 - 2, False), (T0 + 3.5, True))}
    requests = reqs("." * 10 + "x" * 35 + "." * 6 + "x" + "." * 8)
    s = probe.summarise(requests, watches, T0, "lb2", mark=T0 + 4.0)
    assert s["mark_s"] == pytest.approx(4.0)
    assert s["failed_since_mark"] == 1
    assert s["multi_holder_since_mark_s"] == pytest.approx(0.2, abs=1e-3)
    assert s["no_holder_since_mark_s"] == 0.0
    assert "from the mark (+4.00s): 1 failed" in probe.render(s | {"scenario": "s", "case": "c", "phase": "p", "vip": "v"})
    assert "mark_s" not in probe.summarise(requests, watches, T0, "lb2")


def test_a_phase_with_an_unwatched_node_has_no_holder_figures():
    # lb1 boots (no watcher); lb2, watched, lets go of the VIP at T0+2: without lb1's records
    # that would read as 3 s without a holder
    s = probe.summarise(reqs("." * 60), {"lb2": w((T0 - 2, True), (T0 + 2, False))}, T0, "lb1")
    assert s["no_holder_s"] == pytest.approx(3.0, abs=1e-3)
    u = probe.unwatched(s, ["lb1"])
    assert all(u[k] is None for k in ("vip_moved_s", "vip_single_s", "no_holder_s", "multi_holder_s"))
    assert u["failed"] == 0 and u["requests"] == 60 and u["unwatched"] == ["lb1"]
    assert "no holder -" in probe.render(u | {"scenario": "s", "case": "c", "phase": "p", "vip": "v"})
