# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs_real_server role, run for real by ansible-playbook, without touching this host:
its preflight (controller only), its sysctl tasks against a fake /proc/sys tree
(``__lvs_real_server_proc_sys``, an extra var), and its two templates rendered with the
role's own variables; the role's main in --syntax-check."""

from __future__ import annotations

import json

import pytest

from tests.helpers.ansible_run import REPO, run_playbook

pytestmark = pytest.mark.ansible

ROLE = REPO / "roles" / "lvs_real_server"
PLAY = """---
- name: The lvs_real_server role's parts that change nothing of this host
  hosts: lb
  gather_facts: false
  vars:
    __lvs_real_server_ip: /sbin/ip
  tasks:
    - name: Preflight
      ansible.builtin.import_role:
        name: halb.pair.lvs_real_server
        tasks_from: preflight.yml
    - name: Render the templates as the role writes them
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.template', item.src) }}"
        dest: "{{ lookup('ansible.builtin.env', 'HALB_OUT') }}/{{ inventory_hostname }}/{{ item.dest }}"
        mode: "0644"
      loop:
        - {src: "@ROLE@/templates/sysctl.conf.j2", dest: sysctl.conf}
        - {src: "@ROLE@/templates/halb-pair-lvs-real-server.service.j2", dest: unit.service}
      check_mode: false
    - name: The sysctl tasks
      ansible.builtin.include_role:
        name: halb.pair.lvs_real_server
        tasks_from: sysctl.yml
      vars:
        __lvs_real_server_sysctl_wanted: "{{ {'arp_ignore': 0, 'arp_announce': 0} if absent | default(false) else __lvs_real_server_wanted }}"
        __lvs_real_server_sysctl_absent: "{{ absent | default(false) }}"
