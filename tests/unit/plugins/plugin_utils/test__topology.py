# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.halb.pair.plugins.plugin_utils._defaults import DefaultsError, pick, read_defaults
from ansible_collections.halb.pair.plugins.plugin_utils._topology import (
    SETTINGS,
    TopologyError,
    defaults,
    derive,
    master_down_interval,
    parse_vip,
    with_unicast,
)

ROLE_DEFAULTS = Path(__file__).resolve().parents[4] / "roles" / "keepalived" / "defaults" / "main.yml"


def group(hosts, **vars_):
    return {h: dict(vars_) for h in hosts}


def summary(instances):
    """(name, vrid, master, [(host, state, priority)], [cidr/label]) per instance."""
    return [
        (i.name, i.vrid, i.master, [(n.host, n.state, n.priority) for n in i.nodes], [(v.cidr, v.label) for v in i.vips])
        for i in instances
    ]


# Expected values written from the guide's two worked configurations, not from output.
DERIVE_CASES = [
    pytest.param(
        ["lb1", "lb2"],
        {"keepalived_vips": ["198.51.100.100/24"]},
        [("VI_1", 55, "lb1", [("lb1", "MASTER", 150), ("lb2", "BACKUP", 100)], [("198.51.100.100/24", "eth0:1")])],
        id="guide-single",
    ),
    pytest.param(
        ["lb1", "lb2"],
        {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]},
        [
            ("VI_1", 55, "lb1", [("lb1", "MASTER", 150), ("lb2", "BACKUP", 100)], [("198.51.100.100/24", "eth0:1")]),
            ("VI_2", 56, "lb2", [("lb1", "BACKUP", 100), ("lb2", "MASTER", 150)], [("198.51.100.101/24", "eth0:2")]),
        ],
        id="guide-dual-master",
    ),
    pytest.param(
        ["a", "b", "c"],
        {"keepalived_topology": "dual_master", "keepalived_vrid_base": 10,
         "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24", "198.51.100.102/24"]},
        [
            ("VI_1", 10, "a", [("a", "MASTER", 150), ("b", "BACKUP", 100), ("c", "BACKUP", 90)], [("198.51.100.100/24", "eth0:1")]),
            ("VI_2", 11, "b", [("a", "BACKUP", 100), ("b", "MASTER", 150), ("c", "BACKUP", 90)], [("198.51.100.101/24", "eth0:2")]),
            ("VI_3", 12, "c", [("a", "BACKUP", 100), ("b", "BACKUP", 90), ("c", "MASTER", 150)], [("198.51.100.102/24", "eth0:3")]),
        ],
        id="three-nodes-three-instances",
    ),
    pytest.param(
        ["lb1", "lb2", "lb3"],
        {"keepalived_topology": "custom", "keepalived_instances": [
            {"name": "WEB", "vrid": 70, "master": "lb2", "nodes": ["lb2", "lb3"],
             "vips": [{"address": "198.51.100.120/24", "label": "eth0:web"}]},
        ]},
        [("WEB", 70, "lb2", [("lb2", "MASTER", 150), ("lb3", "BACKUP", 100)], [("198.51.100.120/24", "eth0:web")])],
        id="custom-subset-of-nodes",
    ),
    pytest.param(
        ["lb1", "lb2"],
        {"keepalived_vips": ["198.51.100.100/24"], "keepalived_nopreempt": True},
        [("VI_1", 55, "lb1", [("lb1", "BACKUP", 150), ("lb2", "BACKUP", 100)], [("198.51.100.100/24", "eth0:1")])],
        id="nopreempt-starts-all-as-backup",
    ),
]


@pytest.mark.parametrize(("hosts", "vars_", "expected"), DERIVE_CASES)
def test_derive(hosts, vars_, expected):
    assert summary(derive(hosts, group(hosts, **vars_))) == expected


def test_per_host_override_of_priority():
    hv = group(["lb1", "lb2"], keepalived_vips=["198.51.100.100/24"])
    hv["lb2"]["keepalived_instance_overrides"] = {"VI_1": {"priority": 120}}
    assert summary(derive(["lb1", "lb2"], hv))[0][3] == [("lb1", "MASTER", 150), ("lb2", "BACKUP", 120)]


def test_per_host_interface():
    hv = group(["lb1", "lb2"], keepalived_vips=["198.51.100.100/24"])
    hv["lb2"]["keepalived_interface"] = "ens3"
    inst = derive(["lb1", "lb2"], hv)[0]
    assert [n.interface for n in inst.nodes] == ["eth0", "ens3"]


def test_ipv6_instance_uses_vrrp3_and_no_label():
    inst = derive(["a", "b"], group(["a", "b"], keepalived_vips=["2001:db8::10/64"]))[0]
    assert (inst.version, inst.family, inst.vips[0].label) == (3, 6, None)


