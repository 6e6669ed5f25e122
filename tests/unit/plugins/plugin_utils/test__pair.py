# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pair model: contracts, the health endpoint, several pairs, conflicts, day-2 views.

Expected values are written by hand from the role defaults as documented (8081,
/healthz, /var/lib/halb-pair/...) and the guide's topologies, not from output.
"""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _pair
from ansible_collections.halb.pair.plugins.plugin_utils._pair import PairError

SINGLE = {"keepalived_vips": ["198.51.100.100/24"]}
DUAL = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}
#: nginx_lb_health_leaving_file's documented default (roles/nginx/README.md).
LEAVING = "/run/halb-pair/leaving"


def hv(hosts, **vars_):
    return {h: dict(vars_) for h in hosts}


def facts(address, netmask="255.255.255.0", iface="eth0"):
    return {"ansible_facts": {"interfaces": [iface], iface: {"ipv4": {"address": address, "netmask": netmask}}}}


# (case, group vars, host, expected contract fields)
CONTRACT_CASES = [
    ("defaults", SINGLE, "lb1", {
        "interface": "eth0", "priorities": {"VI_1": 150}, "states": {"VI_1": "MASTER"}, "instances": ["VI_1"],
        "preferred": ["VI_1"], "vips": ["198.51.100.100"], "preferred_vips": ["198.51.100.100"],
        "drain_file": "/var/lib/halb-pair/drain", "state_dir": "/var/lib/halb-pair/state",
        "health": {"port": 8081, "path": "/healthz", "url": "http://127.0.0.1:8081/healthz", "listen": "8081", "peer_url": None,
                   "leaving_file": LEAVING}}),
    ("the backup prefers nothing", SINGLE, "lb2", {
        "priorities": {"VI_1": 100}, "states": {"VI_1": "BACKUP"}, "preferred": [], "vips": ["198.51.100.100"],
        "preferred_vips": []}),
    ("dual master", DUAL, "lb2", {
        "priorities": {"VI_1": 100, "VI_2": 150}, "preferred": ["VI_2"],
        "vips": ["198.51.100.100", "198.51.100.101"], "preferred_vips": ["198.51.100.101"]}),
    ("health follows nginx_lb_health_port", {**SINGLE, "nginx_lb_health_port": 9000}, "lb1", {
        "health": {"port": 9000, "path": "/healthz", "url": "http://127.0.0.1:9000/healthz", "listen": "9000", "peer_url": None,
                   "leaving_file": LEAVING}}),
    ("and nginx_lb_health_path", {**SINGLE, "nginx_lb_health_port": "9000", "nginx_lb_health_path": "/hc"}, "lb1", {
        "health": {"port": 9000, "path": "/hc", "url": "http://127.0.0.1:9000/hc", "listen": "9000", "peer_url": None, "leaving_file": LEAVING}}),
    ("the leaving file follows nginx_lb_health_leaving_file", {**SINGLE, "nginx_lb_health_leaving_file": "/run/x/gone"}, "lb1", {
        "health": {"port": 8081, "path": "/healthz", "url": "http://127.0.0.1:8081/healthz", "listen": "8081", "peer_url": None,
                   "leaving_file": "/run/x/gone"}}),
    ("keepalived_check_url overrides", {**SINGLE, "keepalived_check_url": "http://127.0.0.1:7000/up"}, "lb1", {
        "health": {"port": 8081, "path": "/healthz", "url": "http://127.0.0.1:7000/up", "listen": "8081", "peer_url": None,
                   "leaving_file": LEAVING}}),
    ("paths and interface per node", {**SINGLE, "keepalived_drain_file": "/run/d", "keepalived_state_dir": "/run/s",
                                      "keepalived_interface": "ens3"}, "lb2", {
        "interface": "ens3", "drain_file": "/run/d", "state_dir": "/run/s", "segment": "if:ens3"}),
]


@pytest.mark.parametrize(("vars_", "host", "expected"), [c[1:] for c in CONTRACT_CASES], ids=[c[0] for c in CONTRACT_CASES])
def test_contract(vars_, host, expected):
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **vars_)).as_dict()
    node = pair["nodes"][host]
    assert {k: node[k] for k in expected} == expected


def nodes_at(**vars_):
    return {h: {**vars_, **facts(a)} for h, a in (("lb1", "198.51.100.11"), ("lb2", "198.51.100.12"))}


# (case, group vars, lb1's health, lb1's check URL)
HEALTH_CASES = [
    ("a port-only listen is the port everywhere", {**SINGLE, "nginx_lb_health_listen": "9000"},
     {"port": 9000, "path": "/healthz", "url": "http://127.0.0.1:9000/healthz", "listen": "9000",
      "peer_url": "http://198.51.100.11:9000/healthz", "leaving_file": LEAVING}, "http://127.0.0.1:9000/healthz"),
    ("the default: every address, the peers use the node's address", SINGLE,
     {"port": 8081, "path": "/healthz", "url": "http://127.0.0.1:8081/healthz", "listen": "8081",
      "peer_url": "http://198.51.100.11:8081/healthz", "leaving_file": LEAVING}, "http://127.0.0.1:8081/healthz"),
    ("*:PORT", {**SINGLE, "nginx_lb_health_listen": "*:9000 reuseport"},
     {"port": 9000, "path": "/healthz", "url": "http://127.0.0.1:9000/healthz", "listen": "*:9000 reuseport",
      "peer_url": "http://198.51.100.11:9000/healthz", "leaving_file": LEAVING}, "http://127.0.0.1:9000/healthz"),
]


@pytest.mark.parametrize(("vars_", "health", "check"), [c[1:] for c in HEALTH_CASES], ids=[c[0] for c in HEALTH_CASES])
def test_one_health_contract(vars_, health, check):
    node = _pair.model(["lb1", "lb2"], nodes_at(**vars_)).as_dict()["nodes"]["lb1"]
    assert node["health"] == health
    assert node["check"]["url"] == check


def test_a_listen_on_the_nodes_own_address_is_requested_there():
    per_host = nodes_at(**SINGLE)
    per_host["lb1"]["nginx_lb_health_listen"] = "198.51.100.11:8081"
    per_host["lb2"]["nginx_lb_health_listen"] = "198.51.100.12:8081"
    pair = _pair.model(["lb1", "lb2"], per_host)
    assert pair.nodes["lb1"].check.url == pair.nodes["lb1"].health.url == "http://198.51.100.11:8081/healthz"
    assert pair.nodes["lb2"].health.peer_url == "http://198.51.100.12:8081/healthz"


def test_the_hand_over_asks_each_peer_at_its_contract_url():
    """With nginx_lb_health_listen: "9000" the hand-over asked the peers on 8081 (nginx_lb_health_port)."""
    pair = _pair.model(["lb1", "lb2"], nodes_at(**SINGLE, nginx_lb_health_listen="9000"))
    assert _pair.handover(pair, "lb1", "/h", "/f")["peers"] == [{"host": "lb2", "health_url": "http://198.51.100.12:9000/healthz"}]


def test_the_hand_over_gets_the_nodes_own_leaving_file():
    """The hand-over writes the leaving file nginx tests (one source: nginx_lb_health_leaving_file,
    per node); main's configuration had none, so ``down`` could not tell the peers it was leaving."""
    per_host = nodes_at(**SINGLE)
    per_host["lb2"]["nginx_lb_health_leaving_file"] = "/run/lb2/leaving"
    pair = _pair.model(["lb1", "lb2"], per_host)
    assert _pair.handover(pair, "lb1", "/h", "/f")["leaving_file"] == LEAVING
    assert _pair.handover(pair, "lb2", "/h", "/f")["leaving_file"] == "/run/lb2/leaving"


