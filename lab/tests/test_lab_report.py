"""scripts/lab's view of the lab: read from the inventory, not copied into the script."""

from __future__ import annotations

import pytest
from halb_lab import lab_report as lr


def test_the_lab_inventory_gives_the_nodes_and_vips():
    """Written from lab/inventory/hosts.yml and group_vars/lb.yml by hand."""
    groups, hostvars = lr.read_inventory("lab/inventory")
    assert lr.nodes(groups, hostvars) == [
        ("halb-lab-lb1", "lb1", "198.51.100.11", "lb"),
        ("halb-lab-lb2", "lb2", "198.51.100.12", "lb"),
        ("halb-lab-web1", "web1", "198.51.100.21", "other"),
        ("halb-lab-web2", "web2", "198.51.100.22", "other"),
        ("halb-lab-client", "client", "198.51.100.30", "other"),
    ]
    [pair] = lr.lab_pairs(groups, hostvars)
    assert (pair.group, pair.hosts, pair.addresses) == ("lb", ["lb1", "lb2"], ["198.51.100.100", "198.51.100.101"])


def test_two_pairs_are_both_seen():
    groups, hostvars = lr.read_inventory("inventories/two_pairs")
    assert [(p.group, p.addresses) for p in lr.lab_pairs(groups, hostvars)] == [
        ("lb_eu", ["198.51.100.160"]), ("lb_us", ["198.51.100.170", "198.51.100.171"])]


def test_group_members_follow_children():
    listing = {"all": {"children": ["lb", "web"]}, "lb": {"children": ["lb_eu", "lb_us"]},
               "lb_eu": {"hosts": ["eu1", "eu2"]}, "lb_us": {"hosts": ["us1"]}, "web": {"hosts": ["w1"]},
               "_meta": {"hostvars": {}}}
    groups = lr.group_members(listing)
    assert groups["lb"] == ["eu1", "eu2", "us1"]
    assert groups["all"] == ["eu1", "eu2", "us1", "w1"]


@pytest.mark.parametrize(
    ("holders", "expected"),
    [
        ({"198.51.100.100": ["lb1"], "198.51.100.101": ["lb2"]}, True),
        # scripts/lab up used to report this: lb2 had not preempted VI_2 yet
        ({"198.51.100.100": ["lb1"], "198.51.100.101": ["lb1"]}, False),
        ({"198.51.100.100": ["lb1", "lb2"], "198.51.100.101": ["lb2"]}, False),
        ({"198.51.100.100": [], "198.51.100.101": ["lb2"]}, False),
        ({"198.51.100.101": ["lb2"]}, False),
    ],
    ids=["settled", "backup-still-holds", "two-holders", "no-holder", "vip-unseen"],
)
def test_settled_means_every_vip_on_its_preferred_master_alone(holders, expected):
    """lab/inventory is dual_master: .100 prefers lb1, .101 lb2 (group_vars/lb.yml)."""
    pairs = lr.lab_pairs(*lr.read_inventory("lab/inventory"))
    assert lr.settled(pairs, holders) is expected


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("HTTP/1.1 200 OK\r\nX-HALB-Node: lb1\r\nX-HALB-Backend: web1\r\n\r\nHTTP/1.1 200 OK\r\nX-HALB-Node: lb1\r\n"
         "X-HALB-Backend: web2\r\n\r\nHTTP/1.1 200 OK\r\nx-halb-backend: web1\r\n",
         {"status": 200, "node": "lb1", "backend": "web1,web2"}),
        ("", {"status": None, "node": None, "backend": ""}),
        ("HTTP/1.1 502 Bad Gateway\r\nX-HALB-Node: lb2\r\n", {"status": 502, "node": "lb2", "backend": ""}),
    ],
    ids=["round-robin", "no-answer", "bad-gateway"],
)
def test_parse_answers(out, expected):
    assert lr.parse_answers(out) == expected


def test_render_marks_a_split():
    both = '[{"ifname": "eth0", "addr_info": [{"local": "198.51.100.100", "prefixlen": 24}]}]'
    data = {"vips": ["198.51.100.100"], "addrs": {"lb1": both, "lb2": both},
            "answers": {"198.51.100.100": {"status": 200, "node": "lb1", "backend": "web1"}}}
    assert lr.render(data).splitlines()[1].split() == ["198.51.100.100", "lb1,lb2", "(SPLIT)", "200", "lb1", "web1"]
