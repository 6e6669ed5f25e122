"""The issue's injections and cut passwords, through the real playbooks/site.yml: each is
refused in the first play, before any host is touched (today's main deployed every one).

What each would have done without the types is shown in tests/property/
(test_attack_without_the_types_*): the same strings, rendered, accepted by `-t`.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.ansible_run import REPO, run_playbook
from tests.unit.plugins.plugin_utils.test__preflight import BASE

pytestmark = pytest.mark.ansible

SITE = REPO / "playbooks" / "site.yml"
NGINX = {
    "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 80}]}],
    "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}],
}
UPSTREAM_INJECTION = (
    "198.51.100.21;\n}\nserver {\n listen 8099;\n location / { root /etc; autoindex on; }\n}\nupstream halb_x {\n server 198.51.100.22"
)

CASES = [
    pytest.param(
        {"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": UPSTREAM_INJECTION, "port": 80}]}]},
        "nginx_lb_upstreams[0]",
        id="nginx-upstream-address-injection",
    ),
    pytest.param(
        {"nginx_lb_servers": [{"listen": ["80 reuseport; location /etc { alias /etc/; autoindex on; }  #"], "upstream": "web"}]},
        "listen",
        id="nginx-listen-injection",
    ),
    pytest.param(
        {"keepalived_vips": [{"address": "198.51.100.100/24", "label": "eth0:1\n        198.51.100.66/24 dev eth0"}]},
        "label",
        id="keepalived-label-injection",
    ),
    pytest.param({"keepalived_router_id": "lb\n    vrrp_strict"}, "keepalived_router_id", id="keepalived-router-id-injection"),
    pytest.param({"keepalived_auth_pass": "ab#cdefg"}, "keepalived_auth_pass", id="auth-pass-hash"),
    pytest.param({"keepalived_auth_pass": "ab cdefg"}, "keepalived_auth_pass", id="auth-pass-space"),
    pytest.param({"keepalived_auth_pass": "ab!cdefg"}, "keepalived_auth_pass", id="auth-pass-bang"),
    pytest.param({"keepalived_auth_pass": "pässwört"}, "keepalived_auth_pass", id="auth-pass-10-bytes"),
]


@pytest.mark.parametrize(("group_vars", "fragment"), CASES)
def test_site_refuses_an_injection_before_touching_a_host(tmp_path, group_vars, fragment):
    host_vars = {"lb1": {"ansible_host": "198.51.100.11"}, "lb2": {"ansible_host": "198.51.100.12"}}
    run = run_playbook(tmp_path, SITE, ["lb1", "lb2"], {**BASE, **NGINX, **group_vars}, host_vars, extra=["--tags", "preflight"])
    assert run.rc != 0, run.output
    assert fragment in run.output
    assert "PLAY [Load balancers]" not in run.output
    assert "PLAY [Web backends]" not in run.output
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", run.output, re.M)
    assert recap and all(changed == "0" for _, changed in recap), recap
    # no password, good or bad, is ever printed
    for secret in (BASE["keepalived_auth_pass"], group_vars.get("keepalived_auth_pass", BASE["keepalived_auth_pass"])):
        assert secret not in run.output.replace("keepalived_auth_pass", "")