"""


def fake_proc(root, values, devices=("all",)):
    for dev in devices:
        d = root / "net" / "ipv4" / "conf" / dev
        d.mkdir(parents=True)
        for key in ("arp_ignore", "arp_announce"):
            (d / key).write_text(values[key] + "\n")
    return root


def read(proc, dev="all"):
    return {k: (proc / "net" / "ipv4" / "conf" / dev / k).read_text().strip() for k in ("arp_ignore", "arp_announce")}


def run(tmp_path, group_vars, proc=None, check=False, absent=False):
    book = tmp_path / "play.yml"
    book.write_text(PLAY.replace("@ROLE@", str(ROLE)))
    proc = proc or fake_proc(tmp_path / "proc", {"arp_ignore": "0", "arp_announce": "0"})
    extra = ["-e", f"__lvs_real_server_proc_sys={proc}", "-e", json.dumps({"absent": absent}), *(["--check"] if check else [])]
    return run_playbook(tmp_path / "run", book, ["lb1"], group_vars, extra=extra)


def status(r, task):
    section = r.output.split(f"TASK [halb.pair.lvs_real_server : {task}]", 1)[1].split("TASK [", 1)[0]
    return next(word for word in ("changed", "ok", "skipping", "fatal") if f"{word}: [lb1]" in section)


def lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_lo_renders_and_writes_the_differing_values(tmp_path):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "0", "arp_announce": "2"})
    r = run(tmp_path, {"lvs_real_server_vips": ["198.51.100.100", "2001:db8::100"]}, proc)
    assert r.rc == 0, r.output
    assert read(proc) == {"arp_ignore": "1", "arp_announce": "2"}
    assert status(r, "Write the ARP settings that differ") == "changed"
    assert lines(r.conf("lb1", "sysctl.conf")) == ["net.ipv4.conf.all.arp_ignore = 1", "net.ipv4.conf.all.arp_announce = 2"]
    unit = r.conf("lb1", "unit.service")
    assert r.conf("lb1", "sysctl.conf").startswith("#") and unit.startswith("#")
    assert [x for x in lines(unit) if x.startswith("Exec")] == [
        "ExecStart=/sbin/ip addr replace 198.51.100.100/32 dev lo",
        "ExecStart=/sbin/ip addr replace 2001:db8::100/128 dev lo",
        "ExecStop=-/sbin/ip addr del 198.51.100.100/32 dev lo",
        "ExecStop=-/sbin/ip addr del 2001:db8::100/128 dev lo",
    ]
    assert "Type=oneshot" in unit and "RemainAfterExit=yes" in unit and "WantedBy=multi-user.target" in unit
    assert "dummy" not in unit


def test_values_already_right_are_not_written_even_read_only(tmp_path):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "1", "arp_announce": "2"})
    r = run(tmp_path, {"lvs_real_server_vips": ["198.51.100.100"]}, proc)
    assert r.rc == 0, r.output
    assert status(r, "Write the ARP settings that differ") == "skipping"


def test_check_mode_writes_nothing(tmp_path):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "0", "arp_announce": "0"})
    r = run(tmp_path, {"lvs_real_server_vips": ["198.51.100.100"]}, proc, check=True)
    assert r.rc == 0, r.output
    assert read(proc) == {"arp_ignore": "0", "arp_announce": "0"}


def test_a_dummy_device_gets_its_own_keys(tmp_path):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "0", "arp_announce": "0"}, devices=("all", "vip.0"))
    r = run(tmp_path, {"lvs_real_server_vips": ["198.51.100.100"], "lvs_real_server_device": "vip.0"}, proc)
    assert r.rc == 0, r.output
    assert read(proc, "vip.0") == {"arp_ignore": "1", "arp_announce": "2"}
    assert lines(r.conf("lb1", "sysctl.conf"))[2:] == ["net/ipv4/conf/vip.0/arp_ignore = 1", "net/ipv4/conf/vip.0/arp_announce = 2"]
    exec_lines = [x for x in lines(r.conf("lb1", "unit.service")) if x.startswith("Exec")]
    assert exec_lines[:2] == ["ExecStart=-/sbin/ip link add vip.0 type dummy", "ExecStart=/sbin/ip link set dev vip.0 up"]
    assert exec_lines[-1] == "ExecStop=-/sbin/ip link del dev vip.0"


def test_absent_sets_them_back_to_zero(tmp_path):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "1", "arp_announce": "2"})
    r = run(tmp_path, {"lvs_real_server_state": "absent"}, proc, absent=True)
    assert r.rc == 0, r.output
    assert read(proc) == {"arp_ignore": "0", "arp_announce": "0"}


@pytest.mark.parametrize(("group_vars", "expected"), [
    ({"lvs_real_server_vips": []}, "lvs_real_server_vips on lb1 is empty"),
    ({"lvs_real_server_vips": ["198.51.100.100", "198.51.100.100"]}, "the address of '198.51.100.100' again"),
    ({"lvs_real_server_vips": ["198.51.100.100"], "lvs_real_server_device": "lo\nExecStart=/bin/sh"}, "lvs_real_server_device on lb1"),
])
def test_preflight_refuses_before_anything(tmp_path, group_vars, expected):
    proc = fake_proc(tmp_path / "proc", {"arp_ignore": "0", "arp_announce": "0"})
    r = run(tmp_path, group_vars, proc)
    assert r.rc != 0, r.output
    assert expected in " ".join(r.output.split()).replace("\\n", "\n"), r.output
    assert read(proc) == {"arp_ignore": "0", "arp_announce": "0"}
    assert not (r.outdir / "lb1" / "unit.service").exists()


def test_the_role_passes_syntax_check(tmp_path):
    book = tmp_path / "site.yml"
    book.write_text("---\n- name: A real server\n  hosts: lb\n  roles:\n    - role: halb.pair.lvs_real_server\n"
                    "      lvs_real_server_vips: [198.51.100.100]\n")
    r = run_playbook(tmp_path / "run", book, ["lb1"], {}, extra=["--syntax-check"])
    assert r.rc == 0, r.output
