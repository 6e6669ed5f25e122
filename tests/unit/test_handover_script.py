"""The keepalived role's hand-over script (roles/keepalived/files/libexec/handover).

Its decisions run against a real `ip -j addr` stand-in and a real HTTP health endpoint
on loopback; only the node's addresses are faked (a file read by a fake `ip`)."""

from __future__ import annotations

import json
import os
import pathlib
import threading

import pytest

from tests.helpers import direct_render, node_scripts

ho = node_scripts.load_script("handover")


@pytest.fixture
def health():
    with node_scripts.health_endpoint() as srv:
        yield srv


@pytest.fixture
def peer(health):
    return health.url


@pytest.fixture
def node(tmp_path, monkeypatch):
    """This node's addresses: a fake `ip` on PATH printing what the test says it holds."""
    addrs = tmp_path / "addrs.json"
    addrs.write_text("[]")
    fake = tmp_path / "bin" / "ip"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat {addrs}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")

    def hold(*vips):
        addrs.write_text(json.dumps([{"ifname": "eth0", "addr_info": [{"local": v} for v in vips]}]))

    return hold


@pytest.fixture(autouse=True)
def keepalived(tmp_path, monkeypatch):
    """keepalived as the script sees it: a live process of the name it looks for."""
    monkeypatch.setattr(ho, "KEEPALIVED", node_scripts.FAKE_KEEPALIVED, raising=False)
    with node_scripts.process(tmp_path, node_scripts.FAKE_KEEPALIVED) as proc:
        (tmp_path / "keepalived.pid").write_text(f"{proc.pid}\n")
        yield proc


def cfg(tmp_path, peers, timeout=0.5, alive=True, pid=None):
    """The script's configuration; the pid file names the live stand-in unless told otherwise."""
    pid_file = tmp_path / "keepalived.pid"
    if pid is not None or not alive:
        pid_file.write_text(f"{pid or 2**22 + 7}\n")
    pid = pid_file
    return {
        "pid_file": str(pid),
        "vips": ["198.51.100.100", "198.51.100.101"],
        "peers": [{"host": "lb2", "health_url": u} for u in peers],
        "peer_timeout": 0.3,
        "handover_file": str(tmp_path / "handover"),
        "fault_file": str(tmp_path / "nginx-down"),
        "leaving_file": str(tmp_path / "run" / "halb-pair" / "leaving"),
        "timeout": timeout,
    }


def test_down_drains_when_a_peer_is_healthy_and_waits_until_released(tmp_path, node, peer):
    node("198.51.100.100")
    c = cfg(tmp_path, [peer])
    threading.Timer(0.2, node).start()  # the peer takes the VIP 0.2 s later
    ho.down(c)
    assert (tmp_path / "handover").read_text() == "-253\n"
    assert ho.held(c["vips"]) == []


def test_down_keeps_the_vips_without_a_healthy_peer(tmp_path, node, peer, health):
    node("198.51.100.100")
    health.status = 503
    ho.down(cfg(tmp_path, [peer, "http://127.0.0.1:9/healthz"]))
    assert not (tmp_path / "handover").exists()


def test_down_does_nothing_when_holding_no_vip(tmp_path, node, peer):
    node("198.51.100.200")
    ho.down(cfg(tmp_path, [peer]))
    assert not (tmp_path / "handover").exists()


def test_down_is_bounded_in_time(tmp_path, node, peer):
    import time

    node("198.51.100.101")
    t0 = time.monotonic()
    ho.down(cfg(tmp_path, [peer], timeout=0.3))
    assert time.monotonic() - t0 < 2
    assert (tmp_path / "handover").read_text() == "-253\n"


def test_nginx_down_faults_only_with_a_healthy_peer(tmp_path, node, peer):
    c = cfg(tmp_path, [peer])
    assert ho.main(["handover", "nginx-down", _write(tmp_path, c)]) == 0
    assert (tmp_path / "nginx-down").read_text() == "1\n"
    assert ho.main(["handover", "nginx-up", _write(tmp_path, c)]) == 0
    assert (tmp_path / "nginx-down").read_text() == "0\n"
    (tmp_path / "nginx-down").unlink()
    c = cfg(tmp_path, ["http://127.0.0.1:9/healthz"])
    assert ho.main(["handover", "nginx-down", _write(tmp_path, c)]) == 0
    assert not (tmp_path / "nginx-down").exists()