@pytest.mark.parametrize("value", ["run/leaving", "/run/halb pair/leaving", "/run/leaving;", "/run/leaving\n", "/run/"])
def test_a_leaving_file_that_is_no_absolute_file_path_is_refused(value):
    with pytest.raises(PairError) as err:
        _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE, nginx_lb_health_leaving_file=value))
    expected = f"nginx_lb_health_leaving_file on lb1: expected an absolute file path such as '/run/halb-pair/leaving', found {value!r}"
    assert expected in err.value.errors


# (case, lb1's listen, fragments of the refusal)
UNREACHABLE_LISTENS = [
    ("loopback", "127.0.0.1:8081", ["nginx_lb_health_listen on lb1 is '127.0.0.1:8081'", "loopback", "Allowed: PORT"]),
    ("IPv6 loopback", "[::1]:8081", ["nginx_lb_health_listen on lb1 is '[::1]:8081'", "loopback"]),
    ("another node's address", "198.51.100.12:8081", ["198.51.100.12 is not this node's address 198.51.100.11"]),
    ("IPv6 wildcard on an IPv4 node", "[::]:8081", ["IPv6 only"]),
    ("TLS", "8081 ssl", ["plain HTTP, which ssl refuses"]),
    ("a name", "lb1.example.test:8081", ["'lb1.example.test' is not an IP address"]),
]


