# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The I/O layer with injected commands, kill, clock; files in tmp_path; HTTP on 127.0.0.1 only."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import stat
import threading

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _keepalived_state, _node_io

from tests.helpers import node_scripts
from tests.helpers.ownership import give_away

NOBODY = 65534

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


@pytest.fixture
def keepalived_proc(tmp_path, monkeypatch):
    """A live stand-in for keepalived (its name is the one the identity check looks for)."""
    monkeypatch.setattr(_node_io, "KEEPALIVED_COMM", node_scripts.FAKE_KEEPALIVED, raising=False)
    with node_scripts.process(tmp_path, node_scripts.FAKE_KEEPALIVED) as proc:
        yield proc


def test_keepalived_pid(tmp_path, keepalived_proc):
    pid_file = tmp_path / "keepalived_proc.pid"
    assert _node_io.keepalived_pid(str(pid_file)) is None
    pid_file.write_text(f"{keepalived_proc.pid}\n")
    assert _node_io.keepalived_pid(str(pid_file)) == keepalived_proc.pid
    pid_file.write_text("garbage")
    assert _node_io.keepalived_pid(str(pid_file)) is None
    # A pid that is certainly not running (above pid_max on Linux).
    pid_file.write_text("4194999\n")
    assert _node_io.keepalived_pid(str(pid_file)) is None


def test_a_pid_file_naming_another_program_is_not_keepalived(tmp_path, keepalived_proc):
    # a stale pid file whose pid was reused: this very test process, or a `sleep`
    pid_file = tmp_path / "keepalived_proc.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    assert _node_io.keepalived_pid(str(pid_file)) is None
    with node_scripts.process(tmp_path, "sleep") as unrelated:
        pid_file.write_text(f"{unrelated.pid}\n")
        assert _node_io.keepalived_pid(str(pid_file)) is None
        pid, why = _node_io.keepalived_process(str(pid_file))
        assert pid is None and why == f"{pid_file} names pid {unrelated.pid}: a process named 'sleep', not {node_scripts.FAKE_KEEPALIVED}"


def test_a_pid_file_that_is_a_link_or_foreign_is_not_trusted(tmp_path, keepalived_proc, monkeypatch):
    real = tmp_path / "real.pid"
    real.write_text(f"{keepalived_proc.pid}\n")
    link = tmp_path / "keepalived_proc.pid"
    link.symlink_to(real)
    assert _node_io.keepalived_pid(str(link)) is None
    give_away(monkeypatch, real, uid=NOBODY)
    assert _node_io.keepalived_pid(str(real)) is None


def test_signal_keepalived_signals_only_keepalived(tmp_path, keepalived_proc):
    with node_scripts.process(tmp_path, "sleep") as unrelated:
        with pytest.raises(OSError, match="a process named 'sleep'"):
            _node_io.signal_keepalived(unrelated.pid, signal.SIGUSR1)
        assert node_scripts.alive(unrelated)
    _node_io.signal_keepalived(keepalived_proc.pid, signal.SIGTERM)
    assert keepalived_proc.wait(5) == -signal.SIGTERM


@pytest.mark.parametrize(
    ("comm", "exe", "uid", "problem"),
    [
        ("halb-fake-ka\n", "/usr/sbin/halb-fake-ka", 0, None),
        ("halb-fake-ka\n", "/usr/sbin/halb-fake-ka (deleted)", 0, None),  # upgraded under it
        ("halb-fake-ka\n", None, 0, None),  # exe unreadable: the name and owner decide
        ("sleep\n", "/usr/bin/sleep", 0, "a process named 'sleep', not halb-fake-ka"),
        ("halb-fake-ka\n", "/tmp/evil", 0, "a process running '/tmp/evil', not halb-fake-ka"),
        ("halb-fake-ka\n", "/usr/sbin/halb-fake-ka", NOBODY, f"a process of uid {NOBODY}, not of 0"),
        (None, None, None, "no such process"),
    ],
)
def test_process_problem(monkeypatch, comm, exe, uid, problem):
    monkeypatch.setattr(_node_io, "KEEPALIVED_COMM", "halb-fake-ka", raising=False)
    assert _node_io.process_problem(comm, exe, uid, {0}) == problem


