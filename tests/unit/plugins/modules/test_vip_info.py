# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import signal

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _node_io
from ansible_collections.halb.pair.plugins.modules import vip_info

from tests.helpers import node_scripts

IP_WITH_VIP = json.dumps(
    [
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
        {
            "ifname": "eth0",
            "addr_info": [
                {"family": "inet", "local": "198.51.100.11", "prefixlen": 24, "scope": "global", "label": "eth0"},
                {"family": "inet", "local": "198.51.100.100", "prefixlen": 24, "scope": "global", "label": "eth0"},
            ],
        },
    ]
)
JSON_DUMP = json.dumps(
    [
        {
            "data": {
                "iname": "VI_1",
                "state": 2,
                "vrid": 55,
                "base_priority": 150,
                "effective_priority": 150,
                "ifp_ifname": "eth0",
                "vips": ["198.51.100.100/24 dev eth0 scope global"],
            }
        },
        {
            "data": {
                "iname": "VI_2",
                "state": 1,
                "vrid": 56,
                "base_priority": 100,
                "effective_priority": 100,
                "ifp_ifname": "eth0",
                "vips": ["198.51.100.101/24 dev eth0 scope global"],
            }
        },
    ]
)
HEALTH = {"url": "http://127.0.0.1:8081/healthz", "status": 200, "latency_ms": 1.5, "node": "lb1", "healthy": True, "error": None}


def commands(ip=IP_WITH_VIP, json_signum="36\n", version="Keepalived v2.2.7 (01/16,2022)\n"):
    def run(argv):
        if argv[1:] == ["-j", "addr", "show"]:
            return (0, ip, "") if ip is not None else (255, "", "RTNETLINK answers: Operation not permitted")
        if argv[1:] == ["--version"]:
            return 0, "", version
        if argv[1:] == ["--signum=JSON"]:
            return (0, json_signum, "") if json_signum else (1, "", "Unknown signal JSON")
        if argv[1:] == ["--signum=DATA"]:
            return 0, "10\n", ""
        raise AssertionError(f"unexpected command {argv}")

    return run


@pytest.fixture
def keepalived(tmp_path, monkeypatch):
    """A live stand-in for keepalived: a process the identity check takes for keepalived's own."""
    monkeypatch.setattr(_node_io, "KEEPALIVED_COMM", node_scripts.FAKE_KEEPALIVED, raising=False)
    with node_scripts.process(tmp_path, node_scripts.FAKE_KEEPALIVED) as proc:
        yield proc