@pytest.mark.parametrize(("listen", "fragments"), [c[1:] for c in UNREACHABLE_LISTENS], ids=[c[0] for c in UNREACHABLE_LISTENS])
def test_a_health_listen_the_peers_cannot_reach_is_refused(listen, fragments):
    per_host = nodes_at(**SINGLE)
    per_host["lb1"]["nginx_lb_health_listen"] = listen
    with pytest.raises(PairError) as err:
        _pair.model(["lb1", "lb2"], per_host)
    text = "; ".join(err.value.errors)
    for f in fragments:
        assert f in text


def test_check_url_follows_the_health_port_everywhere():
    """The bug this fixes: with nginx_lb_health_port 9000, keepalived's check (check.url),
    status.yml and upgrade.yml (health.url) all request port 9000."""
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE, nginx_lb_health_port=9000))
    for node in pair.nodes.values():
        assert node.check.url == node.health.url == "http://127.0.0.1:9000/healthz"
        assert (node.check.interval, node.check.timeout, node.check.fall, node.check.rise) == (1, 2, 2, 2)


def test_vip_views_and_addresses():
    pair = _pair.model(["lb1", "lb2", "lb3"], hv(["lb1", "lb2", "lb3"], **DUAL))
    assert [(v.address, v.instance, v.vrid, v.master, v.backups) for v in pair.vips] == [
        ("198.51.100.100", "VI_1", 55, "lb1", ["lb2", "lb3"]),
        ("198.51.100.101", "VI_2", 56, "lb2", ["lb1", "lb3"]),
    ]
    assert pair.addresses == ["198.51.100.100", "198.51.100.101"]
    assert pair.group == "lb"


BAD_CASES = [
    ("port not a number", {"nginx_lb_health_port": "90x"}, "nginx_lb_health_port on lb1: expected an integer within 1..65535, found '90x'"),
    ("port out of range", {"nginx_lb_health_port": 70000}, "nginx_lb_health_port on lb1: expected an integer within 1..65535, found 70000"),
    ("path not absolute", {"nginx_lb_health_path": "healthz"}, "nginx_lb_health_path on lb1: expected an absolute URI path"),
    ("path with a space", {"nginx_lb_health_path": "/a b"}, "nginx_lb_health_path on lb1: expected an absolute URI path"),
    # one type for the path (_types.URI_PATH): the nginx preflight refuses it too (test__nginx_preflight.py)
    ("path with a plus", {"nginx_lb_health_path": "/h+z"}, "nginx_lb_health_path on lb1: expected an absolute URI path"),
    ("check url with a quote", {"keepalived_check_url": 'http://127.0.0.1/"; x'}, "keepalived_check_url on lb1: expected an http(s) URL"),
    ("no VIPs", {"keepalived_vips": []}, "keepalived_vips: topology 'single' needs a non-empty list of VIPs"),
]


@pytest.mark.parametrize(("vars_", "fragment"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_model_refuses(vars_, fragment):
    with pytest.raises(PairError if "keepalived_vips" not in vars_ else _pair.TopologyError) as exc:
        _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **{**SINGLE, **vars_}))
    assert any(fragment in e for e in exc.value.errors), exc.value.errors


# --- several pairs ----------------------------------------------------------