@pytest.mark.parametrize(
    ("mode", "uid", "problem"),
    [
        (stat.S_IFREG | 0o644, 0, None),
        (stat.S_IFREG | 0o644, 998, None),
        (stat.S_IFREG | 0o644, NOBODY, f"a file of uid {NOBODY}, not of 0 or 998"),
        (stat.S_IFLNK | 0o777, 0, "a symbolic link"),
        (stat.S_IFIFO | 0o644, 0, "a FIFO"),
        (stat.S_IFDIR | 0o755, 0, "a directory"),
        (stat.S_IFCHR | 0o666, 0, "a special file"),
    ],
)
def test_file_problem(mode, uid, problem):
    assert _node_io.file_problem(mode, uid, {0, 998}) == problem


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


def _dump_written_by_keepalived(path, text='[{"data": {"iname": "VI_1", "state": 2}}]'):
    def kill(pid, sig):
        path.write_text(text)
    return kill


def test_request_dump_removes_the_dump_it_read(tmp_path):
    """The dump holds the VRRP password: it is not left in /tmp."""
    path = tmp_path / "keepalived.json"
    instances = _node_io.request_dump(7, 36, str(path), _keepalived_state.parse_json_dump, kill=_dump_written_by_keepalived(path))
    assert [i["name"] for i in instances] == ["VI_1"]
    assert not path.exists()


def test_request_dump_removes_a_dump_left_before_the_signal(tmp_path):
    path = tmp_path / "keepalived.json"
    path.write_text('[{"data": {"iname": "OLD", "state": 2, "auth_data": "s3cret"}}]')
    seen = []
    instances = _node_io.request_dump(7, 36, str(path), _keepalived_state.parse_json_dump,
                                      kill=lambda p, s: seen.append(path.exists()) or path.write_text('[{"data": {"iname": "VI_1", "state": 1}}]'))
    assert seen == [False]  # gone before keepalived was asked to write a new one
    assert [i["name"] for i in instances] == ["VI_1"]


@pytest.mark.parametrize("plant", ["link", "foreign", "fifo", "old"])
def test_request_dump_never_reads_a_planted_file(tmp_path, plant, monkeypatch):
    """/tmp/keepalived.json is a fixed name in a shared directory: a file someone else put
    there after the old one was removed (a link, another user's file, a FIFO, an old mtime)
    is not read, and it is removed at the end."""
    path = tmp_path / "keepalived.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('[{"data": {"iname": "PLANTED", "state": 2}}]')

    def kill(pid, sig):
        if plant == "link":
            path.symlink_to(elsewhere)
        elif plant == "fifo":
            os.mkfifo(path)
        else:
            path.write_text('[{"data": {"iname": "PLANTED", "state": 2}}]')
            if plant == "foreign":
                give_away(monkeypatch, path, uid=NOBODY)
            else:
                os.utime(path, (1, 1))

    clock = FakeClock()
    with pytest.raises(_node_io.NodeError, match="expected keepalived to write a fresh") as err:
        _node_io.request_dump(7, 36, str(path), _keepalived_state.parse_json_dump, timeout=0.2, kill=kill, clock=clock, sleep=clock.sleep)
    assert {"link": "a symbolic link", "foreign": f"a file of uid {NOBODY}", "fifo": "a FIFO", "old": "no new file"}[plant] in str(err.value)
    assert not os.path.lexists(path)
    assert elsewhere.exists()


def test_read_feed(tmp_path):
    assert _node_io.read_feed(str(tmp_path / "missing")) == {}
    (tmp_path / "VI_1").write_text('INSTANCE "VI_1" MASTER 150 1\n')
    (tmp_path / ".VI_1.tmp").write_text("partial")
    (tmp_path / "sub").mkdir()
    assert _node_io.read_feed(str(tmp_path)) == {"VI_1": 'INSTANCE "VI_1" MASTER 150 1\n'}


