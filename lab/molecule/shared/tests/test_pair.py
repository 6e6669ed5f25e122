"""The deployed pair, seen from the nodes and the client (Molecule verify, testinfra)."""

from __future__ import annotations

import os

from conftest import group, hostvars, node
from halb_lab import holders as _holders

VALIDATE = "/usr/local/libexec/halb-pair/keepalived-validate"
CONF = "/etc/keepalived/keepalived.conf"


def holders(address: str) -> list[str]:
    """The LBs whose `ip -j addr` lists address (the lab's one reader, halb_lab.holders)."""
    return _holders.holders([address], {lb: node(lb).check_output("ip -j addr") for lb in group("lb")})[address]


def test_services_active(lb):
    h = node(lb)
    for svc in ("keepalived", "nginx"):
        assert h.service(svc).is_running, f"{svc} not active on {lb}"
        assert h.service(svc).is_enabled, f"{svc} not enabled on {lb}"


def test_keepalived_conf_valid_and_private(lb):
    h = node(lb)
    f = h.file(CONF)
    assert f.mode == 0o640 and f.user == "root" and f.group == "root"
    res = h.run(f"{VALIDATE} {CONF}")
    assert res.rc == 0, res.stdout + res.stderr


def test_over_ssh_the_deploy_ran_as_the_non_root_user_with_sudo(lb):
    # a scenario with lab_ssh_user connects over SSH as that user (prepare.yml logs its
    # sudo to a file that survives the reboot case): the roles' tasks became root through
    # sudo from it, dozens of times; through the engine (root) nothing would be logged
    user = hostvars(lb).get("lab_ssh_user")
    if user is None:
        assert hostvars(lb).get("ansible_connection") != "ssh", "over SSH without lab_ssh_user"
        return
    assert hostvars(lb).get("ansible_connection") == "ssh"
    log = node(lb).file("/var/log/halb-molecule-sudo.log")
    assert log.exists, f"{lb}: no sudo log: nothing became root as {user}"
    text = log.content_string
    uses = text.count(f" : {user} : ")
    assert uses >= 20 and "USER=root" in text, f"{lb}: {uses} sudo uses by {user}"
    assert node(lb).user(user).uid != 0


def test_vip_on_its_master_only(vip):
    assert holders(vip["address"]) == [vip["master"]]


def test_http_through_vip(vip, client):
    res = client.run(f"curl -sS -m 3 -D - -o /dev/null http://{vip['address']}/")
    assert res.rc == 0, res.stderr
    head = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in res.stdout.splitlines()[1:] if ":" in line)}
    assert res.stdout.split()[1] == "200", res.stdout
    assert head.get("x-halb-node") == vip["master"], res.stdout
    assert head.get("x-halb-backend") in group("web"), res.stdout


def test_secret_absent_from_output():
    lb = hostvars(group("lb")[0])
    if "keepalived_auth_pass" not in lb:
        # VRRPv3 (the fast profile): keepalived has no authentication there, and the
        # preflight refuses a password; nothing of it may be rendered
        assert lb.get("keepalived_profile") == "fast", "only a VRRPv3 scenario goes without a VRRP password"
        assert not node(group("lb")[0]).file(CONF).contains("authentication"), "a VRRPv3 instance with an authentication block"
        return
    secret = lb["keepalived_auth_pass"]
    log = os.environ["ANSIBLE_LOG_PATH"]
    text = open(log, encoding="utf-8", errors="replace").read()
    # the log really holds the run (create ... converge, idempotence, side effects)
    assert "PLAY RECAP" in text and "halb.pair.keepalived" in text
    assert secret not in text, f"the VRRP auth secret appears in {log}"
    # ... and is really in use on the nodes
    assert node(group("lb")[0]).file(CONF).contains(f"auth_pass {secret}")