GROUPS = {"all": ["eu1", "eu2", "us1", "us2", "web1"], "lb": ["eu1", "eu2", "us1", "us2"],
          "lb_eu": ["eu1", "eu2"], "lb_us": ["us1", "us2"], "web": ["web1"]}


def two_pairs(eu=None, us=None, per_host=None):
    out = {h: {"keepalived_group": "lb_eu", **SINGLE, **(eu or {})} for h in ("eu1", "eu2")}
    out |= {h: {"keepalived_group": "lb_us", "keepalived_vips": ["198.51.100.170/24"], "keepalived_vrid_base": 65, **(us or {})}
            for h in ("us1", "us2")}
    out["web1"] = {}
    for h, v in (per_host or {}).items():
        out[h].update(v)
    return out


def test_pairs_each_its_own_model():
    models = _pair.pairs(GROUPS["lb"], two_pairs(), GROUPS)
    assert [(p.group, p.hosts, [(i.name, i.vrid, i.master) for i in p.instances]) for p in models] == [
        ("lb_eu", ["eu1", "eu2"], [("VI_1", 55, "eu1")]),
        ("lb_us", ["us1", "us2"], [("VI_1", 65, "us1")]),
    ]


def test_a_limit_still_models_the_whole_pair():
    [p] = _pair.pairs(["us2"], two_pairs(), GROUPS)
    assert (p.group, p.hosts) == ("lb_us", ["us1", "us2"])


GROUP_ERRORS = [
    ("group without hosts", {"us1": {"keepalived_group": "lb_xx"}}, "keepalived_group on us1: names the group 'lb_xx', which has no hosts"),
    ("host outside the group it names", {"us1": {"keepalived_group": "lb_eu"}}, "names the group 'lb_eu', but us1 is not one of its hosts"),
    ("hosts of a pair disagree", {"us2": {"keepalived_group": "lb_eu"}}, "keepalived_group on us2: found 'lb_eu', but us2 is a host of pair 'lb_us'"),
]


@pytest.mark.parametrize(("per_host", "fragment"), [c[1:] for c in GROUP_ERRORS], ids=[c[0] for c in GROUP_ERRORS])
def test_pair_groups_refuse(per_host, fragment):
    with pytest.raises(PairError) as exc:
        _pair.pair_groups(GROUPS["lb"], two_pairs(per_host=per_host), GROUPS)
    assert any(fragment in e for e in exc.value.errors), exc.value.errors


