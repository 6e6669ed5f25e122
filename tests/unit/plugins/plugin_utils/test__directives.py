# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived directives the role does not model: the plan the template renders, and one row
per refusal of the preflight (through ``_preflight.check``): the values' types, then the names."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _directives
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check
from ansible_collections.halb.pair.plugins.plugin_utils._topology import settings_of

HOSTS = ["lb1", "lb2"]
G, INST = "keepalived_global_defs_directives", "keepalived_instance_directives"


def hostvars(**given):
    return {h: {"keepalived_vips": ["198.51.100.100/24"], **given} for h in HOSTS}


def test_plan_keeps_the_order_and_writes_values_as_text():
    hv = hostvars(**{G: [{"name": "vrrp_garp_interval", "value": 0.001}, {"name": "vrrp_skip_check_adv_addr"},
                         {"name": "vrrp_garp_lower_prio_repeat", "value": 2}],
                     INST: [{"name": "garp_lower_prio_repeat", "value": "2"}, {"name": "lower_prio_no_advert", "value": ""}]})
    assert check(HOSTS, hv) == []
    assert _directives.plan(settings_of(hv["lb1"]), "lb1") == ({
        "global_defs": [{"name": "vrrp_garp_interval", "value": "0.001"}, {"name": "vrrp_skip_check_adv_addr", "value": ""},
                        {"name": "vrrp_garp_lower_prio_repeat", "value": "2"}],
        "instance": [{"name": "garp_lower_prio_repeat", "value": "2"}, {"name": "lower_prio_no_advert", "value": ""}],
    }, [])


# (variable, items, fragments every one of which one message must hold)
REFUSED = [
    # the values: one line of printable ASCII words, nothing keepalived reads as structure
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "0.001\n}\nvrrp_instance X {"}],
                 [f"{G}[0] (vrrp_garp_interval).value on lb1", "(a line break would end the directive"], id="newline"),
    pytest.param(INST, [{"name": "garp_lower_prio_repeat", "value": "2\rpriority 254"}], ["a line break"], id="carriage-return"),
    pytest.param(INST, [{"name": "garp_lower_prio_repeat", "value": "2 }"}],
                 [f"{INST}[0] (garp_lower_prio_repeat).value on lb1", "holds one of { } # !"], id="brace"),
    pytest.param(INST, [{"name": "garp_lower_prio_repeat", "value": "{"}], ["holds one of { }"], id="open-brace"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "1 # 0.001"}], ["holds one of", "a comment"], id="hash"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "1 ! 0.001"}], ["holds one of"], id="bang"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": '"0.001"'}], ["holds one of", "a quote"], id="double-quote"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "'0.001'"}], ["holds one of"], id="single-quote"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "0.001 \\"}], ["holds one of", "line continuation"], id="backslash"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "$INTERVAL"}], ["holds one of", "substitution"], id="dollar"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "0.001\t"}], ["printable ASCII, words separated by single spaces"],
                 id="tab"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": " 0.001"}], ["no leading or trailing space"], id="leading-space"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "0,001\u00a0"}], ["printable ASCII"], id="non-ascii"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": "1" * 513}], ["513 bytes, more than 512"], id="too-long"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": 1e-05}], ["not written as plain decimals"], id="float-exponent"),
    pytest.param(G, [{"name": "vrrp_skip_check_adv_addr", "value": True}], ["(a bool, not a string)"], id="bool"),
    pytest.param(G, [{"name": "vrrp_garp_interval", "value": [1]}], ["(a list, not a string)"], id="list"),
    # the names: a keyword
    pytest.param(G, [{"name": "Vrrp_strict"}], [f"{G}[0] (Vrrp_strict).name on lb1", "a lower-case letter"], id="upper-case"),
    pytest.param(G, [{"name": "vrrp-strict"}], [".name on lb1", "a keepalived keyword"], id="dash"),
    pytest.param(INST, [{"name": "priority 254\nnopreempt"}], [f"{INST}[0].name on lb1"], id="name-injection"),
    pytest.param(INST, [{"value": "2"}], [f"{INST}[0] on lb1", "the key 'name' is missing"], id="no-name"),
    pytest.param(INST, [{"name": "garp_lower_prio_repeat", "valeu": "2"}], ["unknown key 'valeu'"], id="unknown-key"),
    pytest.param(INST, {"name": "garp_lower_prio_repeat"}, [f"{INST} on lb1", "a list"], id="not-a-list"),
    # the names: not the role's own, nothing that breaks the pair, once
    pytest.param(G, [{"name": "router_id", "value": "other"}],
                 [f"{G}[0] (router_id) on lb1: router_id is refused here", "the role sets it itself"], id="global-owned"),
    pytest.param(G, [{"name": "script_user", "value": "root"}], ["script_user is refused here"], id="script-user"),
    pytest.param(G, [{"name": "vrrp_notify_fifo", "value": "/tmp/x"}], ["keepalived_notify_hooks"], id="fifo"),
    pytest.param(G, [{"name": "vrrp_strict"}], ["vrrp_strict is refused here", "no_accept", "nginx stops answering"], id="vrrp-strict"),
    pytest.param(G, [{"name": "include", "value": "/etc/keepalived/other.conf"}], ["include is refused here", "another file"],
                 id="include"),
    pytest.param(G, [{"name": "vrrp_version", "value": 3}], ["vrrp_version is refused here"], id="version"),
    pytest.param(INST, [{"name": "priority", "value": 254}], [f"{INST}[0] (priority) on lb1: priority is refused here", "the pair model"],
                 id="instance-owned"),
    pytest.param(INST, [{"name": "virtual_router_id", "value": 99}], ["virtual_router_id is refused here"], id="vrid"),
    pytest.param(INST, [{"name": "unicast_peer", "value": "198.51.100.66"}], ["unicast_peer is refused here"], id="unicast-peer"),
    pytest.param(INST, [{"name": "notify_master", "value": "/usr/local/bin/x"}], ["notify_master is refused here", "keepalived_notify_hooks"],
                 id="notify-master"),
    pytest.param(INST, [{"name": "strict_mode", "value": "on"}], ["strict_mode is refused here"], id="strict-mode"),
    pytest.param(INST, [{"name": "mcast_src_ip", "value": "198.51.100.66"}], ["mcast_src_ip is refused here", "VRRP guard"], id="mcast-src"),
    pytest.param(INST, [{"name": "garp_lower_prio_repeat", "value": 2}, {"name": "garp_lower_prio_repeat", "value": 3}],
                 [f"{INST}[1] (garp_lower_prio_repeat) on lb1: garp_lower_prio_repeat is given twice (also {INST}[0])"], id="twice"),
]


@pytest.mark.parametrize(("var", "items", "fragments"), REFUSED)
def test_refused(var, items, fragments):
    errors = check(HOSTS, hostvars(**{var: items}))
    assert any(all(f in e for f in fragments) for e in errors), errors


def test_the_same_name_in_global_defs_and_an_instance_is_two_places():
    # e.g. a global default and an instance's own value
    hv = hostvars(**{G: [{"name": "vrrp_garp_lower_prio_repeat", "value": 2}], INST: [{"name": "garp_lower_prio_repeat", "value": 3}]})
    assert check(HOSTS, hv) == []


def test_per_host():
    hv = hostvars()
    hv["lb2"][INST] = [{"name": "garp_lower_prio_repeat", "value": 3}]
    assert check(HOSTS, hv) == []
    assert [_directives.plan(settings_of(hv[h]), h)[0]["instance"] for h in HOSTS] == [
        [], [{"name": "garp_lower_prio_repeat", "value": "3"}]]
