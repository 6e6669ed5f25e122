"""Issue 9: the nginx role sets net.ipv6.ip_nonlocal_bind only where the host has IPv6
(its key exists), and never fails on a host without it (a kernel booted with
ipv6.disable=1 has no /proc/sys/net/ipv6).

The role's own tasks (tasks/nonlocal_bind.yml) run for real against a fake /proc/sys
tree (``__nginx_lb_proc_sys``, an extra var: nothing of this host is read or set), and
the sysctl file is rendered from the role's own template.
"""

from __future__ import annotations

import pytest

from tests.helpers.ansible_run import REPO, run_playbook

pytestmark = pytest.mark.ansible

PLAY = """---
- name: The nginx role's nonlocal_bind tasks against a fake /proc/sys
  hosts: lb
  gather_facts: false
  tasks:
    - name: Run them
      ansible.builtin.import_role:
        name: halb.pair.nginx
        tasks_from: nonlocal_bind.yml
    - name: Render the sysctl file as configure.yml writes it
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.template', '@TEMPLATE@') }}"
        dest: "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/sysctl.conf"
        mode: "0644"
      when: __nginx_lb_nonlocal_bind_wanted | bool
"""
VIP_LISTEN = {"nginx_lb_manage_service": True,
              "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21"}]}],
              "nginx_lb_servers": [{"listen": ["198.51.100.100:80"], "upstream": "web"}]}


def fake_proc(root, ipv4="0", ipv6="0"):
    for family, value in (("ipv4", ipv4), ("ipv6", ipv6)):
        if value is not None:
            (root / "net" / family).mkdir(parents=True)
            (root / "net" / family / "ip_nonlocal_bind").write_text(value + "\n")
    return root


def run(tmp_path, proc, group_vars=VIP_LISTEN, check=False):
    book = tmp_path / "play.yml"
    book.write_text(PLAY.replace("@TEMPLATE@", str(REPO / "roles" / "nginx" / "templates" / "sysctl.conf.j2")))
    extra = ["-e", f"__nginx_lb_proc_sys={proc}", *(["--check"] if check else [])]
    r = run_playbook(tmp_path / "run", book, ["lb1"], group_vars, extra=extra)
    assert r.rc == 0, r.output
    return r


def value(proc, family):
    return (proc / "net" / family / "ip_nonlocal_bind").read_text().strip()


def status(r, task="Allow binding VIPs this node does not hold, now"):
    """changed / ok / skipping: the result line of the role's task for lb1."""
    section = r.output.split(f"TASK [halb.pair.nginx : {task}]", 1)[1].split("TASK [", 1)[0]
    return next(word for word in ("changed", "ok", "skipping", "fatal") if f"{word}: [lb1]" in section)


def sysctl_lines(r):
    return [line for line in r.conf("lb1", "sysctl.conf").splitlines() if line and not line.startswith("#")]


def test_both_keys_set_where_the_host_has_ipv6(tmp_path):
    proc = fake_proc(tmp_path / "proc")
    r = run(tmp_path, proc)
    assert (value(proc, "ipv4"), value(proc, "ipv6")) == ("1", "1")
    assert sysctl_lines(r) == ["net.ipv4.ip_nonlocal_bind = 1", "net.ipv6.ip_nonlocal_bind = 1"]
    assert status(r) == "changed"


def test_no_ipv6_key_on_a_host_without_ipv6_and_no_failure(tmp_path):
    proc = fake_proc(tmp_path / "proc", ipv6=None)
    r = run(tmp_path, proc)
    assert value(proc, "ipv4") == "1"
    assert not (proc / "net" / "ipv6").exists()
    assert sysctl_lines(r) == ["net.ipv4.ip_nonlocal_bind = 1"]


def test_already_set_is_no_change(tmp_path):
    proc = fake_proc(tmp_path / "proc", ipv4="1", ipv6="1")
    r = run(tmp_path, proc)
    assert status(r) == "skipping"
    assert status(r, "Read the nonlocal_bind settings this host has") == "ok"


def test_check_mode_reads_but_writes_nothing(tmp_path):
    proc = fake_proc(tmp_path / "proc", ipv6=None)
    r = run(tmp_path, proc, check=True)
    assert value(proc, "ipv4") == "0"
    assert status(r, "Read the nonlocal_bind settings this host has") == "ok"  # read in check mode too
    assert not (r.outdir / "lb1" / "sysctl.conf").exists()


def test_wildcard_listens_touch_no_sysctl(tmp_path):
    proc = fake_proc(tmp_path / "proc")
    r = run(tmp_path, proc, {**VIP_LISTEN, "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}]})
    assert (value(proc, "ipv4"), value(proc, "ipv6")) == ("0", "0")
    assert not (r.outdir / "lb1" / "sysctl.conf").exists()