@pytest.fixture
def node(tmp_path, monkeypatch, keepalived):
    """A fake node: pid file naming a live keepalived stand-in, drain file, state feed; dumps faked."""
    pid_file = tmp_path / "keepalived.pid"
    pid_file.write_text(f"{keepalived.pid}\n")
    drain = tmp_path / "drain"
    drain.write_text("0\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "VI_1").write_text('INSTANCE "VI_1" MASTER 150 1764031200.1\n')
    dumps = {"keepalived.json": JSON_DUMP, "keepalived.data": None}
    signals = []

    def request_dump(pid, sig, path, parse, timeout=3.0, **kw):
        signals.append((pid, sig, os.path.basename(path)))
        text = dumps[os.path.basename(path)]
        if text is None:
            raise _node_io.NodeError(f"expected keepalived to write a fresh {path} within {timeout:g} s of the signal, found no new file")
        return parse(text)

    monkeypatch.setattr(_node_io, "request_dump", request_dump)
    monkeypatch.setattr(_node_io, "http_health", lambda url, timeout=2.0, **kw: dict(HEALTH, url=url))
    args = {"pid_file": str(pid_file), "drain_file": str(drain), "state_dir": str(state), "dump_dir": str(tmp_path)}
    return {"args": args, "signals": signals, "dumps": dumps, "drain": drain, "pid_file": pid_file, "state": state,
            "pid": keepalived.pid}


def test_auto_uses_json_when_running(run_module, node):
    kind, result = run_module(vip_info.main, dict(node["args"], vips=["198.51.100.100/24"]), commands())
    assert kind == "exit"
    assert result["changed"] is False
    assert result["source"] == "json"
    assert result["source_errors"] == []
    assert [(i["name"], i["state"], i["effective_priority"]) for i in result["instances"]] == [
        ("VI_1", "MASTER", 150),
        ("VI_2", "BACKUP", 100),
    ]
    # VIPs asked for plus those keepalived knows; only .100 is held.
    assert [(v["address"], v["present"], v["dev"]) for v in result["vips"]] == [
        ("198.51.100.100", True, "eth0"),
        ("198.51.100.101", False, None),
    ]
    assert result["held_vips"] == ["198.51.100.100"]
    assert result["addresses"] == {"eth0": ["198.51.100.11/24", "198.51.100.100/24"]}
    assert result["keepalived"] == {"running": True, "pid": node["pid"], "version": "2.2.7", "json_supported": True}
    assert result["drain"] == {"path": node["args"]["drain_file"], "value": 0, "status": "active", "drained": False}
    assert result["nginx"]["status"] == 200
    assert result["stale"] is False
    assert node["signals"] == [(node["pid"], 36, "keepalived.json")]


def test_auto_falls_back_to_feed_without_json(run_module, node):
    kind, result = run_module(vip_info.main, node["args"], commands(json_signum=None))
    assert kind == "exit"
    assert result["source"] == "feed"
    assert result["keepalived"]["json_supported"] is False
    assert [(i["name"], i["state"]) for i in result["instances"]] == [("VI_1", "MASTER")]
    assert node["signals"] == []


def test_auto_reports_json_failure_then_uses_feed(run_module, node):
    node["dumps"]["keepalived.json"] = "[{"
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "exit"
    assert result["source"] == "feed"
    assert result["source_errors"][0].startswith("json: expected keepalived's JSON dump, found invalid JSON")


def test_feed_is_stale_when_keepalived_stopped(run_module, node):
    node["pid_file"].unlink()
    (node["drain"]).write_text("-253\n")
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "exit"
    assert result["source"] == "feed"
    assert result["stale"] is True
    assert result["keepalived"]["running"] is False
    assert result["drain"]["drained"] is True
    assert node["signals"] == []


def test_nothing_to_read(run_module, node):
    node["pid_file"].unlink()
    (node["state"] / "VI_1").unlink()
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "exit"
    assert result["source"] is None
    assert result["instances"] == []
    assert "not running" in result["source_errors"][-1]


def test_named_source_that_fails_fails_the_module(run_module, node):
    kind, result = run_module(vip_info.main, dict(node["args"], source="data"), commands())
    assert kind == "fail"
    assert result["msg"].startswith("expected keepalived's instance states from source data, found: data: expected keepalived to write a fresh")


def test_ip_failure_fails(run_module, node):
    kind, result = run_module(vip_info.main, node["args"], commands(ip=None))
    assert kind == "fail"
    assert "rc=255" in result["msg"]


def test_bad_vip_fails(run_module, node):
    kind, result = run_module(vip_info.main, dict(node["args"], vips=["lb-vip"]), commands())
    assert kind == "fail"
    assert result["msg"].startswith("vips: expected an IP address")


def test_bad_drain_file_fails(run_module, node):
    node["drain"].write_text("drained\n")
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "fail"
    assert "expected an integer" in result["msg"]


def test_health_skipped(run_module, node):
    kind, result = run_module(vip_info.main, dict(node["args"], health_url=""), commands())
    assert kind == "exit"
    assert result["nginx"]["healthy"] is None
    assert result["nginx"]["error"] == "not checked"


def test_check_mode_same_answer(run_module, node):
    kind, result = run_module(vip_info.main, node["args"], commands(), check_mode=True)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["source"] == "json"


def test_keepalived_not_installed(run_module, node):
    node["pid_file"].unlink()
    kind, result = run_module(vip_info.main, node["args"], commands(), missing=("keepalived", "nft"))
    assert kind == "exit"
    assert result["keepalived"] == {"running": False, "pid": None, "version": None, "json_supported": False}
    assert result["source"] == "feed"
    assert all(call[0].endswith("/ip") for call in result["_calls"])


def test_a_malformed_dump_never_returns_the_password(run_module, node):
    """A malformed item is quoted in source_errors: without auth_data, the VRRP password."""
    secret = "pw#s3cr3"
    node["dumps"]["keepalived.json"] = json.dumps([{"data": {"iname": "VI_1", "auth_type": 1, "auth_data": secret}}])
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "exit"
    assert result["source"] == "feed"
    assert result["source_errors"][0].startswith("json: expected {'data': {'iname': ..., 'state': ...}} per instance, found")
    assert "VI_1" in result["source_errors"][0]
    assert secret not in json.dumps(result)
    assert "auth_data" not in json.dumps(result)


GUARD_READ = ["-j", "list", "table", "inet", "halb_pair_vrrp"]


def _nft_table(counters, sets):
    """`nft -j list table inet halb_pair_vrrp` as nftables 1.0.6 prints it (recorded in a
    network namespace; chains and rules left out): ``counters`` name -> (packets, bytes),
    ``sets`` name -> elements (None: a guard written before that set existed)."""
    items = [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
             {"table": {"family": "inet", "name": "halb_pair_vrrp", "handle": 2}}]
    items += [{"counter": {"family": "inet", "name": name, "table": "halb_pair_vrrp", "handle": 3 + i, "packets": p, "bytes": b}}
              for i, (name, (p, b)) in enumerate(counters.items())]
    items += [{"set": {"family": "inet", "name": name, "table": "halb_pair_vrrp", "type": "ipv4_addr" if name.endswith("4") else "ipv6_addr",
                       "handle": 7 + i, "size": 1024, "flags": ["timeout"], "timeout": 3600, **({"elem": elems} if elems else {})}}
              for i, (name, elems) in enumerate(sets.items()) if elems is not None]
    return json.dumps({"nftables": items})


def test_the_vrrp_guard_counters_are_returned(run_module, node):
    # a guard written before the stranger sets: counters only
    table = _nft_table({"vrrp_peer": (3, 120), "vrrp_spoofed": (12, 480), "vrrp_other": (0, 0)}, {})
    base = commands()

    def run(argv):
        if argv[1:] == GUARD_READ:
            return 0, table, ""
        return base(argv)

    kind, result = run_module(vip_info.main, node["args"], run, missing=())
    assert kind == "exit"
    assert result["vrrp_guard"]["vrrp_spoofed"] == {"packets": 12, "bytes": 480}
    assert result["vrrp_strangers"] == []
    # no guard table: nft says so, the module says nothing is guarded
    kind, result = run_module(vip_info.main, node["args"], lambda a: (1, "", "Error: No such file or directory") if a[0].endswith("nft") else base(a),
                              missing=())
    assert result["vrrp_guard"] == {}
    assert result["vrrp_strangers"] == []


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        # an IPv4-only pair's guard has no strangers6
        ({"strangers4": [{"elem": {"val": "198.51.100.13", "expires": 3597}}], "strangers6": None},
         [{"address": "198.51.100.13", "expires": 3597}]),
        ({"strangers4": [], "strangers6": [{"elem": {"val": "fe80::13", "timeout": 600, "expires": 12}}]},
         [{"address": "fe80::13", "expires": 12}]),
        ({"strangers4": ["198.51.100.14"], "strangers6": []}, [{"address": "198.51.100.14", "expires": None}]),
        # a guard written before the sets existed
        ({}, []),
    ],
)
def test_the_vrrp_guard_strangers_are_returned(run_module, node, sets, expected):
    table = _nft_table({"vrrp_spoofed": (9, 360)}, sets)
    base = commands()
    asked = []

    def run(argv):
        if argv[0].endswith("nft"):
            asked.append(argv[1:])
            return (0, table, "") if argv[1:] == GUARD_READ else (1, "", "Error: No such file or directory")
        return base(argv)

    kind, result = run_module(vip_info.main, node["args"], run, missing=())
    assert kind == "exit", result
    assert result["vrrp_strangers"] == expected
    assert result["vrrp_guard"]["vrrp_spoofed"] == {"packets": 9, "bytes": 360}
    assert asked == [GUARD_READ], "one read of the guard's table gives its counters and its sets"


