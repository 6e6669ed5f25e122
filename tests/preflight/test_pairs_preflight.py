"""Two pairs in one inventory (groups lb_eu and lb_us, children of lb), through the real
site.yml's first play: each pair is checked on its own, and a VRID two pairs on the same
segment share is refused before any host is changed."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from tests.helpers.ansible_run import REPO, VENV_BIN

pytestmark = pytest.mark.ansible

SITE = REPO / "playbooks" / "site.yml"
NGINX = {
    "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 80}]}],
    "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}],
}


def run_site(tmp_path, us_vars):
    local = {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")}
    inventory = {"all": {"children": {"lb": {
        "vars": {**NGINX, "keepalived_auth_pass": "s3cret"},
        "children": {
            "lb_eu": {"hosts": {"lb1": local, "lb2": local},
                      "vars": {"keepalived_group": "lb_eu", "keepalived_vips": ["198.51.100.100/24"]}},
            "lb_us": {"hosts": {"lb3": local, "lb4": local},
                      "vars": {"keepalived_group": "lb_us", "keepalived_vips": ["198.51.100.110/24"], **us_vars}},
        }}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "t"))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(path), str(SITE), "--tags", "preflight"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_two_pairs_pass_each_on_its_own(tmp_path):
    # As one group of four these would be refused (the VRID base and the VIPs differ between nodes).
    rc, out = run_site(tmp_path, {"keepalived_vrid_base": 65})
    assert rc == 0, out
    assert "TASK [halb.pair.keepalived : Check the keepalived topology across the group]" in out
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", out, re.M)
    assert sorted(h for h, _ in recap) == ["lb1", "lb2", "lb3", "lb4"]


def test_a_vrid_two_pairs_share_on_one_segment_is_refused(tmp_path):
    rc, out = run_site(tmp_path, {})
    assert rc != 0
    assert "pair lb_us: VI_1 uses virtual_router_id 55, which pair lb_eu already uses for VI_1 on the same segment" in out
    assert "PLAY [Load balancers]" not in out
    assert "s3cret" not in out


def test_a_broken_second_pair_is_refused(tmp_path):
    # The run_once host is in lb_eu: the other pair must be checked all the same.
    rc, out = run_site(tmp_path, {"keepalived_vrid_base": 65, "keepalived_backup_priority": 150})
    assert rc != 0
    assert "pair lb_us: VI_1: nodes lb3, lb4 have the same priority 150" in out
    assert "PLAY [Load balancers]" not in out