# (case, eu vars, us vars, per-host vars, expected messages' fragments; [] = no conflict)
CONFLICT_CASES = [
    ("distinct VRIDs", {}, {}, None, []),
    ("same VRID, same interface, no facts", {}, {"keepalived_vrid_base": 55}, None,
     ["pair lb_us: VI_1 uses virtual_router_id 55, which pair lb_eu already uses for VI_1 on the same segment (eth0)"]),
    ("same VRID, other interface name", {}, {"keepalived_vrid_base": 55, "keepalived_interface": "eth1"}, None, []),
    ("same VRID, segments named apart", {"keepalived_segment": "vlan10"}, {"keepalived_vrid_base": 55, "keepalived_segment": "vlan20"}, None, []),
    ("same VRID, same named segment", {"keepalived_segment": "vlan10"}, {"keepalived_vrid_base": 55, "keepalived_segment": "vlan10"}, None,
     ["on the same segment (vlan10)"]),
    ("same VRID, facts: other networks", {}, {"keepalived_vrid_base": 55},
     {"eu1": facts("198.51.100.61"), "eu2": facts("198.51.100.62"), "us1": facts("192.0.2.71"), "us2": facts("192.0.2.72")}, []),
    ("same VRID, facts: one network", {}, {"keepalived_vrid_base": 55},
     {"eu1": facts("198.51.100.61"), "eu2": facts("198.51.100.62"), "us1": facts("198.51.100.71"), "us2": facts("198.51.100.72")},
     ["on the same segment (198.51.100.0/24)"]),
    ("dual master overlaps the next VRID", {**{"keepalived_topology": "dual_master"},
                                            "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]},
     {"keepalived_vrid_base": 56}, None, ["pair lb_us: VI_1 uses virtual_router_id 56, which pair lb_eu already uses for VI_2"]),
    ("one VIP in two pairs", {}, {"keepalived_vips": ["198.51.100.100/24"]}, None,
     ["pair lb_us: VIP 198.51.100.100/24 of VI_1 is already a VIP of pair lb_eu (VI_1)"]),
]


@pytest.mark.parametrize(("eu", "us", "per_host", "expected"), [c[1:] for c in CONFLICT_CASES], ids=[c[0] for c in CONFLICT_CASES])
def test_conflicts(eu, us, per_host, expected):
    models = _pair.pairs(GROUPS["lb"], two_pairs(eu, us, per_host), GROUPS)
    found = _pair.conflicts(models)
    assert len(found) == len(expected), found
    for fragment, message in zip(expected, found, strict=True):
        assert fragment in message


def test_a_vrid_within_one_pair_is_not_a_cross_pair_conflict():
    """Within one pair the preflight's own VRID rule applies; conflicts() is across pairs."""
    [p] = _pair.pairs(["eu1"], two_pairs(), GROUPS)
    assert _pair.conflicts([p]) == []


# --- day-2 views --------------------------------------------------------------


def report(held=(), drained=False, nginx=True, running=True):
    return {"held_vips": list(held), "drain": {"drained": drained, "value": -253 if drained else 0, "status": "active"},
            "nginx": {"healthy": nginx, "status": 200 if nginx else 502, "latency_ms": 1.0, "node": "x"},
            "keepalived": {"running": running, "version": "2.2.7"}, "instances": [], "source": "json"}


def reads(*hosts_reports):
    return {"results": [dict(r, item=h) for h, r in hosts_reports]}


def test_reports_of_prefers_the_readers_own_reads():
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    stale, fresh = report(["198.51.100.100"]), report()
    hostvars = {
        "lb1": {"halb_pair_read": reads(("lb1", report(["198.51.100.100"])), ("lb2", fresh))},
        "lb2": {"halb_pair_read": reads(("lb2", stale))},
    }
    assert _pair.reports_of(pair, hostvars, reader="lb1")["lb2"]["held_vips"] == []
    # without a reader: each node's read of itself
    assert _pair.reports_of(pair, hostvars)["lb2"]["held_vips"] == ["198.51.100.100"]


def test_reports_of_a_silent_node():
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    got = _pair.reports_of(pair, {"lb1": {"halb_pair_read": reads(("lb1", report()))}, "lb2": {}})
    assert got["lb2"] == {"failed": True, "msg": "no answer"}


STATUS_CASES = [
    ("ok", {"lb1": report(["198.51.100.100"]), "lb2": report()}, [], [], "all VIPs ok"),
    ("split brain fails", {"lb1": report(["198.51.100.100"]), "lb2": report(["198.51.100.100"])},
     ["split_brain"], ["split_brain"], "split_brain: VIP 198.51.100.100 (VI_1) held by lb1, lb2"),
    ("misplaced is a problem, not a failure", {"lb1": report(), "lb2": report(["198.51.100.100"])},
     ["misplaced"], [], "misplaced: VIP 198.51.100.100 (VI_1) held by lb2"),
    ("silent node: unknown", {"lb1": report()}, ["unknown"], [], "unknown: VIP 198.51.100.100"),
]


@pytest.mark.parametrize(("reports", "problems", "failing", "summary"), [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_status(reports, problems, failing, summary):
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    s = _pair.status_all([pair], [reports])
    assert [p["verdict"] for p in s["problems"]] == problems
    assert [p["verdict"] for p in s["failing"]] == failing
    assert s["summary"].startswith(summary)
    assert s["table"][0].split() == ["VIP", "INSTANCE", "VRID", "PREFERRED", "HOLDERS", "VERDICT", "WHY"]
    assert "==" not in s["table"][0]


def _lvs_director(held, weights):
    reals = [{"address": f"198.51.100.{63 + i}", "port": 8080, "forward": "Route", "weight": w, "active": 0, "inactive": 0}
             for i, w in enumerate(weights)]
    return dict(report(held), addresses={"eth0": ["198.51.100.11/24", *(f"{a}/24" for a in held)]},
                virtual_servers=[{"protocol": "TCP", "address": "198.51.100.100", "port": 8080, "fwmark": None, "scheduler": "rr",
                                  "flags": [], "persistent": None, "real_servers": reals}])


def test_status_without_virtual_servers_keeps_its_table():
    """A node without LVS (virtual_servers null or empty, or a vip_info before them): the same table as before."""
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    before = _pair.status_all([pair], [{"lb1": report(["198.51.100.100"]), "lb2": report()}])
    after = _pair.status_all([pair], [{"lb1": dict(report(["198.51.100.100"]), virtual_servers=None),
                                       "lb2": dict(report(), virtual_servers=[])}])
    assert after["table"] == before["table"]
    assert after["pairs"][0]["lvs"] == [] and after["problems"] == []


def test_status_shows_each_virtual_server_and_flags_the_forwarding_director():
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    s = _pair.status_all([pair], [{"lb1": _lvs_director(["198.51.100.100"], [0, 0]), "lb2": _lvs_director([], [0, 0])}])
    lvs_lines = [line for line in s["table"] if "TCP 198.51.100.100:8080" in line]
    assert lvs_lines == [
        "lb1  TCP 198.51.100.100:8080 rr  real 198.51.100.63:8080 Route w0 act 0 inact 0; 198.51.100.64:8080 Route w0 act 0 inact 0"
        "  LVS_NO_LIVE_REAL_SERVER",
        "lb2  TCP 198.51.100.100:8080 rr  real 198.51.100.63:8080 Route w0 act 0 inact 0; 198.51.100.64:8080 Route w0 act 0 inact 0",
    ]
    # after the nodes' table, before the guard's line
    assert s["table"].index(lvs_lines[0]) < len(s["table"]) - 2 and s["table"][-1].startswith("VRRP GUARD")
    assert [(p["verdict"], p.get("node")) for p in s["problems"]] == [("lvs_no_live_real_server", "lb1")]
    assert s["alert"] is True and s["failing"] == []
    assert "lvs_no_live_real_server: LVS TCP 198.51.100.100:8080 on lb1" in s["summary"]
    failed = _pair.status_all([pair], [{"lb1": _lvs_director(["198.51.100.100"], [0, 0]), "lb2": report()}],
                              ["split_brain", "lvs_no_live_real_server"])
    assert [(p["pair"], p["verdict"]) for p in failed["failing"]] == [("lb", "lvs_no_live_real_server")]
    # one live real server: shown, no problem
    ok = _pair.status_all([pair], [{"lb1": _lvs_director(["198.51.100.100"], [0, 1]), "lb2": report()}])
    assert ok["problems"] == [] and any("Route w1" in line for line in ok["table"])


def test_status_of_two_pairs_names_each():
    models = _pair.pairs(GROUPS["lb"], two_pairs(), GROUPS)
    reports = [{"eu1": report(["198.51.100.100"]), "eu2": report(["198.51.100.100"])},
               {"us1": report(["198.51.100.170"]), "us2": report()}]
    s = _pair.status_all(models, reports)
    assert s["table"][0] == "== pair lb_eu"
    assert "== pair lb_us" in s["table"]
    assert [(p["pair"], p["verdict"]) for p in s["failing"]] == [("lb_eu", "split_brain")]
    assert s["failing_summary"].startswith("pair lb_eu: split_brain: VIP 198.51.100.100")
    assert sorted(s["reports"]) == ["eu1", "eu2", "us1", "us2"]


DRAIN_CASES = [
    ("drain the master: every VIP of its instances", "lb1", False, {"lb1": report(["198.51.100.100"]), "lb2": report()},
     ("drained", ["198.51.100.100", "198.51.100.101"], [])),
    ("restore: the VIPs it prefers", "lb2", True, {}, ("active", ["198.51.100.101"], [])),
    ("no healthy peer", "lb1", False, {"lb1": report(["198.51.100.100"]), "lb2": report(nginx=False)},
     ("drained", ["198.51.100.100", "198.51.100.101"],
      ["VI_1 (198.51.100.100): no healthy peer of lb1 to take over (peers: lb2)",
       "VI_2 (198.51.100.101): no healthy peer of lb1 to take over (peers: lb2)"])),
]


@pytest.mark.parametrize(("node", "restore", "reports", "expected"), [c[1:] for c in DRAIN_CASES], ids=[c[0] for c in DRAIN_CASES])
def test_drain_plan(node, restore, reports, expected):
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **DUAL, keepalived_drain_file="/run/halb/drain"))
    plan = _pair.drain_plan(pair.as_dict(), reports, node, restore)
    assert (plan["state"], plan["vips"], plan["blockers"]) == expected
    assert plan["drain_file"] == "/run/halb/drain"


def test_drain_plan_of_a_stranger():
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    with pytest.raises(PairError, match="node: expected one of the pair's hosts"):
        _pair.drain_plan(pair, {}, "web1")


def test_status_names_the_sources_of_foreign_vrrp():
    """What each node's guard remembers (vip_info's vrrp_strangers) reaches the VRRP GUARD
    line, the verdict's ``strangers`` and the alert."""
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    lb1 = dict(report(["198.51.100.100"]), vrrp_guard={"vrrp_spoofed": {"packets": 24, "bytes": 960}},
               vrrp_strangers=[{"address": "198.51.100.13", "expires": 3500}])
    lb2 = dict(report(), vrrp_guard={"vrrp_spoofed": {"packets": 0, "bytes": 0}}, vrrp_strangers=[])
    s = _pair.status_all([pair], [{"lb1": lb1, "lb2": lb2}])
    guard = s["vrrp_guard"]["lb"]
    assert (guard["verdict"], guard["strangers"]) == ("foreign_vrrp", ["198.51.100.13"])
    assert s["foreign_vrrp"] == ["lb"] and s["alert"] is True
    line = s["table"][-1]
    assert line.startswith("VRRP GUARD  FOREIGN_VRRP  VRRP for this pair's VRIDs from outside the pair, dropped "
                           "(lb1: 24 packets; from 198.51.100.13)")
    assert "playbooks/leave.yml" in line


def test_a_silent_nodes_strangers_are_not_read():
    lb1 = dict(report(["198.51.100.100"]), vrrp_guard={"vrrp_spoofed": {"packets": 0}}, vrrp_strangers=[])
    silent = {"failed": True, "msg": "no answer", "vrrp_strangers": [{"address": "198.51.100.13"}]}
    assert _pair.guard_verdict({"lb1": lb1, "lb2": silent})["strangers"] == []


# --- taking a node out of its pair (playbooks/leave.yml) -----------------------

A, B = "198.51.100.100", "198.51.100.101"
# (case, group vars, reports, node, force, expected (drain, refused?, words in how))
LEAVE_CASES = [
    ("keepalived runs, a healthy peer: drain first", DUAL, {"lb1": report([A]), "lb2": report([B])}, "lb1", False,
     (True, False, [f"draining lb1 first: its peers take {A}, {B} before keepalived stops there"])),
    ("no healthy peer: refused, saying how to go on", DUAL, {"lb1": report([A]), "lb2": report([B], nginx=False)}, "lb1", False,
     (False, True, ["not taking lb1 out of pair lb: VI_1 (198.51.100.100): no healthy peer of lb1", "-e force=true"])),
    ("no healthy peer, forced: no drain", DUAL, {"lb1": report([A]), "lb2": report([B], nginx=False)}, "lb1", True,
     (False, False, ["forced: lb1 is not drained (VI_1 (198.51.100.100): no healthy peer", "priority-0 advert"])),
    # a node put back in the inventory to be taken out: its peers' guard drops its adverts, a drain cannot work
    ("forced with a healthy peer: no drain either", DUAL, {"lb1": report([A, B]), "lb2": report([A, B])}, "lb1", True,
     (False, False, ["forced: lb1 is not drained; keepalived's stop on it sends a priority-0 advert"])),
    ("a peer that did not answer is no healthy peer", DUAL, {"lb1": report([A])}, "lb1", False,
     (False, True, ["no healthy peer of lb1"])),
    ("keepalived stopped (a rerun after the node left): nothing to drain, nothing refused", DUAL,
     {"lb1": report(running=False), "lb2": report([A, B], nginx=False)}, "lb1", False,
     (False, False, ["keepalived does not run on lb1: no VIP to hand over by VRRP"])),
    ("keepalived stopped but a VIP still there: named", DUAL, {"lb1": report([A], running=False), "lb2": report([B])}, "lb1", False,
     (False, False, [f"it still holds {A}, removed once keepalived is stopped for good"])),
    ("nopreempt: the stop hands over, a drain would move nothing", {**DUAL, "keepalived_nopreempt": True},
     {"lb1": report([A]), "lb2": report([B])}, "lb1", False,
     (False, False, ["keepalived_nopreempt is true for VI_1, VI_2", "keepalived's stop on lb1 hands its VIPs over"])),
    ("the node did not answer: refused", DUAL, {"lb2": report([A, B])}, "lb1", True,
     (False, True, ["it did not answer"])),
]


@pytest.mark.parametrize(("vars_", "reports", "node", "force", "expected"), [c[1:] for c in LEAVE_CASES], ids=[c[0] for c in LEAVE_CASES])
def test_leave_plan(vars_, reports, node, force, expected):
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **vars_))
    plan = _pair.leave_plan(pair.as_dict(), reports, node, force)
    drain, refused, words = expected
    assert (plan["drain"], bool(plan["refused"])) == (drain, refused)
    for w in words:
        assert w in plan["how"]
    assert plan["vips"] == [A, B] and plan["remaining"] == ["lb2"]
    if refused:
        assert plan["how"] == plan["refused"]