def test_never_fails_its_unit(tmp_path):
    assert ho.main(["handover", "down", str(tmp_path / "missing.json")]) == 0
    assert ho.main(["handover", "bogus", _write(tmp_path, {})]) == 0


def _write(tmp_path, c):
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps(c))
    return str(f)


def test_down_does_nothing_when_keepalived_is_dead(tmp_path, node, peer):
    # a SIGKILLed keepalived restarted by systemd: its stale VIP cannot be handed over
    node("198.51.100.100")
    ho.down(cfg(tmp_path, [peer], alive=False))
    assert not (tmp_path / "handover").exists()


def test_down_writes_the_configured_value_fault_for_nopreempt(tmp_path, node, peer):
    # nopreempt: the model asks for -254 (below -253 with weight 1: FAULT, a priority-0 advert)
    node("198.51.100.100")
    c = {**cfg(tmp_path, [peer]), "handover_value": -254}
    threading.Timer(0.2, node).start()
    ho.down(c)
    assert (tmp_path / "handover").read_text() == "-254\n"
    assert ho.held(c["vips"]) == []


def test_down_does_nothing_when_the_pid_file_names_another_program(tmp_path, node, peer):
    # keepalived gone, its stale pid file's pid reused by an unrelated program: not keepalived
    node("198.51.100.100")
    with node_scripts.process(tmp_path, "sleep") as unrelated:
        ho.down(cfg(tmp_path, [peer], pid=unrelated.pid))
        assert node_scripts.alive(unrelated)
    assert not (tmp_path / "handover").exists()


def test_down_does_nothing_when_the_pid_file_is_a_link(tmp_path, node, peer):
    node("198.51.100.100")
    c = cfg(tmp_path, [peer])
    real = tmp_path / "real.pid"
    os.rename(c["pid_file"], real)
    os.symlink(real, c["pid_file"])
    ho.down(c)
    assert not (tmp_path / "handover").exists()


def test_nginx_dropin_never_lets_the_helper_stop_nginx():
    """ExecStartPost= without "-" fails nginx's start when the helper cannot run."""
    text = direct_render.render("keepalived", "nginx-handover.conf.j2", {
        "keepalived_libexec_dir": "/usr/local/libexec/halb-pair",
        "__keepalived_handover_config": "/etc/keepalived/halb-pair-handover.json"})
    execs = [line for line in text.splitlines() if line.startswith("Exec")]
    assert execs == [
        "ExecStartPost=-/usr/local/libexec/halb-pair/handover nginx-up /etc/keepalived/halb-pair-handover.json",
        "ExecStopPost=-/usr/local/libexec/halb-pair/handover nginx-down /etc/keepalived/halb-pair-handover.json",
    ]


# --- A node that is leaving is not a healthy peer (issue 17, finding 7) ----------------
# Each of these fails on the script before it: it neither wrote nor read X-HALB-Leaving.


@pytest.fixture
def leaving_peer():
    """A second peer, whose nginx answers 200 with X-HALB-Leaving: 1 (it is stopping too)."""
    with node_scripts.health_endpoint() as srv:
        srv.leaving = True
        yield srv


def test_a_leaving_peer_is_not_healthy(tmp_path, health, leaving_peer):
    assert ho.healthy(health.url, 0.3)
    assert not ho.healthy(leaving_peer.url, 0.3)
    c = {**cfg(tmp_path, []), "peers": [{"host": "lb2", "health_url": health.url}, {"host": "lb3", "health_url": leaving_peer.url}]}
    assert ho.healthy_peers(c) == ["lb2"]


def test_down_keeps_the_vips_when_its_only_peer_is_leaving(tmp_path, node, leaving_peer):
    node("198.51.100.100")
    ho.down(cfg(tmp_path, [leaving_peer.url], timeout=0.3))
    assert not (tmp_path / "handover").exists()
    assert ho.held(["198.51.100.100"]) == ["198.51.100.100"]


def test_down_writes_the_leaving_file_before_asking_the_peers(tmp_path, node, health):
    node("198.51.100.100")
    c = cfg(tmp_path, [health.url], timeout=0.2)
    seen = []
    health.on_request = lambda: seen.append(os.path.exists(c["leaving_file"]))
    ho.down(c)
    assert seen == [True]
    assert (tmp_path / "handover").read_text() == "-253\n"


def test_down_marks_the_node_leaving_even_without_a_vip(tmp_path, node, health):
    # a backup that stops is no peer to hand over to either
    node()
    c = cfg(tmp_path, [health.url])
    ho.down(c)
    assert os.path.isfile(c["leaving_file"])


