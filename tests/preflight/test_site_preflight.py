"""Every refusal of the preflight, through the real playbooks/site.yml.

Fake nodes lb1/lb2 use the local connection; the run is limited to the preflight
tags as a safety net, and each test shows the message, that site.yml stopped in its
first play, and that no task reported a change.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.ansible_run import REPO, run_playbook
from tests.unit.plugins.plugin_utils.test__preflight import BASE, REFUSED

pytestmark = pytest.mark.ansible

SITE = REPO / "playbooks" / "site.yml"
NGINX = {
    "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 80}]}],
    "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}],
}
FRAGMENT_FIXES = {"interface-missing": ["keepalived_interface on lb2", "'eth7'", "does not exist"]}


def _cases():
    for p in REFUSED:
        group_vars, per_host, fragments = p.values
        yield pytest.param(group_vars, per_host, FRAGMENT_FIXES.get(p.id, fragments), id=p.id)


@pytest.mark.parametrize(("group_vars", "per_host", "fragments"), list(_cases()))
def test_site_refuses_before_touching_a_host(tmp_path, group_vars, per_host, fragments):
    host_vars = {h: dict(v) for h, v in (per_host or {}).items()}
    host_vars.setdefault("lb2", {}).setdefault("ansible_host", "198.51.100.12")
    host_vars.setdefault("lb1", {}).setdefault("ansible_host", "198.51.100.11")
    run = run_playbook(tmp_path, SITE, ["lb1", "lb2"], {**BASE, **NGINX, **group_vars}, host_vars,
                       extra=["--tags", "preflight"])
    assert run.rc != 0, run.output
    for fragment in fragments:
        assert fragment in run.output
    assert "TASK [halb.pair.keepalived : Check the keepalived topology across the group]" in run.output
    # the first play stopped the run: no later play, no task that changes a host
    assert "PLAY [Load balancers]" not in run.output
    assert "PLAY [Web backends]" not in run.output
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", run.output, re.M)
    assert recap and all(changed == "0" for _, changed in recap), recap
    assert BASE["keepalived_auth_pass"] not in run.output.replace("keepalived_auth_pass", "")


def test_site_refuses_a_pair_node_outside_the_limit_that_does_not_answer(tmp_path):
    # lb2 is outside --limit lb1 and cannot be read (no Python where its inventory says):
    # its address is the guard's and the hand-over's, so the run stops before any change,
    # naming lb2, instead of switching those protections off.
    host_vars = {"lb1": {"ansible_host": "198.51.100.11"},
                 "lb2": {"ansible_host": "198.51.100.12", "ansible_python_interpreter": "/nonexistent/python3"}}
    run = run_playbook(tmp_path, SITE, ["lb1", "lb2"], {**BASE, **NGINX}, host_vars, extra=["--tags", "preflight", "--limit", "lb1"])
    assert run.rc != 0, run.output
    assert "cannot read lb2, a node of a pair in this run" in run.output
    assert "PLAY [Load balancers]" not in run.output
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", run.output, re.M)
    assert recap and all(changed == "0" for _, changed in recap), recap