# --------------------------------------------------------------------------- whose pid is signalled


@pytest.mark.parametrize("source", ["auto", "json", "data"])
def test_a_stale_pid_file_naming_another_process_is_never_signalled(run_module, tmp_path, monkeypatch, source):
    """/run/keepalived.pid left behind, its pid reused by an unrelated program (a `sleep`):
    the module reports keepalived not running and sends it nothing (SIGRTMIN+2 would kill it)."""
    monkeypatch.setattr(_node_io, "KEEPALIVED_COMM", node_scripts.FAKE_KEEPALIVED, raising=False)
    state = tmp_path / "state"
    state.mkdir()
    (state / "VI_1").write_text('INSTANCE "VI_1" MASTER 150 1764031200.1\n')
    with node_scripts.process(tmp_path, "sleep") as unrelated:
        pid_file = tmp_path / "keepalived.pid"
        pid_file.write_text(f"{unrelated.pid}\n")
        args = {"pid_file": str(pid_file), "drain_file": str(tmp_path / "drain"), "state_dir": str(state),
                "dump_dir": str(tmp_path), "dump_timeout": 0.2, "health_url": "", "source": source}
        kind, result = run_module(vip_info.main, args, commands(json_signum=f"{signal.SIGRTMIN + 2}\n"))
        assert node_scripts.alive(unrelated), "the unrelated process was signalled"
    if source == "auto":
        assert kind == "exit"
        assert (result["keepalived"]["running"], result["keepalived"]["pid"]) == (False, None)
        assert (result["source"], result["stale"]) == ("feed", True)
    else:
        assert kind == "fail"
        assert f"found no live process in {pid_file}" in result["msg"]


