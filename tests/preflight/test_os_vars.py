# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 12, item 5: each role's tasks/set_vars.yml, run for real in check mode against
a local host whose OS facts are faked (set_fact cacheable: the facts ansible_facts
reads), loads the vars file of a known OS and refuses an unknown OS by name, with the
families the role knows; site.yml runs these checks in its first play, before any
play that changes a host."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.helpers.ansible_run import REPO, run_playbook
from tests.preflight.test_preflight_once import list_tasks

pytestmark = pytest.mark.ansible

ROLES = ["nginx", "keepalived", "web_backend", "lvs_real_server"]
#: each role's name and folder: the collection's two, and the lab's own web backend (lab/roles)
NAMES = {"nginx": "halb.pair.nginx", "keepalived": "halb.pair.keepalived", "web_backend": "web_backend",
         "lvs_real_server": "halb.pair.lvs_real_server"}
DIRS = {"nginx": REPO / "roles" / "nginx", "keepalived": REPO / "roles" / "keepalived", "web_backend": REPO / "lab" / "roles" / "web_backend",
        "lvs_real_server": REPO / "roles" / "lvs_real_server"}
PLAY = """---
- name: A role's set_vars.yml with faked OS facts
  hosts: lb
  gather_facts: false
  tasks:
    - name: Fake the OS facts
      ansible.builtin.set_fact:
        ansible_distribution: "{{ fake_os[0] }}"
        ansible_distribution_major_version: "{{ fake_os[1] }}"
        ansible_os_family: "{{ fake_os[2] }}"
        cacheable: true
    - name: Run each role's set_vars.yml
      ansible.builtin.include_role:
        name: "{{ item }}"
        tasks_from: set_vars.yml
      loop: "{{ set_vars_roles }}"
    - name: Write what they loaded
      ansible.builtin.copy:
        content: "{{ dict(names | zip(query('ansible.builtin.vars', *names))) | to_json }}"
        dest: "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/vars.json"
        mode: "0644"
      check_mode: false
"""


def _run(tmp_path, roles, fake_os, names=()):
    playbook = tmp_path / "set_vars.yml"
    playbook.write_text(PLAY)
    extra = {"set_vars_roles": [NAMES[r] for r in roles], "fake_os": list(fake_os), "names": list(names)}
    return run_playbook(tmp_path, playbook, ["lb1"], {}, extra=["--check", "-e", json.dumps(extra)])


def _vars(role: str, family: str) -> dict:
    return yaml.safe_load((DIRS[role] / "vars" / f"{family}.yml").read_text())


@pytest.mark.parametrize(("fake_os", "family", "roles"), [(("Debian", "12", "Debian"), "Debian", ROLES),
                                                          (("Debian", "13", "Debian"), "Debian", ROLES),
                                                          (("Rocky", "9", "RedHat"), "RedHat", ["keepalived", "lvs_real_server"]),
                                                          (("Ubuntu", "24", "Debian"), "Debian", ROLES)],
                         ids=lambda v: "-".join(v) if isinstance(v, tuple) else (v if isinstance(v, str) else "+".join(v)))
def test_set_vars_loads_the_family_file(tmp_path, fake_os, family, roles):
    expected = {k: v for role in roles for k, v in _vars(role, family).items()}
    run = _run(tmp_path, roles, fake_os, expected)
    assert run.rc == 0, run.output
    assert json.loads(run.conf("lb1", "vars.json")) == expected


@pytest.mark.parametrize(("role", "fake_os"), [(r, ("FreeBSD", "14", "FreeBSD")) for r in ROLES]
                         + [(r, ("Rocky", "9", "RedHat")) for r in ("nginx", "web_backend")],
                         ids=lambda v: "-".join(v) if isinstance(v, tuple) else v)
def test_set_vars_refuses_an_unknown_os_by_name(tmp_path, role, fake_os):
    run = _run(tmp_path, [role], fake_os)
    assert run.rc != 0, run.output
    text = " ".join(run.output.split())
    name, major, family = fake_os
    assert f"{NAMES[role]} does not support lb1's OS: {name} {major} (os_family {family}) has no vars file" in text, run.output
    supported = sorted(p.stem for p in (DIRS[role] / "vars").glob("*.yml") if p.name != "main.yml")
    assert supported and f"Supported: {', '.join(supported)}." in text, run.output
    assert "No file was found" not in run.output
    assert not (run.outdir / "lb1" / "vars.json").exists()


@pytest.mark.parametrize("inventory", ["inventories/single", "lab/inventory"])
def test_site_checks_the_os_in_its_first_play(inventory):
    out = list_tasks(inventory)
    plays = re.split(r"^\s*play #\d+", out, flags=re.M)[1:]
    first = plays[0].split("halb.pair.nginx : Check the nginx variables", 1)[0]
    for role in ("nginx", "keepalived"):
        assert f"halb.pair.{role} : Refuse an OS this role has no variables for" in first, (role, plays[0])
    # site.yml changes the load balancers only: no play of the web backends
    assert not [p for p in plays if "web" in p.splitlines()[0].lower()], plays
