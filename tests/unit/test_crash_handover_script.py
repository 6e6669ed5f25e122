"""The keepalived role's crash hand-over script (roles/keepalived/files/libexec/crash-handover)
and the unit drop-in that runs it.

Its decisions run against real state-feed files, a real HTTP health endpoint on loopback
and a socket pair standing in for the VRRP listener; only sending, the node's addresses
and `ip addr del` are recorded instead of done."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_advert

from tests.helpers import direct_render, node_scripts
from tests.helpers.ownership import give_away

sys.modules.setdefault("_vrrp_advert", _vrrp_advert)  # on a node: the copy next to the script
ch = node_scripts.load_script("crash-handover")

SRC, PEER, VIP = "198.51.100.11", "198.51.100.12", "198.51.100.110"


@pytest.fixture
def health():
    with node_scripts.health_endpoint() as srv:
        yield srv


class Node:
    """What the script sees and does on the node."""

    def __init__(self, tmp_path, monkeypatch, health):
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir()
        self.addrs = {SRC}
        self.sent: list[tuple[str, bytes]] = []
        self.deleted: list[list[str]] = []
        self.peer_adverts: list[bytes] = []
        monkeypatch.setattr(ch, "held", lambda: set(self.addrs))
        monkeypatch.setattr(ch, "send", lambda inst: self.sent.extend(_vrrp_advert.packets(inst, 0)))
        monkeypatch.setattr(ch, "listener", self._listener)
        self.peer_holds: set[str] = set()  # the VIPs a peer answers ARP for
        monkeypatch.setattr(ch, "arp_holders", lambda vips: {v["address"] for v in vips} & self.peer_holds, raising=False)
        monkeypatch.setattr(ch.subprocess, "run", lambda argv, **kw: self.deleted.append(argv))
        self.cfg = _vrrp_advert.load_config(
            {
                "state_dir": str(self.state_dir),
                "peers": [{"host": "lb2", "health_url": health.url}],
                "wait": 0.5,
                "release_delay": 0,
                "instances": [
                    {
                        "name": "VI_1", "vrid": 55, "version": 2, "advert_int": 1, "interface": "eth0", "source": SRC,
                        "vips": [{"address": VIP, "cidr": VIP + "/24", "dev": "eth0", "label": "eth0:1"}], "auth_pass": "s3cret",
                    }
                ],
            }
        )

    def _listener(self, insts):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for pkt in self.peer_adverts:
            theirs.send(pkt)
        self._keep = theirs
        return mine

    def feed(self, state):
        (self.state_dir / "VI_1").write_text(f'INSTANCE "VI_1" {state} 150 1764031200.123\n')

    def peer_takes_over(self, prio=100, vrid=55):
        head = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0]) + ipaddress.IPv4Address(PEER).packed + bytes([224, 0, 0, 18])
        self.peer_adverts.append(head + _vrrp_advert.advert(2, vrid, prio, [VIP], 1, "s3cret"))


@pytest.fixture
def node(tmp_path, monkeypatch, health):
    return Node(tmp_path, monkeypatch, health)


EXIT_CODES = {"signal": "killed", "core-dump": "dumped", "success": "killed", "exit-code": "exited", "timeout": "killed"}


def killed(monkeypatch, result="signal"):
    """What systemd gives ExecStopPost= after keepalived ended with ``result``."""
    monkeypatch.setenv("SERVICE_RESULT", result)
    monkeypatch.setenv("EXIT_CODE", EXIT_CODES[result])


def test_sigkill_as_master_sends_priority_0_and_removes_the_stale_vip_once_the_peer_holds(node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    node.addrs.add(VIP)
    node.peer_takes_over()
    ch.run(node.cfg)
    assert [(d, p[2]) for d, p in node.sent] == [("224.0.0.18", 0), ("224.0.0.18", 0)]  # twice, priority 0
    assert node.sent[0][1][12:20] == b"s3cret\0\0"
    assert node.deleted == [["ip", "addr", "del", VIP + "/24", "dev", "eth0"]]


def test_stale_vip_alone_is_enough_to_know_it_was_master(node, monkeypatch):
    killed(monkeypatch, "core-dump")
    node.addrs.add(VIP)  # no state feed yet
    node.peer_takes_over()
    ch.run(node.cfg)
    assert len(node.sent) == 2 and node.deleted


def test_clean_stop_does_nothing(node, monkeypatch):
    killed(monkeypatch, "success")
    node.feed("MASTER")
    node.addrs.add(VIP)
    node.peer_takes_over()
    ch.run(node.cfg)
    assert node.sent == [] and node.deleted == []


def test_backup_or_fault_node_sends_nothing(node, monkeypatch):
    killed(monkeypatch)
    node.feed("FAULT")  # nginx down: keepalived sent priority 0 itself when it went to FAULT
    ch.run(node.cfg)
    assert node.sent == []


def test_no_healthy_peer_keeps_the_vips_and_sends_nothing(node, health, monkeypatch):
    # an unhealthy peer in BACKUP (check weight) would take over at its skew time with a
    # broken nginx; one in FAULT would ignore the advert: either way the stale VIP serves
    killed(monkeypatch)
    node.feed("MASTER")
    node.addrs.add(VIP)
    node.peer_takes_over()
    health.status = 503
    ch.run(node.cfg)
    assert node.sent == [] and node.deleted == []


def test_nobody_takes_over_the_vips_stay(node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    node.addrs.add(VIP)
    node.peer_takes_over(prio=0)  # a releasing advert is not a takeover
    node.peer_takes_over(vrid=56)  # another instance's master
    ch.run(node.cfg)
    assert len(node.sent) == 2
    assert node.deleted == []


def test_a_vip_the_dying_keepalived_removed_is_put_back_until_the_peer_holds(node, monkeypatch):
    # SIGTERM from its parent's death, then SIGKILL: the VIP gone, no priority-0 advert sent
    killed(monkeypatch)
    node.feed("MASTER")
    node.peer_takes_over()
    ch.run(node.cfg)
    assert len(node.sent) == 2
    assert node.deleted == [
        ["ip", "addr", "add", VIP + "/24", "dev", "eth0", "label", "eth0:1"],
        ["ip", "addr", "del", VIP + "/24", "dev", "eth0"],
    ]


def test_a_put_back_vip_stays_when_nobody_takes_over(node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    ch.run(node.cfg)
    assert node.deleted == [["ip", "addr", "add", VIP + "/24", "dev", "eth0", "label", "eth0:1"]]


@pytest.mark.parametrize("result", ["exit-code", "timeout"])
def test_a_failed_start_neither_puts_back_nor_announces(node, monkeypatch, result):
    """keepalived failed to start (its config refused, a start that timed out): the state
    feed's MASTER is from an older run and the VIP is the peer's now."""
    killed(monkeypatch, result)
    node.feed("MASTER")
    node.peer_takes_over()
    ch.run(node.cfg)
    assert node.sent == [] and node.deleted == []


def test_a_vip_a_peer_holds_is_neither_put_back_nor_announced(node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    node.peer_holds.add(VIP)  # the peer answers ARP for it: it is MASTER already
    node.peer_takes_over()
    ch.run(node.cfg)
    assert node.sent == [] and node.deleted == []


def test_a_stale_vip_is_released_even_when_a_peer_holds_it_too(node, monkeypatch):
    # both hold it (split brain after the kill): the priority-0 advert and the removal end it
    killed(monkeypatch)
    node.feed("MASTER")
    node.addrs.add(VIP)
    node.peer_holds.add(VIP)
    node.peer_takes_over()
    ch.run(node.cfg)
    assert len(node.sent) == 2
    assert node.deleted == [["ip", "addr", "del", VIP + "/24", "dev", "eth0"]]


def test_a_link_planted_in_the_state_dir_is_not_followed(node, tmp_path, monkeypatch):
    """The state directory belongs to the script user: a link there is not a state."""
    killed(monkeypatch)
    planted = tmp_path / "planted"
    planted.write_text('INSTANCE "VI_1" MASTER 150 1764031200.123\n')
    (node.state_dir / "VI_1").symlink_to(planted)
    node.peer_takes_over()
    ch.run(node.cfg)
    assert node.sent == [] and node.deleted == []


def test_a_fifo_planted_in_the_state_dir_does_not_block_the_restart(node, monkeypatch):
    import threading

    killed(monkeypatch)
    os.mkfifo(node.state_dir / "VI_1")
    done = threading.Event()
    threading.Thread(target=lambda: (ch.states(str(node.state_dir), ["VI_1"]), done.set()), daemon=True).start()
    assert done.wait(2), "crash-handover blocked on a FIFO in the state directory"
    assert ch.states(str(node.state_dir), ["VI_1"]) == {"VI_1": None}


def test_a_file_of_another_user_in_the_state_dir_is_not_read(node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    give_away(monkeypatch, node.state_dir / "VI_1")  # neither root nor the directory's owner
    assert ch.states(str(node.state_dir), ["VI_1"]) == {"VI_1": None}
    give_away(monkeypatch, node.state_dir)  # the script user's directory: its files are its own
    assert ch.states(str(node.state_dir), ["VI_1"]) == {"VI_1": "MASTER"}


def test_check_validates_the_file(tmp_path, node):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(node.cfg))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**node.cfg, "instances": [{**node.cfg["instances"][0], "vrid": 300}]}))
    assert ch.main(["crash-handover", "check", str(good)]) == 0
    assert ch.main(["crash-handover", "check", str(bad)]) == 1
    assert ch.main(["crash-handover", "check", str(tmp_path / "missing.json")]) == 1
    assert ch.main(["crash-handover", "run", str(tmp_path / "missing.json")]) == 0  # never fails the unit


def test_an_error_while_running_never_fails_the_unit(tmp_path, node, monkeypatch):
    killed(monkeypatch)
    node.feed("MASTER")
    monkeypatch.setattr(ch, "healthy_peer", lambda cfg: 1 / 0)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(node.cfg))
    assert ch.main(["crash-handover", "run", str(good)]) == 0


# --------------------------------------------------------------------------- the drop-in


@pytest.mark.parametrize("on", [True, False])
def test_dropin_runs_the_script_after_the_unit_ends_only_when_on(on):
    text = direct_render.render("keepalived", "keepalived-restart.conf.j2", {
        "__keepalived_crash_on": on, "keepalived_libexec_dir": "/usr/local/libexec/halb-pair",
        "__keepalived_crash_config": "/etc/keepalived/halb-pair-crash.json"})
    assert "Restart=on-failure" in text and "RestartSec=1s" in text
    line = "ExecStopPost=-/usr/local/libexec/halb-pair/crash-handover run /etc/keepalived/halb-pair-crash.json"
    assert (line in text.splitlines()) is on
