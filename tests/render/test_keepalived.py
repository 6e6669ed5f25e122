"""The keepalived role's template, rendered through the role for each topology and
checked by the host's real `keepalived -t` (through the role's own validator).

Expected instances are written by hand from the guide's worked configurations:
VI_1 / VRID 55 / 150-100 / eth0:1, and VI_2 / VRID 56 / roles reversed / eth0:2.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _types as T

from tests.helpers.ansible_run import REPO, default_interface, run_playbook
from tests.helpers.kaconf import instances, parse, value

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap"),
]

PLAYBOOK = REPO / "tests" / "render" / "render_keepalived.yml"
IFACE = default_interface()
SECRET = "s3cr3t%"  # "!" would start a keepalived comment (issue 9): the typed preflight refuses it
# An existing non-root script user: exercises keepalived 2.2.7's "Terminated" path.
BASE = {"keepalived_interface": IFACE, "keepalived_script_user": "nobody"}


def render(tmp_path: Path, hosts, group_vars, host_vars=None):
    run = run_playbook(tmp_path, PLAYBOOK, hosts, {**BASE, **group_vars}, host_vars)
    assert run.rc == 0, run.output
    return run


def validator(tmp_path: Path) -> Path:
    return tmp_path / "libexec" / "keepalived-validate"


def brief(conf: str):
    return {name: (i["state"], i["vrid"], i["priority"], i["vips"]) for name, i in instances(conf).items()}


def vip(addr, label):
    return f"{addr} dev {IFACE} label {label}"


def test_guide_single_instance(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": [{"address": "198.51.100.100/24", "label": f"{IFACE}:1"}],
                                             "keepalived_auth_pass": SECRET})
    assert brief(run.conf("lb1")) == {"VI_1": ("MASTER", 55, 150, [vip("198.51.100.100/24", f"{IFACE}:1")])}
    assert brief(run.conf("lb2")) == {"VI_1": ("BACKUP", 55, 100, [vip("198.51.100.100/24", f"{IFACE}:1")])}
    inst = instances(run.conf("lb1"))["VI_1"]
    assert (inst["auth_type"], inst["advert_int"], inst["track_script"], inst["track_file"]) == ("PASS", "1", ["chk_nginx"], ["halb_drain"])
    # the secret is in the file (keepalived needs it) but never in Ansible's output
    assert SECRET in run.conf("lb1")
    assert SECRET not in run.output


def test_guide_dual_master(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {
        "keepalived_topology": "dual_master",
        "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"],
        "keepalived_auth_pass": SECRET,
    })
    assert brief(run.conf("lb1")) == {
        "VI_1": ("MASTER", 55, 150, [vip("198.51.100.100/24", f"{IFACE}:1")]),
        "VI_2": ("BACKUP", 56, 100, [vip("198.51.100.101/24", f"{IFACE}:2")]),
    }
    assert brief(run.conf("lb2")) == {
        "VI_1": ("BACKUP", 55, 100, [vip("198.51.100.100/24", f"{IFACE}:1")]),
        "VI_2": ("MASTER", 56, 150, [vip("198.51.100.101/24", f"{IFACE}:2")]),
    }


def test_three_nodes(tmp_path):
    run = render(tmp_path, ["lb1", "lb2", "lb3"], {
        "keepalived_topology": "dual_master",
        "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24", "198.51.100.102/24"],
    })
    states = {h: {n: (i["state"], i["priority"]) for n, i in instances(run.conf(h)).items()} for h in ("lb1", "lb2", "lb3")}
    assert states == {
        "lb1": {"VI_1": ("MASTER", 150), "VI_2": ("BACKUP", 100), "VI_3": ("BACKUP", 100)},
        "lb2": {"VI_1": ("BACKUP", 100), "VI_2": ("MASTER", 150), "VI_3": ("BACKUP", 90)},
        "lb3": {"VI_1": ("BACKUP", 90), "VI_2": ("BACKUP", 90), "VI_3": ("MASTER", 150)},
    }


def test_unicast(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_unicast": True},
                 {"lb1": {"keepalived_unicast_src_ip": "198.51.100.11"}, "lb2": {"keepalived_unicast_src_ip": "198.51.100.12"}})
    one, two = instances(run.conf("lb1"))["VI_1"], instances(run.conf("lb2"))["VI_1"]
    assert (one["unicast_src_ip"], one["unicast_peers"]) == ("198.51.100.11", ["198.51.100.12"])
    assert (two["unicast_src_ip"], two["unicast_peers"]) == ("198.51.100.12", ["198.51.100.11"])
    assert "check_unicast_src" in run.conf("lb1")


def test_vrrp3_fast(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_vrrp_version": 3,
                                             "keepalived_advert_int": 0.1})
    inst = instances(run.conf("lb1"))["VI_1"]
    assert (inst["version"], inst["advert_int"], inst["auth_type"]) == ("3", "0.1", None)


def test_mail_and_nopreempt(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {
        "keepalived_vips": ["198.51.100.100/24"], "keepalived_nopreempt": True,
        "keepalived_notification_email": ["ops@example.org"], "keepalived_smtp_server": "198.51.100.25",
    })
    conf = run.conf("lb1")
    gdefs = next(c for k, _, c in parse(conf) if k == "global_defs")
    assert value(gdefs, "smtp_server") == "198.51.100.25"
    inst = instances(conf)["VI_1"]
    assert (inst["state"], inst["nopreempt"], inst["smtp_alert"]) == ("BACKUP", True, True)


@pytest.mark.parametrize("host", ["lb1", "lb2"])
def test_header_mode_and_direct_validation(tmp_path, host):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_auth_pass": SECRET})
    conf = run.outdir / host / "keepalived.conf"
    assert conf.read_text().startswith("#\n# Ansible managed")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o640
    ok = subprocess.run([validator(tmp_path), conf], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    # the same file with one broken value is refused by the same validator
    broken = tmp_path / "broken.conf"
    broken.write_text(conf.read_text().replace("virtual_router_id 55", "virtual_router_id 300"))
    bad = subprocess.run([validator(tmp_path), broken], capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "VRID '300' not valid" in bad.stderr


def test_refused_config_is_not_written_and_secret_is_masked(tmp_path):
    # No facts here, so the preflight cannot see the interface is missing: the real
    # keepalived -t must refuse the file, and nothing may be left in place.
    run = run_playbook(tmp_path, PLAYBOOK, ["lb1", "lb2"], {
        **BASE, "keepalived_interface": "halbnope0", "keepalived_vips": ["198.51.100.100/24"], "keepalived_auth_pass": SECRET})
    assert run.rc != 0
    assert "lb1/keepalived.conf was refused by its validator (exit 1) and not written" in run.output
    assert "halbnope0" in run.output
    assert SECRET not in run.output
    assert not (run.outdir / "lb1" / "keepalived.conf").exists()


def _check_url(conf: str) -> str:
    return re.search(r'script "/usr/bin/curl -fsS -o /dev/null --max-time \d+ (\S+)"', conf).group(1)


@pytest.mark.parametrize(
    ("group_vars", "url"),
    [
        ({}, "http://127.0.0.1:8081/healthz"),
        # the bug: with nginx on 9000, keepalived's check asked 8081 and always failed
        ({"nginx_lb_health_port": 9000}, "http://127.0.0.1:9000/healthz"),
        ({"nginx_lb_health_port": 9000, "nginx_lb_health_path": "/hc"}, "http://127.0.0.1:9000/hc"),
        ({"nginx_lb_health_port": 9000, "keepalived_check_url": "http://127.0.0.1:7000/up"}, "http://127.0.0.1:7000/up"),
    ],
    ids=["default", "port", "port-and-path", "explicit-url-wins"],
)
def test_check_url_follows_the_nginx_health_endpoint(tmp_path, group_vars, url):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], **group_vars})
    assert _check_url(run.conf("lb1")) == _check_url(run.conf("lb2")) == url


def test_the_fast_profile_renders_vrrp3_at_a_tenth_of_a_second(tmp_path):
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_profile": "fast"})
    for host in ("lb1", "lb2"):
        inst = instances(run.conf(host))["VI_1"]
        assert (inst["version"], inst["advert_int"]) == ("3", "0.1"), inst
        assert "authentication" not in run.conf(host)
    # the inventory's own timers win over the profile's
    run = render(tmp_path / "own", ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_profile": "fast",
                                                     "keepalived_advert_int": 0.5})
    assert instances(run.conf("lb1"))["VI_1"]["advert_int"] == "0.5"


def _vrrp_nice(conf: str) -> list[str]:
    return re.findall(r"^\s*vrrp_priority\s+(\S+)\s*$", conf, flags=re.M)


def test_vrrp_startup_delay_is_rendered_when_set_and_refused_out_of_range(tmp_path):
    # keepalived -t (render) accepts it; unset leaves keepalived's own (no line)
    delay = re.compile(r"^\s*vrrp_startup_delay\s+(\S+)\s*$", flags=re.M)
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_vrrp_startup_delay": 2.5})
    assert delay.findall(run.conf("lb1")) == delay.findall(run.conf("lb2")) == ["2.5"]
    run = render(tmp_path / "unset", ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"]})
    assert delay.findall(run.conf("lb1")) == []
    # typed from its argument spec alone: seconds within 0..600, refused before any host changes
    problems = T.check_role_vars("keepalived", "lb1", {"keepalived_vrrp_startup_delay": 601})
    assert problems == ["keepalived_vrrp_startup_delay on lb1: found 601 (out of range); allowed: a number of seconds "
                        "within 0..600, or null (unset)"]


def test_the_fast_profile_renders_the_vrrp_process_at_nice_minus_20(tmp_path):
    # keepalived -t (render) accepts it; the default profile leaves keepalived's own
    run = render(tmp_path, ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_profile": "fast"})
    assert _vrrp_nice(run.conf("lb1")) == _vrrp_nice(run.conf("lb2")) == ["-20"]
    run = render(tmp_path / "default", ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"]})
    assert _vrrp_nice(run.conf("lb1")) == []
    # the inventory's own value wins over the profile's, per node
    run = render(tmp_path / "own", ["lb1", "lb2"], {"keepalived_vips": ["198.51.100.100/24"], "keepalived_profile": "fast"},
                 host_vars={"lb2": {"keepalived_vrrp_nice": 5}})
    assert (_vrrp_nice(run.conf("lb1")), _vrrp_nice(run.conf("lb2"))) == (["-20"], ["5"])
