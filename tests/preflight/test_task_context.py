"""Issue 17, findings 6 and 10: the preflight checks the values the templates render, as
the task context resolves them (inventory, play vars, role parameters, extra vars), and a
value that reads ``hostvars`` resolves as it does in the template.

Each case runs the real ansible-playbook on fake local hosts; the playbooks are written
here, beside the inventory, so that a value can be a play var or a role parameter.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from tests.helpers.ansible_run import REPO, VENV_BIN, default_interface, run_playbook
from tests.helpers.kaconf import instances

pytestmark = pytest.mark.ansible

needs_keepalived = pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap")

IFACE = default_interface()
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody", "keepalived_vips": ["198.51.100.100/24"]}
INJECTION = "x\n}\nvrrp_script evil {\n script /bin/true\n}"
WRITE_TASK = "TASK [halb.pair.keepalived : Write keepalived's files"
# Where the render playbook points the role's files (as tests/render/render_keepalived.yml does).
OUT_VARS = {
    "keepalived_conf_path": "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/keepalived.conf",
    "keepalived_libexec_dir": "{{ lookup('ansible.builtin.env', 'HALB_LIBEXEC') }}/{{ inventory_hostname }}",
    "keepalived_drain_file": "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/drain",
    "keepalived_state_dir": "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}",
    "keepalived_manage_service": False,
}


def render_playbook(tmp_path, play_vars=None, preflight_vars=None):
    """The role's preflight, then its configure tasks (the real template, validated by
    keepalived -t), in one play whose ``vars:`` are ``OUT_VARS`` + ``play_vars``."""
    preflight = {"name": "Preflight", "ansible.builtin.include_role": {"name": "halb.pair.keepalived", "tasks_from": "preflight.yml"}}
    if preflight_vars:
        preflight["vars"] = preflight_vars
    play = {
        "name": "Render keepalived.conf for each node",
        "hosts": "lb",
        "gather_facts": False,
        "vars": {**OUT_VARS, **(play_vars or {})},
        "tasks": [
            preflight,
            {"name": "Render", "ansible.builtin.import_role": {"name": "halb.pair.keepalived", "tasks_from": "configure.yml"}},
        ],
    }
    path = tmp_path / "render.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def assert_refused_untouched(run, fragment):
    assert run.rc != 0, run.output
    assert fragment in run.output, run.output
    assert "keepalived preflight found" in run.output, run.output
    assert WRITE_TASK not in run.output, run.output
    assert not list(run.outdir.rglob("keepalived.conf")), "a keepalived.conf was written"


# ---------------------------------------------------------------------------- finding 6


@pytest.mark.parametrize("where", ["play-var", "task-var"])
def test_a_play_level_router_id_injection_is_refused_before_rendering(tmp_path, where):
    value = {"keepalived_router_id": INJECTION}
    pb = render_playbook(tmp_path, play_vars=value if where == "play-var" else None,
                         preflight_vars=value if where == "task-var" else None)
    run = run_playbook(tmp_path, pb, ["lb1", "lb2"], BASE)
    assert_refused_untouched(run, "keepalived_router_id on lb1: found 'x")
    assert "keepalived_router_id on lb2: found 'x" in run.output
    assert "allowed: 1..64 letters, digits" in run.output


def test_a_router_id_injection_as_a_role_parameter_is_refused(tmp_path):
    # roles: with a parameter; only the preflight's tags run (nothing is installed either way)
    play = {"name": "Role with a parameter", "hosts": "lb", "gather_facts": False,
            "roles": [{"role": "halb.pair.keepalived", "keepalived_router_id": INJECTION, **OUT_VARS}]}
    pb = tmp_path / "role.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    pb.write_text(yaml.safe_dump([play], sort_keys=False))
    run = run_playbook(tmp_path, pb, ["lb1", "lb2"], BASE, extra=["--tags", "keepalived_preflight"])
    assert_refused_untouched(run, "keepalived_router_id on lb1: found")


def test_a_router_id_injection_as_an_extra_var_is_refused(tmp_path):
    # extra vars were in hostvars already: kept as the case the others must match
    pb = render_playbook(tmp_path)
    run = run_playbook(tmp_path, pb, ["lb1", "lb2"], BASE, extra=["-e", json.dumps({"keepalived_router_id": INJECTION})])
    assert_refused_untouched(run, "keepalived_router_id on lb1: found")


def test_a_play_var_reaches_the_cross_host_rules(tmp_path):
    # the same priority for both nodes, given as a play var: a rule across the pair
    pb = render_playbook(tmp_path, play_vars={"keepalived_master_priority": 100})
    run = run_playbook(tmp_path, pb, ["lb1", "lb2"], BASE)
    assert_refused_untouched(run, "VI_1: nodes lb1, lb2 have the same priority 100")


@needs_keepalived
def test_play_vars_build_the_model_the_template_renders(tmp_path):
    # two VIPs and dual_master as play vars: the pair model (instances) is built from them
    pb = render_playbook(tmp_path, play_vars={"keepalived_topology": "dual_master",
                                              "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"],
                                              "keepalived_master_priority": 155})
    run = run_playbook(tmp_path, pb, ["lb1", "lb2"], BASE)
    assert run.rc == 0, run.output
    got = {name: (i["state"], i["priority"]) for name, i in instances(run.conf("lb1")).items()}
    assert got == {"VI_1": ("MASTER", 155), "VI_2": ("BACKUP", 100)}, got


# ---------------------------------------------------------------------------- finding 10


def hostvars_inventory(tmp_path, smtp_server, mx_vars=None):
    local = {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")}
    inventory = {"all": {"children": {
        "lb": {"hosts": {"lb1": {**local, "ansible_host": "198.51.100.11"}, "lb2": {**local, "ansible_host": "198.51.100.12"}},
               "vars": {**BASE, "keepalived_smtp_server": smtp_server, "keepalived_notification_email": ["ops@example.com"]}},
        "mail": {"hosts": {"mx": {**local, "ansible_host": "198.51.100.25", **(mx_vars or {})}}},
    }}}
    path = tmp_path / "inventory.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


@needs_keepalived
def test_an_inventory_value_reading_hostvars_passes_and_renders(tmp_path):
    inv = hostvars_inventory(tmp_path, "{{ hostvars['mx'].ansible_host }}")
    run = run_playbook(tmp_path, render_playbook(tmp_path), ["lb1", "lb2"], {}, inventory=inv)
    assert run.rc == 0, run.output
    assert "'hostvars' is undefined" not in run.output
    for host in ("lb1", "lb2"):
        assert re.search(r"^\s*smtp_server 198\.51\.100\.25$", run.conf(host), re.M), run.conf(host)


def test_an_inventory_value_reading_hostvars_passes_the_site_preflight(tmp_path):
    inv = hostvars_inventory(tmp_path, "{{ hostvars['mx'].ansible_host }}")
    nginx = {"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21", "port": 80}]}],
             "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}]}
    run = run_playbook(tmp_path, REPO / "playbooks" / "site.yml", ["lb1", "lb2"], {}, inventory=inv,
                       extra=["--tags", "preflight", "-e", json.dumps(nginx)])
    assert run.rc == 0, run.output
    assert "TASK [halb.pair.keepalived : Check the keepalived topology across the group]" in run.output


def test_a_value_read_through_hostvars_is_checked_as_rendered(tmp_path):
    inv = hostvars_inventory(tmp_path, "{{ hostvars['mx'].relay }}", {"relay": "mx.example.com\n}\nvrrp_script evil {"})
    run = run_playbook(tmp_path, render_playbook(tmp_path), ["lb1", "lb2"], {}, inventory=inv)
    assert_refused_untouched(run, "keepalived_smtp_server on lb1: found 'mx.example.com")
    assert "allowed: an IPv4 or IPv6 address or an RFC 1123 host name" in run.output
