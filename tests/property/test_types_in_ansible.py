# SPDX-License-Identifier: GPL-3.0-or-later
"""The types on the values Ansible really hands a filter (tagged strings and ints,
lazy lists and dicts, templated defaults such as "{{ nginx_lb_health_port }}"), the
way the preflight will call them: one check_hosts() over hostvars."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.helpers.ansible_run import REPO, VENV_BIN

FILTER = '''
from ansible_collections.halb.pair.plugins.plugin_utils._types import check_hosts


def _vars(hostvars, hosts):
    return {h: {k: hostvars[h][k] for k in hostvars[h].keys() if k.startswith(("keepalived_", "nginx_lb_"))} for h in hosts}


class FilterModule:
    def filters(self):
        return {"halb_test_types": lambda hosts, hostvars, role: check_hosts(role, hosts, _vars(hostvars, hosts))}
'''

def _playbook(out: str) -> list:
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": role, "ansible.builtin.copy": {"content": "{{ groups['lb'] | halb_test_types(hostvars, '" + role + "') | to_json }}",
                                                "dest": f"{out}/{role}.json", "mode": "0600"}}
        for role in ("keepalived", "nginx")]}]


@pytest.mark.ansible
def test_check_hosts_on_real_hostvars(tmp_path):
    (tmp_path / "filter_plugins").mkdir()
    (tmp_path / "filter_plugins" / "halb_test_types.py").write_text(FILTER)
    (tmp_path / "play.yml").write_text(yaml.safe_dump(_playbook(str(tmp_path))))
    inventory = {"all": {"children": {"lb": {
        "hosts": {
            "lb1": {"keepalived_router_id": "{{ inventory_hostname }}", "keepalived_vrrp_version": 3, "keepalived_advert_int": 0.1},
            "lb2": {"keepalived_router_id": "lb2\n    vrrp_strict", "keepalived_vrrp_version": "{{ 1 + 1 }}",
                    "keepalived_advert_int": "{{ 2 }}"},
        },
        "vars": {
            "keepalived_topology": "dual_master",
            "keepalived_vips": ["198.51.100.100/24", {"address": "198.51.100.101/24", "label": "eth0:2"}],
            "nginx_lb_health_port": 8081, "nginx_lb_health_listen": "{{ nginx_lb_health_port }}",
            "nginx_lb_upstreams": [{"name": "web", "method": "hash", "hash_key": "$request_uri",
                                    "servers": [{"address": "198.51.100.21", "port": "{{ 8000 + 80 }}"},
                                                {"address": "198.51.100.22;\n}\nserver {\n listen 8099"}]}],
        }}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FILTER_PLUGINS=str(tmp_path / "filter_plugins"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = {role: json.loads((tmp_path / f"{role}.json").read_text()) for role in ("keepalived", "nginx")}
    assert got["keepalived"] == [
        "keepalived_router_id on lb2: found 'lb2\\n    vrrp_strict'; allowed: 1..64 letters, digits, '_', '.' or '-', "
        "beginning with a letter or digit"]
    addr = "198.51.100.22;\n}\nserver {\n listen 8099"
    assert [m.split(": found")[0] for m in got["nginx"]] == [
        "nginx_lb_upstreams[0] (web).servers[1].address on lb1", "nginx_lb_upstreams[0] (web).servers[1].address on lb2"]
    assert repr(addr) in got["nginx"][0]
