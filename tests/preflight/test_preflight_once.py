"""The preflight runs once per run: site.yml's first play checks every host, the
roles' main then skips its own preflight for these hosts; a role used on its own
still runs it. Counted in `ansible-playbook --list-tasks` and in real runs."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers.ansible_run import REPO, VENV_BIN, run_playbook
from tests.unit.plugins.plugin_utils.test__preflight import BASE

pytestmark = pytest.mark.ansible

SITE = REPO / "playbooks" / "site.yml"
NGINX = {
    "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 80}]}],
    "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}],
}
# The tasks that check something, one per preflight rule set.
CHECKS = [
    "halb.pair.nginx : Check the nginx variables against the argument spec and the rules across them",
    "halb.pair.keepalived : Check the keepalived variables against the argument spec",
    "halb.pair.keepalived : Check the keepalived topology across the group",
]


def list_tasks(inventory: str) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--list-tasks", "-i", inventory, str(SITE)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("inventory", ["inventories/single", "inventories/dual_master", "lab/inventory"])
def test_site_lists_each_preflight_once_in_its_first_play(inventory):
    out = list_tasks(inventory)
    plays = re.split(r"^\s*play #\d+", out, flags=re.M)[1:]
    tasks = [re.sub(r"\tTAGS:.*$", "", line).strip() for line in out.splitlines() if "TAGS:" in line and "play #" not in line]
    for check in CHECKS:
        assert tasks.count(check) == 1, (check, out)
        assert check in plays[0], (check, "not in the first play")


def _ran(output: str, task: str) -> bool:
    """Whether the task ran on some host (not only skipped)."""
    block = output.split(f"TASK [{task}]", 1)
    if len(block) < 2:
        return False
    body = block[1].split("TASK [", 1)[0]
    return bool(re.search(r"^(ok|changed|fatal|failed): ", body, re.M))


def test_site_checks_each_host_once(tmp_path):
    run = run_playbook(tmp_path, SITE, ["lb1", "lb2"], {**BASE, **NGINX}, {"lb1": {"ansible_host": "198.51.100.11"}},
                       extra=["--tags", "preflight,nginx_lb_preflight,keepalived_preflight"])
    assert run.rc == 0, run.output
    for check in CHECKS:
        assert run.output.count(f"TASK [{check}]") == 1, check
        assert _ran(run.output, check), check
    # the roles' own preflight was skipped in the third play, for both hosts
    for include in ("halb.pair.nginx : Check the variables before anything is installed, unless this run did",
                    "halb.pair.keepalived : Preflight, unless this run did"):
        assert f"TASK [{include}]" in run.output, include
        assert not _ran(run.output, include), include


def test_a_role_on_its_own_runs_its_preflight(tmp_path):
    playbook = tmp_path / "alone.yml"
    playbook.write_text(
        "- name: The roles without site.yml\n  hosts: lb\n  gather_facts: true\n  gather_subset: [min]\n"
        "  roles:\n    - role: halb.pair.nginx\n    - role: halb.pair.keepalived\n"
    )
    ok = run_playbook(tmp_path / "ok", playbook, ["lb1", "lb2"], {**BASE, **NGINX},
                      extra=["--tags", "nginx_lb_preflight,keepalived_preflight"])
    assert ok.rc == 0, ok.output
    for check in CHECKS:
        assert _ran(ok.output, check), (check, ok.output)
    bad = run_playbook(tmp_path / "bad", playbook, ["lb1", "lb2"], {**BASE, **NGINX, "nginx_lb_health_path": "healthz"},
                       extra=["--tags", "nginx_lb_preflight,keepalived_preflight"])
    assert bad.rc != 0
    assert "nginx_lb_health_path on lb1 is 'healthz'." in bad.output


# The nginx refusals through site.yml's first play: refused before any host changes, types included.
from tests.unit.plugins.plugin_utils.test__nginx_preflight import REFUSED as NGINX_REFUSED  # noqa: E402

# A few of the table's rows (all of them run through the role in tests/render/test_nginx.py).
THROUGH_SITE = ["bad_upstream_ref", "bad_listen", "type-method-choice", "type-port-word", "type-misspelled-key"]


@pytest.mark.parametrize(("overrides", "message"), [p for p in NGINX_REFUSED if p.id in THROUGH_SITE],
                         ids=[p.id for p in NGINX_REFUSED if p.id in THROUGH_SITE])
def test_site_refuses_nginx_variables_before_touching_a_host(tmp_path, monkeypatch, overrides, message):
    monkeypatch.setenv("ANSIBLE_CALLBACK_RESULT_FORMAT", "json")
    run = run_playbook(tmp_path, SITE, ["lb1", "lb2"], {**BASE, **NGINX, **overrides}, {"lb1": {"ansible_host": "198.51.100.11"}},
                       extra=["--tags", "preflight"])
    assert run.rc != 0, run.output
    assert message in re.sub(r"\s+", " ", run.output), run.output[-3000:]
    assert "PLAY [Load balancers]" not in run.output
    assert "PLAY [Web backends]" not in run.output
    recap = re.findall(r"^(lb\d)\s+: ok=\d+\s+changed=(\d+)", run.output, re.M)
    assert recap and all(changed == "0" for _, changed in recap), recap
