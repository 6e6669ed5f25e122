# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One row per refusal of the issue's preflight list, plus accepted setups."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check

HOSTS = ["lb1", "lb2"]
FACTS = {
    "lb1": {"interfaces": ["lo", "eth0"], "all_ipv4_addresses": ["198.51.100.11"], "eth0": {"ipv4": {"address": "198.51.100.11"}}},
    "lb2": {"interfaces": ["lo", "eth0"], "all_ipv4_addresses": ["198.51.100.12"], "eth0": {"ipv4": {"address": "198.51.100.12"}}},
}
BASE = {"keepalived_vips": ["198.51.100.100/24"], "keepalived_auth_pass": "s3cret"}


def hostvars(group_vars=None, per_host=None, facts=True):
    out = {}
    for h in HOSTS:
        hv = copy.deepcopy(BASE)
        hv.update(group_vars or {})
        hv.update((per_host or {}).get(h, {}))
        if facts:
            hv["ansible_facts"] = copy.deepcopy(FACTS[h])
        out[h] = hv
    return out


ACCEPTED = [
    pytest.param({}, None, id="guide-single"),
    pytest.param({"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}, None,
                 id="guide-dual-master"),
    pytest.param({"keepalived_vrrp_version": 3, "keepalived_advert_int": 0.1, "keepalived_auth_pass": None}, None, id="vrrp3-fast"),
    pytest.param({"keepalived_unicast": True}, None, id="unicast-from-facts"),
    pytest.param({"keepalived_nopreempt": True}, None, id="nopreempt-derived-backup"),
    pytest.param({"keepalived_check_weight": 0}, None, id="weight-0-fault-mode"),
]


@pytest.mark.parametrize(("group_vars", "per_host"), ACCEPTED)
def test_accepted(group_vars, per_host):
    assert check(HOSTS, hostvars(group_vars, per_host)) == []


# (group vars, per-host vars, fragments every one of which the message must hold)
REFUSED = [
    pytest.param({"keepalived_vrid_base": 0}, None, ["VI_1", "virtual_router_id", "1..255", "found 0"], id="vrid-below-range"),
    pytest.param({"keepalived_vrid_base": 256}, None, ["virtual_router_id", "found 256"], id="vrid-above-range"),
    pytest.param({"keepalived_topology": "custom", "keepalived_instances": [
        {"name": "A", "vrid": 60, "master": "lb1", "vips": ["198.51.100.100/24"]},
        {"name": "B", "vrid": 60, "master": "lb2", "vips": ["198.51.100.101/24"]}]}, None,
        ["B", "virtual_router_id 60 is already used by A"], id="vrid-reused"),
    pytest.param({}, {"lb2": {"keepalived_vrid_base": 56}}, ["keepalived_vrid_base on lb2", "found 56", "lb1 has 55"],
                 id="vrid-differs-between-nodes"),
    pytest.param({}, {"lb2": {"keepalived_auth_pass": "other"}},
                 ["keepalived_auth_pass on lb2", "<secret of 5 characters>", "lb1 has <secret of 6 characters>"],
                 id="auth-differs-between-nodes"),
    pytest.param({}, {"lb2": {"keepalived_advert_int": 2}}, ["keepalived_advert_int on lb2", "found 2", "lb1 has 1"],
                 id="advert-differs-between-nodes"),
    pytest.param({}, {"lb2": {"keepalived_instance_overrides": {"VI_1": {"state": "MASTER", "priority": 140}}}},
                 ["VI_1", "exactly one node must be the preferred master", "found 2", "lb1", "lb2"], id="two-masters"),
    pytest.param({}, {"lb1": {"keepalived_instance_overrides": {"VI_1": {"state": "BACKUP"}}}},
                 ["VI_1", "exactly one node must be the preferred master", "found 0"], id="zero-masters"),
    pytest.param({"keepalived_backup_priority": 150}, None, ["VI_1", "lb1, lb2", "same priority 150"], id="equal-priorities"),
    pytest.param({"keepalived_master_priority": 255}, None, ["VI_1 on lb1", "priority must be within 1..254", "found 255"],
                 id="priority-above-range"),
    pytest.param({"keepalived_backup_priority": 0, "keepalived_check_weight": -200}, None,
                 ["VI_1 on lb2", "priority must be within 1..254", "found 0"], id="priority-below-range"),
    pytest.param({"keepalived_check_weight": -50}, None,
                 ["keepalived_check_weight", "found -50", "lb1 (150)", "backup (100)", "|weight| > 50"], id="weight-too-small"),
    pytest.param({"keepalived_auth_pass": ""}, None, ["keepalived_auth_pass", "empty string"], id="auth-empty"),
    pytest.param({"keepalived_auth_pass": "ninechars"}, None, ["keepalived_auth_pass", "<secret of 9 characters>", "at most 8"],
                 id="auth-too-long"),
    pytest.param({"keepalived_vrrp_version": 3}, None, ["keepalived_auth_pass", "VRRPv3", "no authentication"], id="auth-with-vrrp3"),
    pytest.param({"keepalived_advert_int": 0.5, "keepalived_auth_pass": None}, None,
                 ["keepalived_advert_int", "found 0.5", "keepalived_vrrp_version: 3"], id="subsecond-without-vrrp3"),
    pytest.param({"keepalived_vips": ["198.51.100.100"]}, None, ["VIP 1", "address/prefix", "'198.51.100.100'"], id="vip-without-prefix"),
    pytest.param({"keepalived_vips": ["not-an-ip/24"]}, None, ["address/prefix", "'not-an-ip/24'"], id="vip-not-an-address"),
    pytest.param({"keepalived_vips": ["198.51.100.12/24"]}, None, ["VIP 198.51.100.12/24", "own address of lb2"], id="vip-is-node-address"),
    pytest.param({}, {"lb2": {"keepalived_interface": "eth7"}}, ["keepalived_interface on lb2", "'eth7'", "does not exist", "['eth0', 'lo']"],
                 id="interface-missing"),
    pytest.param({"keepalived_nopreempt": True}, {"lb1": {"keepalived_instance_overrides": {"VI_1": {"state": "MASTER"}}}},
                 ["VI_1 on lb1", "keepalived_nopreempt", "initial state MASTER"], id="nopreempt-with-master"),
    pytest.param({"keepalived_preempt_delay": 30}, {"lb1": {"keepalived_instance_overrides": {"VI_1": {"state": "MASTER"}}}},
                 ["VI_1 on lb1", "keepalived_preempt_delay=30", "initial state MASTER"], id="preempt-delay-with-master"),
]


@pytest.mark.parametrize(("group_vars", "per_host", "fragments"), REFUSED)
def test_refused(group_vars, per_host, fragments):
    errors = check(HOSTS, hostvars(group_vars, per_host))
    assert errors, "expected a refusal"
    joined = "\n".join(errors)
    for fragment in fragments:
        assert fragment in joined


def test_secret_never_quoted():
    secret = "Zq9!long-secret"
    errors = check(HOSTS, hostvars({"keepalived_auth_pass": secret}, {"lb2": {"keepalived_auth_pass": "x"}}))
    assert errors
    assert secret not in "\n".join(errors)


def test_vip_held_as_secondary_is_not_an_own_address():
    # a rerun on a running pair: the VIP is on lb1 as a secondary address
    hv = hostvars()
    hv["lb1"]["ansible_facts"]["all_ipv4_addresses"].append("198.51.100.100")
    hv["lb1"]["ansible_facts"]["eth0"]["ipv4_secondaries"] = [{"address": "198.51.100.100"}]
    assert check(HOSTS, hv) == []


def test_unicast_without_facts_names_the_missing_address():
    errors = check(HOSTS, hostvars({"keepalived_unicast": True}, facts=False))
    assert any("keepalived_unicast_src_ip on lb1" in e for e in errors)


def test_without_facts_host_checks_are_skipped_not_failed():
    assert check(HOSTS, hostvars({}, {"lb2": {"keepalived_interface": "eth7"}}, facts=False)) == []


# --- several pairs in one play: each pair is its own group, checked on its own ---

from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check_pairs, pairs  # noqa: E402


def two_pairs(eu=None, us=None):
    hv = hostvars()
    for h, base in (("lb3", "lb1"), ("lb4", "lb2")):
        hv[h] = copy.deepcopy(hv[base])
        hv[h]["ansible_facts"]["eth0"]["ipv4"]["address"] = f"198.51.100.{13 if h == 'lb3' else 14}"
    for h in ("lb1", "lb2"):
        hv[h].update({"keepalived_group": "lb_eu", **(eu or {})})
    for h in ("lb3", "lb4"):
        hv[h].update({"keepalived_group": "lb_us", "keepalived_vips": ["198.51.100.110/24"], "keepalived_vrid_base": 65, **(us or {})})
    return hv, {"lb_eu": ["lb1", "lb2"], "lb_us": ["lb3", "lb4"], "lb": ["lb1", "lb2", "lb3", "lb4"]}


def test_pairs_are_the_groups_the_hosts_name():
    hv, groups = two_pairs()
    assert pairs(["lb1", "lb2", "lb3", "lb4"], hv, groups) == {"lb_eu": ["lb1", "lb2"], "lb_us": ["lb3", "lb4"]}
    # a limit to one node still checks its whole pair
    assert pairs(["lb3"], hv, groups) == {"lb_us": ["lb3", "lb4"]}


def test_default_group_is_lb():
    assert pairs(HOSTS, hostvars(), {"lb": HOSTS}) == {"lb": HOSTS}
    assert check_pairs(HOSTS, hostvars(), {"lb": HOSTS}) == []


def test_two_good_pairs_pass():
    hv, groups = two_pairs()
    assert check_pairs(["lb1", "lb2", "lb3", "lb4"], hv, groups) == []


def test_each_pair_is_checked_on_its_own():
    # The pairs differ in VRID and VIP: as one group of four that is refused, as two pairs it is fine.
    hv, groups = two_pairs()
    assert check_pairs(["lb1", "lb2", "lb3", "lb4"], hv, groups) == []
    assert any("keepalived_vrid_base on lb3: found 65, but lb1 has 55" in e for e in check(groups["lb"], hv))


def test_a_broken_pair_is_named():
    hv, groups = two_pairs(us={"keepalived_backup_priority": 150})
    errors = check_pairs(["lb1", "lb2", "lb3", "lb4"], hv, groups)
    assert errors == ["pair lb_us: VI_1: nodes lb3, lb4 have the same priority 150; priorities must differ "
                      "(keepalived_master_priority, keepalived_backup_priority, keepalived_priority_step)"]


def test_a_group_that_does_not_exist_is_refused():
    hv = hostvars({"keepalived_group": "lbs"})
    assert check_pairs(HOSTS, hv, {"lb": HOSTS}) == [
        "keepalived_group on lb1, lb2: found 'lbs', which is no group of the inventory (or an empty one); "
        "allowed: the name of the group that holds the pair's nodes"
    ]


# VRIDs and VIPs two pairs share on one segment: one implementation, _pair.conflicts
# (tests/unit/plugins/plugin_utils/test__pair.py::test_conflicts), run by pair_preflight.


# --- one host's variables against the role's argument spec ---

from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from ansible_collections.halb.pair.plugins.plugin_utils import _preflight  # noqa: E402

OPTIONS = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "keepalived" / "meta" / "argument_specs.yml").read_text())[
    "argument_specs"]["main"]["options"]


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({"keepalived_check_timeout": "3", "keepalived_unicast": "yes", "keepalived_advert_int": "0.5"}, []),
        ({"keepalived_vrrp_version": "4"}, ["keepalived_vrrp_version on lb1: found '4' (str); allowed: one of 2, 3"]),
        ({"keepalived_topology": "ring"}, ["keepalived_topology on lb1: found 'ring' (str); allowed: one of single, dual_master, custom"]),
        # the role reads the value as given: a string would be iterated character by character
        ({"keepalived_vips": "198.51.100.100/24"}, ["keepalived_vips on lb1: found '198.51.100.100/24' (str); allowed: a list"]),
        ({"keepalived_instance_overrides": ["VI_1"]}, ["keepalived_instance_overrides on lb1: found ['VI_1'] (list); allowed: a mapping"]),
        ({"keepalived_auth_pass": ["s3cret"]}, ["keepalived_auth_pass on lb1: found <secret of 10 characters> (list); allowed: a string"]),
    ],
    ids=["extra-var-strings", "version-choice", "topology-choice", "vips-str", "overrides-list", "secret-not-quoted"],
)
def test_check_host(values, problems):
    assert _preflight.check_host("lb1", values, OPTIONS) == problems


def test_check_host_takes_a_stricter_value_check():
    checks = {"keepalived_router_id": lambda v: None if v.isalnum() else "letters and digits"}
    assert _preflight.check_host("lb1", {"keepalived_router_id": "lb1\nx"}, OPTIONS, value_checks=checks) == [
        "keepalived_router_id on lb1: found 'lb1\\nx' (str); allowed: letters and digits"
    ]
