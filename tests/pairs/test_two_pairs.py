"""Several pairs in one inventory: inventories/two_pairs through the real playbooks.

lb_eu (eu1, eu2; single, VRID 55, VIP .160) and lb_us (us1, us2; dual master, VRIDs
65/66, VIPs .170/.171, nginx health on port 9000), children of lb. Expected values are
written from the inventory's comments, not from output.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers.ansible_run import REPO, VENV_BIN, default_interface, run_playbook
from tests.helpers.kaconf import instances

pytestmark = pytest.mark.ansible

INVENTORY = REPO / "inventories" / "two_pairs"
RENDER = REPO / "tests" / "render" / "render_keepalived.yml"
HOSTS = ["eu1", "eu2", "us1", "us2"]
IFACE = default_interface()
LOCAL = ["-e", f"keepalived_interface={IFACE}", "-e", "keepalived_script_user=nobody"]


@pytest.mark.parametrize("playbook", ["site", "status", "failover", "upgrade"])
def test_syntax_check(playbook):
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", str(INVENTORY),
                           str(REPO / "playbooks" / f"{playbook}.yml")],
                          cwd=REPO, capture_output=True, text=True, check=False, env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                                                                                      "PATH": f"{VENV_BIN}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def brief(conf: str):
    return {name: (i["state"], i["vrid"], i["priority"], [v.split()[0] for v in i["vips"]]) for name, i in instances(conf).items()}


def check_url(conf: str) -> str:
    return re.search(r'script "/usr/bin/curl .* (\S+)"', conf).group(1)


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived binary missing: run lab/bin/bootstrap")
def test_each_pair_renders_its_own_instances(tmp_path):
    run = run_playbook(tmp_path, RENDER, HOSTS, {}, inventory=INVENTORY, extra=LOCAL)
    assert run.rc == 0, run.output
    assert brief(run.conf("eu1")) == {"VI_1": ("MASTER", 55, 150, ["198.51.100.160/24"])}
    assert brief(run.conf("eu2")) == {"VI_1": ("BACKUP", 55, 100, ["198.51.100.160/24"])}
    assert brief(run.conf("us1")) == {"VI_1": ("MASTER", 65, 150, ["198.51.100.170/24"]),
                                      "VI_2": ("BACKUP", 66, 100, ["198.51.100.171/24"])}
    assert brief(run.conf("us2")) == {"VI_1": ("BACKUP", 65, 100, ["198.51.100.170/24"]),
                                      "VI_2": ("MASTER", 66, 150, ["198.51.100.171/24"])}
    # keepalived's check follows each pair's nginx health port
    assert check_url(run.conf("eu1")) == "http://127.0.0.1:8081/healthz"
    assert check_url(run.conf("us2")) == "http://127.0.0.1:9000/healthz"


def test_preflight_refuses_a_vrid_two_pairs_share(tmp_path):
    """Both pairs on VRID base 55 on the same interface: refused before any file is written."""
    run = run_playbook(tmp_path, RENDER, HOSTS, {}, inventory=INVENTORY, extra=[*LOCAL, "-e", "keepalived_vrid_base=55"])
    assert run.rc != 0, run.output
    assert "pair lb_us: VI_1 uses virtual_router_id 55, which pair lb_eu already uses for VI_1 on the same segment" in run.output
    assert "TASK [halb.pair.keepalived : Check the keepalived topology across the group]" in run.output
    assert not any((run.outdir / h / "keepalived.conf").exists() for h in HOSTS)


def test_preflight_checks_every_pair_not_only_the_first(tmp_path):
    """A rule broken in the second pair only (lb_us) is found although the play starts with lb_eu."""
    run = run_playbook(tmp_path, RENDER, HOSTS, {}, inventory=INVENTORY,
                       extra=[*LOCAL, "-e", '{"keepalived_instance_overrides": {"VI_2": {"priority": 100}}}', "--limit", "us1,us2,eu1"])
    assert run.rc != 0, run.output
    assert "nodes us1, us2 have the same priority 100" in run.output


def test_a_limit_to_one_pair_still_sees_the_other_pairs_vrids(tmp_path):
    run = run_playbook(tmp_path, RENDER, HOSTS, {}, inventory=INVENTORY,
                       extra=[*LOCAL, "-e", "keepalived_vrid_base=55", "--limit", "lb_us"])
    assert run.rc != 0, run.output
    assert "which pair lb_eu already uses" in run.output or "which pair lb_us already uses" in run.output
