"""LVS virtual servers rendered through the keepalived role (preflight, then configure with
the role's validator: the real `keepalived -t`) and read back.

On this machine's kernel there is no ip_vs module: `keepalived -t` parses and checks
virtual_server blocks without it (only a running checker process needs ip_vs), and it
refuses what it cannot use (a bad scheduler, a keyword out of place: exit 5 after a warning).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import find, parse, value
from tests.render.test_keepalived_leave import HOSTS, role_files_playbook, what_the_role_writes

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
IFACE = default_interface()
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody",
        "keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/25", "198.51.100.101/25"]}


def virtual_servers(conf: str) -> dict[str, list]:
    return {" ".join(args): children for kw, args, children in parse(conf) if kw == "virtual_server"}


def real_servers(children) -> dict[str, list]:
    return {" ".join(args): rc for kw, args, rc in children if kw == "real_server"}


def test_dr_http_get_sorry_server_fwmark_misc_check_and_sync_daemon(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, "keepalived_lvs_sync_daemon": True, "keepalived_virtual_servers": [
        {"address": "198.51.100.100", "port": 80, "lb_algo": "wlc", "persistence_timeout": 300, "inhibit_on_failure": True,
         "check": {"type": "HTTP_GET", "path": "/healthz", "status_code": 204, "port": 8081},
         "sorry_server": {"address": "198.51.100.50", "port": 80},
         "real_servers": [{"address": "198.51.100.21"}, {"address": "198.51.100.22", "weight": 3}]},
        {"fwmark": 7, "lb_algo": "mh", "check": {"type": "MISC_CHECK", "script": "/usr/local/bin/check-web", "misc_timeout": 5},
         "sorry_server": {"address": "198.51.100.51"}, "real_servers": [{"address": "198.51.100.23"}]},
        {"fwmark": 8, "check": {"port": 443}, "real_servers": [{"address": "198.51.100.25"}]},
        {"address": "198.51.100.101", "port": 53, "protocol": "UDP", "check": {"type": "none"},
         "real_servers": [{"address": "198.51.100.24"}]},
    ]})
    assert run.rc == 0, run.output
    for host in ("lb1", "lb2"):
        conf = run.conf(host)
        gdefs = find(parse(conf), "global_defs")[0][2]
        # the node's VRRP interface and the pair's first instance
        assert value(gdefs, "lvs_sync_daemon") == f"{IFACE} VI_1"
        vss = virtual_servers(conf)
        assert list(vss) == ["198.51.100.100 80", "fwmark 7", "fwmark 8", "198.51.100.101 53"]
        web = vss["198.51.100.100 80"]
        assert [(value(web, k)) for k in ("delay_loop", "lb_algo", "lb_kind", "protocol", "persistence_timeout", "sorry_server")] == [
            "6", "wlc", "DR", "TCP", "300", "198.51.100.50 80"]
        rss = real_servers(web)
        assert list(rss) == ["198.51.100.21 80", "198.51.100.22 80"]
        assert value(rss["198.51.100.22 80"], "weight") == "3"
        assert find(rss["198.51.100.21 80"], "inhibit_on_failure")
        http = find(rss["198.51.100.21 80"], "HTTP_GET")[0][2]
        url = find(http, "url")[0][2]
        assert (value(url, "path"), value(url, "status_code")) == ("/healthz", "204")
        assert [value(http, k) for k in ("connect_timeout", "connect_port", "retry", "delay_before_retry")] == ["3", "8081", "3", "1"]
        mark = vss["fwmark 7"]
        assert value(mark, "protocol") is None  # keepalived ignores it for a fwmark, with a warning that fails -t
        # a fwmark DR virtual server's real and sorry servers have no port (keepalived clears it, with a warning)
        assert value(mark, "sorry_server") == "198.51.100.51"
        misc = find(real_servers(mark)["198.51.100.23"], "MISC_CHECK")[0][2]
        assert (value(misc, "misc_path"), value(misc, "misc_timeout")) == ("/usr/local/bin/check-web", "5")
        tcp = find(real_servers(vss["fwmark 8"])["198.51.100.25"], "TCP_CHECK")[0][2]
        assert value(tcp, "connect_port") == "443"
        dns = vss["198.51.100.101 53"]
        assert value(dns, "protocol") == "UDP"
        rs = real_servers(dns)["198.51.100.24 53"]
        assert [k for k, _a, _c in rs] == ["weight"]  # check type none: no checker


def test_nat_tcp_check_from_an_inventory_group(tmp_path):
    inv = {"all": {"children": {
        "lb": {"hosts": {"lb1": {}, "lb2": {}}, "vars": {**BASE, "keepalived_virtual_servers": [
            {"address": "198.51.100.101", "port": 8080, "lb_kind": "NAT", "real_servers_group": "web", "real_server_port": 80,
             "check": {"connect_timeout": 2, "retry": 2}},
        ]}},
        "web": {"hosts": {"web1": {"ansible_host": "198.51.100.221"},
                          "web2": {"ansible_host": "web2.example.org", "keepalived_real_server_address": "198.51.100.222"}},
                "vars": {"keepalived_real_server_gateway": "198.51.100.101"}},
    }}}
    path = tmp_path / "inventory.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inv))
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {}, inventory=path)
    assert run.rc == 0, run.output
    vs = virtual_servers(run.conf("lb2"))["198.51.100.101 8080"]
    assert (value(vs, "lb_kind"), value(vs, "protocol")) == ("NAT", "TCP")
    rss = real_servers(vs)
    assert list(rss) == ["198.51.100.221 80", "198.51.100.222 80"]
    tcp = find(rss["198.51.100.221 80"], "TCP_CHECK")[0][2]
    assert [value(tcp, k) for k in ("connect_timeout", "retry", "delay_before_retry", "connect_port")] == ["2", "2", "1", None]


def test_refused_before_anything_is_written(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, "keepalived_virtual_servers": [
        {"address": "198.51.100.99", "port": 80, "real_servers": [{"address": "198.51.100.21", "port": 8080}]},
        {"address": "198.51.100.100", "port": 80, "lb_kind": "NAT", "real_servers": [{"address": "198.51.100.21"}]},
    ]})
    assert run.rc != 0
    assert "keepalived_virtual_servers[0] (198.51.100.99:80): 198.51.100.99 is not a VIP of the pair" in run.output
    assert "port 8080 differs from the virtual server's port 80; DR cannot remap ports" in run.output
    assert "set gateway of keepalived_virtual_servers[1] (198.51.100.100:80).real_servers[0]" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()


def test_no_virtual_server_renders_no_lvs(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], BASE)
    assert run.rc == 0, run.output
    conf = run.conf("lb1")
    assert virtual_servers(conf) == {}
    assert value(find(parse(conf), "global_defs")[0][2], "lvs_sync_daemon") is None




def _host_files_playbook(tmp: Path, switches: dict) -> Path:
    """What configure.yml would write and remove for the host's kernel settings: its own expressions,
    evaluated with the role's variables (no task of the role runs: nothing is written on this machine)."""
    w = what_the_role_writes()  # configure.yml's own expressions
    listing = (
        "{{ {'files': (" + w["files"] + ") | items2dict(key_name='path', value_name='content'),"
        " 'absent': (" + w["absent"] + "),"
        " 'sysctl_keys': __keepalived_sysctl_keys, 'lvs': __keepalived_lvs | bool} | to_json }}"
    )
    return role_files_playbook(tmp, switches, listing)