# --------------------------------------------------------------------------- IPVS (LVS) virtual servers

IP_VS = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
    "TCP  C633648C:1F90 rr  \n"
    "  -> C633643F:1F90      Route   1      0          2         \n"
    "  -> C6336440:1F90      Route   0      0          0         \n"
    "UDP  C633648C:0035 rr  \n"
)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (None, None),
        ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
         "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n", []),
        (IP_VS, [("TCP", "198.51.100.140", 8080, [("198.51.100.63", "Route", 1), ("198.51.100.64", "Route", 0)]),
                 ("UDP", "198.51.100.140", 53, [])]),
    ],
    ids=["ip_vs not loaded: null", "loaded, no virtual server: empty", "two virtual servers"],
)
def test_the_virtual_servers_are_returned(run_module, node, tmp_path, monkeypatch, table, expected):
    path = tmp_path / "ip_vs"
    if table is not None:
        path.write_text(table)
    read = _node_io.read_ipvs
    monkeypatch.setattr(_node_io, "read_ipvs", lambda: read(str(path), boot=str(tmp_path)))
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "exit", result
    got = result["virtual_servers"]
    if expected is None:
        assert got is None
    else:
        assert [(v["protocol"], v["address"], v["port"], [(r["address"], r["forward"], r["weight"]) for r in v["real_servers"]])
                for v in got] == expected


def test_a_table_it_cannot_read_fails_the_module_naming_the_line(run_module, node, tmp_path, monkeypatch):
    path = tmp_path / "ip_vs"
    path.write_text(IP_VS + "  -> C633643F:1F90      Bridge  1      0          2\n")
    read = _node_io.read_ipvs
    monkeypatch.setattr(_node_io, "read_ipvs", lambda: read(str(path), boot=str(tmp_path)))
    kind, result = run_module(vip_info.main, node["args"], commands())
    assert kind == "fail"
    assert "expected a forwarding method" in result["msg"] and "Bridge" in result["msg"]