@pytest.mark.parametrize(
    ("hosts", "vars_", "fragment"),
    [
        (["lb1"], {"keepalived_vips": ["198.51.100.100/24"]}, "at least two nodes"),
        (["a", "b"], {"keepalived_vips": []}, "needs a non-empty list of VIPs"),
        (["a", "b"], {"keepalived_topology": "mesh", "keepalived_vips": ["198.51.100.1/24"]}, "expected one of single, dual_master, custom"),
        (["a", "b"], {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24"]}, "at least two VIPs"),
        (["a", "b"], {"keepalived_vips": ["198.51.100.100"]}, "expected an address/prefix"),
        (["a", "b"], {"keepalived_vips": ["999.51.100.100/24"]}, "expected an address/prefix"),
        (["a", "b"], {"keepalived_vips": ["198.51.100.0/24"]}, "network address"),
        (["a", "b"], {"keepalived_vips": ["198.51.100.100/24", "2001:db8::1/64"]}, "cannot share one instance"),
        (["a", "b"], {"keepalived_topology": "custom", "keepalived_instances": [
            {"name": "X", "master": "zz", "vips": ["198.51.100.100/24"]}]}, "preferred master must be one of its nodes"),
        (["a", "b"], {"keepalived_topology": "custom", "keepalived_instances": [
            {"name": "X", "master": "a", "nodes": ["a", "q"], "vips": ["198.51.100.100/24"]}]}, "are not load-balancer nodes"),
        (["a", "b"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_master_priority": "high"}, "expected an integer"),
    ],
)
def test_derive_refuses(hosts, vars_, fragment):
    with pytest.raises(TopologyError) as exc:
        derive(hosts, group(hosts, **vars_))
    assert fragment in str(exc.value)


def test_parse_vip_mapping_keeps_dev_and_label():
    errors: list[str] = []
    vip = parse_vip({"address": "198.51.100.7/25", "dev": "ens4", "label": "ens4:vip"}, "eth0", 1, "x", errors)
    assert errors == []
    assert (vip.address, vip.prefix, vip.dev, vip.label) == ("198.51.100.7", 25, "ens4", "ens4:vip")


def test_unicast_peers_are_the_other_nodes():
    hosts = ["a", "b", "c"]
    insts = derive(hosts, group(hosts, keepalived_vips=["198.51.100.100/24"], keepalived_unicast=True))
    with_unicast(insts, {"a": "198.51.100.11", "b": "198.51.100.12", "c": "198.51.100.13"})
    nodes = {n.host: (n.unicast_src_ip, n.unicast_peers) for n in insts[0].nodes}
    assert nodes == {
        "a": ("198.51.100.11", ["198.51.100.12", "198.51.100.13"]),
        "b": ("198.51.100.12", ["198.51.100.11", "198.51.100.13"]),
        "c": ("198.51.100.13", ["198.51.100.11", "198.51.100.12"]),
    }


@pytest.mark.parametrize(
    ("advert", "prio", "expected"),
    [(1, 100, 3.609375), (0.1, 100, 0.3609375), (1, 254, 3.0078125)],
)
def test_master_down_interval(advert, prio, expected):
    assert master_down_interval(advert, prio) == pytest.approx(expected)


def test_python_defaults_match_role_defaults():
    """The derivation's defaults are the role's file itself (no copy): every setting it
    reads has a literal default there."""
    role = yaml.safe_load(ROLE_DEFAULTS.read_text())
    assert defaults() == {k: role[k] for k in SETTINGS}


def test_derivation_follows_the_role_defaults_file(tmp_path):
    """Change the role's defaults file and the derivation changes with it: one source."""
    roles = tmp_path / "roles"
    for role in ("keepalived", "nginx"):
        (roles / role / "defaults").mkdir(parents=True)
        src = ROLE_DEFAULTS.parents[2] / role / "defaults" / "main.yml"
        (roles / role / "defaults" / "main.yml").write_text(src.read_text())
    f = roles / "keepalived" / "defaults" / "main.yml"
    f.write_text(f.read_text().replace("keepalived_vrid_base: 55", "keepalived_vrid_base: 77")
                 .replace("keepalived_master_priority: 150", "keepalived_master_priority: 200"))
    base = read_defaults(roles)
    [inst] = derive(["lb1", "lb2"], group(["lb1", "lb2"], keepalived_vips=["198.51.100.100/24"]), base)
    assert (inst.vrid, inst.nodes[0].priority, inst.nodes[1].priority) == (77, 200, 100)


def test_a_templated_default_is_not_a_default(tmp_path):
    d = tmp_path / "roles" / "keepalived" / "defaults"
    d.mkdir(parents=True)
    (d / "main.yml").write_text("keepalived_vrid_base: '{{ 50 + 5 }}'\nkeepalived_interface: eth0\n")
    base = read_defaults(tmp_path / "roles", roles=("keepalived",))
    assert base == {"keepalived_interface": "eth0"}
    with pytest.raises(DefaultsError, match="keepalived_vrid_base"):
        pick(base, ["keepalived_vrid_base"])