MODULES = "/etc/modules-load.d/halb-pair-lvs.conf"
SYSCTL = "/etc/sysctl.d/60-halb-pair.conf"
NAT_VS = {"address": "198.51.100.100", "port": 80, "lb_kind": "NAT",
          "real_servers": [{"address": "198.51.100.221", "gateway": "198.51.100.100"}]}
DR_VS = {"address": "198.51.100.100", "port": 80, "real_servers": [{"address": "198.51.100.21"}]}


@pytest.mark.parametrize(("switches", "modules", "sysctl"), [
    pytest.param({"keepalived_virtual_servers": [NAT_VS], "keepalived_nonlocal_bind": False}, True,
                 ["net.ipv4.ip_forward = 1"], id="nat-without-nonlocal-bind"),
    pytest.param({"keepalived_virtual_servers": [DR_VS]}, True, ["net.ipv4.ip_nonlocal_bind = 1"], id="dr"),
    pytest.param({"keepalived_virtual_servers": [NAT_VS]}, True, ["net.ipv4.ip_nonlocal_bind = 1", "net.ipv4.ip_forward = 1"],
                 id="nat"),
    pytest.param({}, False, ["net.ipv4.ip_nonlocal_bind = 1"], id="none"),
    pytest.param({"keepalived_nonlocal_bind": False}, False, None, id="none-without-nonlocal-bind"),
])
def test_the_host_files_follow_the_virtual_servers(tmp_path, switches, modules, sysctl):
    run = run_playbook(tmp_path, _host_files_playbook(tmp_path, switches), ["lb1", "lb2"], BASE, HOSTS)
    assert run.rc == 0, run.output
    got = json.loads(run.conf("lb1", "files.json"))
    if modules:
        assert got["files"][MODULES].splitlines()[-1] == "ip_vs"
        assert MODULES not in got["absent"]
    else:
        # the last virtual server gone: the boot-time file goes too (the module stays loaded)
        assert MODULES not in got["files"]
        assert MODULES in got["absent"]
    if sysctl is None:
        assert SYSCTL not in got["files"] and got["sysctl_keys"] == []
    else:
        assert [ln for ln in got["files"][SYSCTL].splitlines() if ln and not ln.startswith("#")] == sysctl
        assert got["sysctl_keys"] == [ln.split(" = ")[0] for ln in sysctl]