def test_read_feed_never_follows_what_the_script_user_planted(tmp_path, monkeypatch):
    """The state directory belongs to keepalived's script user: a link to a root-only file,
    a FIFO (a blocking read) or another user's file there is never read."""
    secret = tmp_path / "secret"
    secret.write_text('INSTANCE "VI_9" MASTER 150 1\n')
    os.chmod(secret, 0o600)
    state = tmp_path / "state"
    state.mkdir()
    (state / "VI_1").write_text('INSTANCE "VI_1" MASTER 150 1\n')
    (state / "VI_9").symlink_to(secret)
    os.mkfifo(state / "VI_2")
    (state / "VI_3").write_text('INSTANCE "VI_3" MASTER 150 1\n')
    give_away(monkeypatch, state / "VI_3", uid=NOBODY)
    assert _node_io.read_feed(str(state)) == {"VI_1": 'INSTANCE "VI_1" MASTER 150 1\n'}
    # the directory's own owner (the script user) may own its files
    give_away(monkeypatch, state, uid=NOBODY)
    assert sorted(_node_io.read_feed(str(state))) == ["VI_1", "VI_3"]
    # the directory itself replaced by a link
    moved = tmp_path / "moved"
    state.rename(moved)
    state.symlink_to(moved)
    with pytest.raises(_node_io.NodeError, match="a symbolic link or not a directory"):
        _node_io.read_feed(str(state))


def test_read_text_refuses_links_and_fifos(tmp_path):
    target = tmp_path / "target"
    target.write_text("0\n")
    (tmp_path / "link").symlink_to(target)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(_node_io.NodeError, match="found a symbolic link"):
        _node_io.read_text(str(tmp_path / "link"))
    with pytest.raises(_node_io.NodeError, match="found a FIFO"):
        _node_io.read_text(str(tmp_path / "fifo"))  # does not block


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


# --- reader_gone: the module's output has no reader (the controller went away) ---


def _pipe_closed_reader():
    r, w = os.pipe()
    os.close(r)
    return w, []


def _pipe_open_reader():
    r, w = os.pipe()
    return w, [r]


def _socket_peer_closed():
    a, b = socket.socketpair()
    b.close()
    return a.detach(), []


def _socket_peer_open():
    a, b = socket.socketpair()
    return a.detach(), [b.detach()]


def _regular_file(tmp_path):
    return os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT), []


@pytest.mark.parametrize(
    ("make", "gone"),
    [(_pipe_closed_reader, True), (_pipe_open_reader, False), (_socket_peer_closed, True), (_socket_peer_open, False)],
    ids=["pipe-reader-closed", "pipe-reader-open", "socket-peer-closed", "socket-peer-open"],
)
def test_reader_gone_reads_the_other_end_of_the_output(make, gone):
    fd, keep = make()
    try:
        assert _node_io.reader_gone(fd) is gone
    finally:
        for f in (fd, *keep):
            os.close(f)


def test_reader_gone_is_false_for_a_file_and_a_closed_descriptor(tmp_path):
    fd = _regular_file(tmp_path)[0]
    assert _node_io.reader_gone(fd) is False
    os.close(fd)
    assert _node_io.reader_gone(fd) is False  # poll reports POLLNVAL: not a reader that left


IP_VS = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
    "TCP  C633648C:1F90 rr persistent 75000 FFFFFFFF\n"
    "  -> C633643F:1F90      Route   1      0          2         \n"
)


def test_read_ipvs_missing_is_none_not_an_error(tmp_path):
    """No /proc/net/ip_vs: ip_vs is not loaded, a node without LVS."""
    assert _node_io.read_ipvs(str(tmp_path / "ip_vs"), boot=str(tmp_path)) is None


@pytest.mark.parametrize(("config", "persistent"), [("CONFIG_HZ_250=y\nCONFIG_HZ=250\n", 300), (None, None)],
                         ids=["HZ from the kernel's config", "no config: seconds unknown"])
def test_read_ipvs_with_and_without_the_kernels_hz(tmp_path, config, persistent):
    (tmp_path / "ip_vs").write_text(IP_VS)
    if config is not None:
        (tmp_path / f"config-{os.uname().release}").write_text(config)
    [vs] = _node_io.read_ipvs(str(tmp_path / "ip_vs"), boot=str(tmp_path))
    assert (vs["address"], vs["port"], vs["flags"], vs["persistent"]) == ("198.51.100.140", 8080, ["persistent"], persistent)
    assert [(r["address"], r["weight"], r["inactive"]) for r in vs["real_servers"]] == [("198.51.100.63", 1, 2)]


def test_read_ipvs_names_the_file_of_a_line_it_cannot_read(tmp_path):
    (tmp_path / "ip_vs").write_text(IP_VS + "  -> C633643F:1F90      Bridge  1      0          2\n")
    with pytest.raises(_node_io.NodeError, match=r"ip_vs: expected a forwarding method"):
        _node_io.read_ipvs(str(tmp_path / "ip_vs"), boot=str(tmp_path))
