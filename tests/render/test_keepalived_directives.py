"""keepalived directives the role does not model (keepalived_global_defs_directives,
keepalived_instance_directives) rendered through the keepalived role (preflight, then configure
with the role's validator: the real `keepalived -t`) and read back."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import find, parse

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
BASE = {"keepalived_interface": default_interface(), "keepalived_script_user": "nobody",
        "keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}


def lines(children) -> list[list[str]]:
    return [[k, *a] for k, a, c in children if c is None]


def test_real_directives_pass_keepalived_t_where_they_belong(tmp_path):
    group = {**BASE,
             "keepalived_global_defs_directives": [{"name": "vrrp_garp_interval", "value": "0.001"},
                                                   {"name": "vrrp_skip_check_adv_addr"}],
             "keepalived_instance_directives": [{"name": "garp_lower_prio_repeat", "value": 2}]}
    # per host: lb2 adds one of its own
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], group, {"lb2": {"keepalived_instance_directives": [
        {"name": "garp_lower_prio_repeat", "value": 2}, {"name": "lower_prio_no_advert"}]}})
    assert run.rc == 0, run.output
    for host, extra in (("lb1", []), ("lb2", [["lower_prio_no_advert"]])):
        tree = parse(run.conf(host))
        gdefs = lines(find(tree, "global_defs")[0][2])
        # after the role's own lines, in order
        assert gdefs[-2:] == [["vrrp_garp_interval", "0.001"], ["vrrp_skip_check_adv_addr"]]
        assert gdefs[0] == ["router_id", host]
        insts = {a[0]: c for k, a, c in tree if k == "vrrp_instance"}
        assert list(insts) == ["VI_1", "VI_2"]
        for children in insts.values():
            body = lines(children)
            assert body[-1 - len(extra):] == [["garp_lower_prio_repeat", "2"], *extra]
            assert body[-2 - len(extra)][0] == "notify"


def test_without_directives_the_file_is_what_it_was(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], BASE)
    assert run.rc == 0, run.output
    tree = parse(run.conf("lb1"))
    assert lines(find(tree, "global_defs")[0][2])[-1][0] == "vrrp_garp_master_refresh"
    assert all(lines(c)[-1][0] == "notify" for k, _a, c in tree if k == "vrrp_instance")


def test_refused_before_anything_is_written(tmp_path):
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {
        **BASE, "keepalived_instance_directives": [{"name": "garp_lower_prio_repeat", "value": "2\n}\nvrrp_instance EVIL {"}]})
    assert run.rc != 0
    assert "keepalived_instance_directives[0] (garp_lower_prio_repeat).value on lb1: found" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()
    run = run_playbook(tmp_path / "names", PLAYBOOK, ["lb1", "lb2"], {
        **BASE, "keepalived_global_defs_directives": [{"name": "vrrp_strict"}],
        "keepalived_instance_directives": [{"name": "priority", "value": 254}]})
    assert run.rc != 0
    assert "keepalived_global_defs_directives[0] (vrrp_strict) on lb1: vrrp_strict is refused here" in run.output
    assert "keepalived_instance_directives[0] (priority) on lb2: priority is refused here" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()


def test_a_keyword_keepalived_does_not_know_is_refused_by_its_own_test(tmp_path):
    # typed and not the role's: the real keepalived -t still judges it (the validator refuses the file)
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {**BASE, "keepalived_global_defs_directives": [{"name": "vrrp_no_such_thing"}]})
    assert run.rc != 0
    assert "Unknown keyword 'vrrp_no_such_thing'" in run.output
    assert "keepalived.conf was refused by its validator" in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()