def test_up_removes_the_leaving_file(tmp_path):
    c = cfg(tmp_path, [])
    os.makedirs(os.path.dirname(c["leaving_file"]))
    open(c["leaving_file"], "w").close()
    assert ho.main(["handover", "up", _write(tmp_path, c)]) == 0
    assert not os.path.lexists(c["leaving_file"])
    assert (tmp_path / "handover").read_text() == "0\n"


def test_nginx_down_with_a_leaving_peer_does_not_fault(tmp_path, leaving_peer):
    c = cfg(tmp_path, [leaving_peer.url])
    assert ho.main(["handover", "nginx-down", _write(tmp_path, c)]) == 0
    assert not (tmp_path / "nginx-down").exists()


def test_the_leaving_directory_is_created_root_only_writable(tmp_path, node):
    c = cfg(tmp_path, [])
    ho.down(c)
    d = os.path.dirname(c["leaving_file"])
    assert os.stat(d).st_mode & 0o777 == 0o755
    assert os.stat(os.path.dirname(d)).st_mode & 0o777 == 0o755
    assert os.stat(c["leaving_file"]).st_mode & 0o777 == 0o644


def test_the_leaving_file_never_follows_a_link(tmp_path, node):
    c = cfg(tmp_path, [])
    os.makedirs(os.path.dirname(c["leaving_file"]))
    target = tmp_path / "precious"
    target.write_text("keep\n")
    os.symlink(target, c["leaving_file"])
    ho.down(c)
    assert target.read_text() == "keep\n"
    assert os.path.isfile(c["leaving_file"]) and not os.path.islink(c["leaving_file"])
    os.unlink(c["leaving_file"])
    os.symlink(target, c["leaving_file"])
    ho.main(["handover", "up", _write(tmp_path, c)])
    assert target.read_text() == "keep\n"
    assert not os.path.lexists(c["leaving_file"])


def test_no_leaving_file_in_a_directory_others_may_write(tmp_path, node, health):
    # the directory is not this node's own: nothing written there, the hand-over goes on
    node("198.51.100.100")
    c = cfg(tmp_path, [health.url], timeout=0.2)
    os.makedirs(os.path.dirname(c["leaving_file"]))
    os.chmod(os.path.dirname(c["leaving_file"]), 0o777)
    ho.down(c)
    assert not os.path.lexists(c["leaving_file"])
    assert (tmp_path / "handover").read_text() == "-253\n"


def test_two_nodes_stopping_together_never_both_hand_over_nor_both_fault(tmp_path, node):
    """systemctl restart nginx on both nodes of a dual-master pair: each node's `down`, then
    its `nginx-down`, at the same moment. Each peer's health endpoint answers as its nginx
    does: X-HALB-Leaving while that node's leaving file exists. At most one node lowers its
    priority, and neither goes to FAULT: some node keeps holding the VIPs."""
    node("198.51.100.100", "198.51.100.101")
    with node_scripts.health_endpoint() as h1, node_scripts.health_endpoint() as h2:
        for round_ in range(15):
            base = tmp_path / f"r{round_}"
            cfgs = {}
            for me, other in (("lb1", h2), ("lb2", h1)):
                d = base / me
                cfgs[me] = {**cfg(tmp_path, [other.url], timeout=0.1), "handover_file": str(d / "handover"),
                            "fault_file": str(d / "nginx-down"), "leaving_file": str(d / "leaving")}
            h1.leaving, h2.leaving = cfgs["lb1"]["leaving_file"], cfgs["lb2"]["leaving_file"]
            start = threading.Barrier(2)

            def stop(c, start):
                start.wait()
                ho.down(c)
                ho.main(["handover", "nginx-down", _write(pathlib.Path(os.path.dirname(c["leaving_file"])), c)])

            threads = [threading.Thread(target=stop, args=(c, start)) for c in cfgs.values()]
            for t_ in threads:
                t_.start()
            for t_ in threads:
                t_.join()
            handed = [me for me, c in cfgs.items() if os.path.exists(c["handover_file"])]
            faulted = [me for me, c in cfgs.items() if os.path.exists(c["fault_file"])]
            assert len(handed) <= 1, f"round {round_}: both nodes handed over"
            assert faulted == [], f"round {round_}: {faulted} went to FAULT beside a leaving peer"
