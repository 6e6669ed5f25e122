# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The I/O layer with injected commands, kill, clock; files in tmp_path; HTTP on 127.0.0.1 only."""

from __future__ import annotations

import http.server
import json
import os
import threading

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _keepalived_state, _node_io

IP_JSON = json.dumps(
    [
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
        {
            "ifname": "eth0",
            "addr_info": [
                {"family": "inet", "local": "198.51.100.11", "prefixlen": 24, "scope": "global"},
                {"family": "inet", "local": "198.51.100.100", "prefixlen": 24, "scope": "global"},
            ],
        },
    ]
)


def runner(table):
    def run(argv):
        key = " ".join(argv)
        if key not in table:
            raise AssertionError(f"unexpected command {key}")
        result = table[key]
        if isinstance(result, Exception):
            raise result
        return result

    return run


def test_read_text(tmp_path):
    path = tmp_path / "f"
    assert _node_io.read_text(str(path)) is None
    path.write_text("0\n")
    assert _node_io.read_text(str(path)) == "0\n"


def test_read_text_unreadable(tmp_path):
    with pytest.raises(_node_io.NodeError, match="expected to read"):
        _node_io.read_text(str(tmp_path))


def test_held_vips():
    run = runner({"ip -j addr show": (0, IP_JSON, "")})
    assert _node_io.held_vips(run, ["198.51.100.101", "198.51.100.100/24"]) == ["198.51.100.100"]


@pytest.mark.parametrize(
    ("result", "message"),
    [((1, "", "Cannot open netlink socket"), "rc=1: Cannot open netlink socket"), ((0, "not json", ""), "invalid JSON")],
)
def test_read_addresses_errors(result, message):
    with pytest.raises(_node_io.NodeError, match=message):
        _node_io.read_addresses(runner({"ip -j addr show": result}))


def test_keepalived_pid(tmp_path):
    pid_file = tmp_path / "keepalived.pid"
    assert _node_io.keepalived_pid(str(pid_file)) is None
    pid_file.write_text(f"{os.getpid()}\n")
    assert _node_io.keepalived_pid(str(pid_file)) == os.getpid()
    pid_file.write_text("garbage")
    assert _node_io.keepalived_pid(str(pid_file)) is None
    # A pid that is certainly not running (above pid_max on Linux).
    pid_file.write_text("4194999\n")
    assert _node_io.keepalived_pid(str(pid_file)) is None


def test_version_and_signum():
    run = runner(
        {
            "keepalived --version": (0, "", "Keepalived v2.2.7 (01/16,2022)\n"),
            "keepalived --signum=JSON": (0, "36\n", ""),
            "keepalived --signum=DATA": (1, "", "Unknown signal name DATA"),
        }
    )
    assert _node_io.keepalived_version(run) == "2.2.7"
    assert _node_io.signum(run, "keepalived", "JSON") == 36
    assert _node_io.signum(run, "keepalived", "DATA") is None


def test_version_missing_binary():
    run = runner({"keepalived --version": FileNotFoundError(2, "No such file")})
    assert _node_io.keepalived_version(run) is None
    run = runner({"keepalived --signum=JSON": FileNotFoundError(2, "No such file")})
    assert _node_io.signum(run, "keepalived", "JSON") is None


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_request_dump_waits_for_fresh_whole_file(tmp_path):
    path = tmp_path / "keepalived.json"
    path.write_text("[]")  # an old dump
    os.utime(path, (1, 1))
    clock = FakeClock()
    writes = iter(['[{"data": {"iname": "VI_1"', '[{"data": {"iname": "VI_1", "state": 2}}]'])
    signals = []

    def kill(pid, sig):
        signals.append((pid, sig))

    def sleep(seconds):
        clock.sleep(seconds)
        text = next(writes, None)
        if text is not None:
            path.write_text(text)

    instances = _node_io.request_dump(7, 36, str(path), _keepalived_state.parse_json_dump, kill=kill, clock=clock, sleep=sleep)
    assert signals == [(7, 36)]
    assert [(i["name"], i["state"]) for i in instances] == [("VI_1", "MASTER")]


def test_request_dump_timeout_on_stale_file(tmp_path):
    path = tmp_path / "keepalived.json"
    path.write_text("[]")
    clock = FakeClock()
    with pytest.raises(_node_io.NodeError, match="no new file"):
        _node_io.request_dump(
            7, 36, str(path), _keepalived_state.parse_json_dump, timeout=1, kill=lambda p, s: None, clock=clock, sleep=clock.sleep
        )


def test_request_dump_kill_fails(tmp_path):
    def kill(pid, sig):
        raise ProcessLookupError(3, "No such process")

    with pytest.raises(_node_io.NodeError, match="No such process"):
        _node_io.request_dump(7, 36, str(tmp_path / "x"), _keepalived_state.parse_json_dump, kill=kill)