def test_leave_plan_says_what_comes_next():
    three = _pair.model(["lb1", "lb2", "lb3"], hv(["lb1", "lb2", "lb3"], **DUAL))
    plan = _pair.leave_plan(three, {h: report() for h in ("lb1", "lb2", "lb3")}, "lb3")
    assert plan["next"].startswith("lb3 has left pair lb. Next: remove lb3 from the inventory group lb (and its host_vars), "
                                   "then run playbooks/site.yml: lb1, lb2 drop its address")
    assert "X-HALB-Leaving: 1" in plan["next"]
    # a pair of two leaves one node: site.yml refuses a pair of one, so the replacement comes first
    two = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **DUAL))
    plan = _pair.leave_plan(two, {"lb1": report([A]), "lb2": report([B])}, "lb2")
    assert "lb1 is left alone and holds every VIP with no failover" in plan["next"]
    assert "put the node that replaces lb2 in the inventory group lb in its place" in plan["next"]


def test_leave_plan_of_a_host_outside_the_pair():
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **SINGLE))
    with pytest.raises(PairError, match="node: expected one of the pair's hosts"):
        _pair.leave_plan(pair, {}, "web1")


def test_status_of_the_remaining_nodes_leaves_the_leaving_nodes_guard_out():
    """After leave.yml the node has no guard table (its verdict would be unguarded) and
    holds nothing: the remaining node holding every VIP is ok, and the guard too."""
    pair = _pair.model(["lb1", "lb2"], hv(["lb1", "lb2"], **DUAL))
    guarded = {"vrrp_guard": {"vrrp_spoofed": {"packets": 0}}, "vrrp_strangers": []}
    reports = {"lb1": dict(report(running=False), vrrp_guard={}), "lb2": dict(report([A, B]), **guarded)}
    before = _pair.status_all([pair], [reports])
    assert before["unguarded"] == ["lb"]
    after = _pair.status_all([pair], [reports], leaving=["lb1"])
    assert [p["verdict"] for p in after["pairs"][0]["placements"]] == ["ok", "ok"]
    assert after["vrrp_guard"]["lb"]["verdict"] == "ok" and after["alert"] is False
    # a VIP the leaving node kept is a split brain of the pair it left
    reports["lb1"] = dict(report([A], running=False), vrrp_guard={})
    kept = _pair.status_all([pair], [reports], leaving=["lb1"])
    assert [(p["vip"], p["verdict"]) for p in kept["failing"]] == [(A, "split_brain")]