def test_read_feed(tmp_path):
    assert _node_io.read_feed(str(tmp_path / "missing")) == {}
    (tmp_path / "VI_1").write_text('INSTANCE "VI_1" MASTER 150 1\n')
    (tmp_path / ".VI_1.tmp").write_text("partial")
    (tmp_path / "sub").mkdir()
    assert _node_io.read_feed(str(tmp_path)) == {"VI_1": 'INSTANCE "VI_1" MASTER 150 1\n'}


def test_write_text(tmp_path):
    path = tmp_path / "drain"
    path.write_text("0\n")
    os.chmod(path, 0o640)
    _node_io.write_text(str(path), "-253\n")
    assert path.read_text() == "-253\n"
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    with pytest.raises(_node_io.NodeError, match="expected to write"):
        _node_io.write_text(str(tmp_path / "no" / "such"), "0\n")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/healthz" else 503
        self.send_response(code)
        self.send_header("X-HALB-Node", "lb1")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_health_ok(local_server):
    health = _node_io.http_health(f"{local_server}/healthz")
    assert (health["status"], health["node"], health["healthy"], health["error"]) == (200, "lb1", True, None)
    assert health["latency_ms"] >= 0


def test_http_health_error_status(local_server):
    health = _node_io.http_health(f"{local_server}/other")
    assert (health["status"], health["node"], health["healthy"]) == (503, "lb1", False)


def test_http_health_no_answer():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()
    health = _node_io.http_health(f"http://127.0.0.1:{port}/healthz", timeout=1)
    assert health["status"] is None
    assert health["healthy"] is False
    assert "refused" in health["error"].lower()


def test_tcp_open(local_server):
    port = int(local_server.rsplit(":", 1)[1])
    assert _node_io.tcp_open("127.0.0.1", port) is True
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    closed = server.server_address[1]
    server.server_close()
    assert _node_io.tcp_open("127.0.0.1", closed, timeout=0.5) is False


# --- the one dump reader (vip_info and vrrp_failover), from the recorded dumps ---

import functools  # noqa: E402
from pathlib import Path  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SIGNUMS = {"/usr/sbin/keepalived --signum=JSON": (0, "36\n", ""), "/usr/sbin/keepalived --signum=DATA": (0, "10\n", "")}


@pytest.fixture
def keepalived(tmp_path, monkeypatch):
    """keepalived as far as the reader sees it: the signal makes it write the recorded dump."""
    signals = []
    recorded = {36: "keepalived.json", 10: "keepalived.data"}

    def kill(pid, sig):
        signals.append((pid, sig))
        name = recorded[sig]
        (tmp_path / name).write_text((FIXTURES / "lab" / f"lb1.{name}").read_text())

    monkeypatch.setattr(_node_io, "request_dump", functools.partial(_node_io.request_dump, kill=kill))
    return signals


@pytest.mark.parametrize(("source", "sig"), [("json", 36), ("data", 10)])
def test_read_dump_recorded(tmp_path, keepalived, source, sig):
    instances = _node_io.read_dump(runner(SIGNUMS), source, 4242, "/usr/sbin/keepalived", str(tmp_path))
    assert keepalived == [(4242, sig)]
    assert [(i["name"], i["state"], i["vips"]) for i in instances] == [
        ("VI_1", "MASTER", ["198.51.100.100"]),
        ("VI_2", "BACKUP", ["198.51.100.101"]),
    ]
    assert _node_io.vips_of(instances) == ["198.51.100.100", "198.51.100.101"]


@pytest.mark.parametrize(
    ("order", "pid", "table", "binary", "source", "errors"),
    [
        (["json", "feed"], 4242, SIGNUMS, "/usr/sbin/keepalived", "json", []),
        (["json", "feed"], 4242, {"/usr/sbin/keepalived --signum=JSON": (1, "", "")}, "/usr/sbin/keepalived", "feed",
         ["json: expected `/usr/sbin/keepalived --signum=JSON` to print a signal number, found none (build without JSON?)"]),
        (["json", "data"], None, SIGNUMS, "/usr/sbin/keepalived", None,
         ["json: expected keepalived to run for a json dump, found no live process in /run/keepalived.pid",
          "data: expected keepalived to run for a data dump, found no live process in /run/keepalived.pid"]),
        (["data"], 4242, SIGNUMS, "keepalived", None, ["data: expected the keepalived binary for a data dump, found no keepalived in PATH"]),
    ],
    ids=["json", "no-json-then-feed", "not-running", "no-binary"],
)
def test_read_states(tmp_path, keepalived, order, pid, table, binary, source, errors):
    state = tmp_path / "state"
    state.mkdir()
    (state / "VI_1").write_text((FIXTURES / "lab" / "lb1.state" / "VI_1").read_text())
    found, instances, why = _node_io.read_states(runner(table), order, pid, binary=binary, pid_file="/run/keepalived.pid",
                                                 dump_dir=str(tmp_path), state_dir=str(state))
    assert (found, why) == (source, errors)
    assert bool(instances) is (source is not None)
