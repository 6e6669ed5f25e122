"""The address plan (lab/addresses.yml): its checks from tables, the real plan, a broken copy,
and who gets it through the vars plugin lab/plugins/vars/halb_lab_plan.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from halb_lab import LAB, REPO, addresses

ANSIBLE_INVENTORY = str(REPO / ".venv" / "bin" / "ansible-inventory")


def base() -> dict:
    return {
        "network": {"name": "n", "subnet": "198.51.100.0/25", "gateway": "198.51.100.1", "bridge": "n0", "docker_bridge": "nd0"},
        "users": {
            "a": {
                "nodes": {"lb1": {"address": "198.51.100.11", "container": "a-lb1"}, "lb2": {"address": "198.51.100.12", "container": "a-lb2"}},
                "vips": {"VI_1": {"address": "198.51.100.100/25", "master": "lb1", "backup": "lb2"}},
                "vrids": [5],
                "smtp": "lb2",
            },
            "b": {
                "nodes": {"lb1": {"address": "198.51.100.21", "container": "b-lb1"}},
                "vips": {"VI_1": {"address": "198.51.100.120/25", "master": "lb1", "backup": "lb1"}},
                "vrids": [6],
            },
        },
    }


def problems_after(change) -> list[str]:
    data = base()
    change(data)
    return addresses.problems(addresses.parse(data))


def b(data):
    return data["users"]["b"]


CASES = [
    ("an address of two users", lambda d: b(d)["nodes"]["lb1"].update(address="198.51.100.11"), "198.51.100.11: a node lb1 and b node lb1"),
    ("a VIP on another user's node", lambda d: b(d)["vips"]["VI_1"].update(address="198.51.100.12/25"), "198.51.100.12: a node lb2 and b VIP VI_1"),
    ("a reserved address taken", lambda d: b(d).update(reserved={"up": "198.51.100.100"}), "198.51.100.100: a VIP VI_1 and b reserved up"),
    ("a VRID of two users", lambda d: b(d).update(vrids=[5]), "VRID 5: a and b"),
    ("a container of two users", lambda d: b(d)["nodes"]["lb1"].update(container="a-lb1"), "container a-lb1: a node lb1 and b node lb1"),
    ("outside the subnet", lambda d: b(d)["nodes"]["lb1"].update(address="198.51.100.150"), "198.51.100.150: b node lb1: outside 198.51.100.0/25"),
    ("the gateway", lambda d: b(d)["nodes"]["lb1"].update(address="198.51.100.1"), "198.51.100.1: the network's gateway and b node lb1"),
    ("the network address", lambda d: b(d)["nodes"]["lb1"].update(address="198.51.100.0"), "198.51.100.0: b node lb1: the network's network address"),
    ("the broadcast", lambda d: b(d)["nodes"]["lb1"].update(address="198.51.100.127"), "198.51.100.127: b node lb1: the network's broadcast address"),
    ("a VRID above 255", lambda d: b(d).update(vrids=[256]), "VRID 256: b: outside 1..255"),
    ("VRID 0", lambda d: b(d).update(vrids=[0]), "VRID 0: b: outside 1..255"),
    ("fewer VRIDs than VIPs", lambda d: b(d).update(vrids=[]), "b: 1 VIPs but 0 VRIDs"),
    ("VRIDs not consecutive",
     lambda d: b(d).update(vrids=[6, 8], vips={**b(d)["vips"], "VI_2": b(d)["vips"]["VI_1"] | {"address": "198.51.100.121/25"}}),
     "b: VRIDs [6, 8] are not consecutive"),
    ("a VIP's master not a node", lambda d: b(d)["vips"]["VI_1"].update(master="lb9"), "b VIP VI_1: master 'lb9' is not a node of b"),
    ("smtp not a node", lambda d: b(d).update(smtp="client"), "b: smtp 'client' is not a node of b"),
    ("a VIP's prefix", lambda d: b(d)["vips"]["VI_1"].update(address="198.51.100.120/32"), "prefix is not the network's /25"),
    ("a gateway outside", lambda d: d["network"].update(gateway="198.51.100.129"),
     "network: gateway 198.51.100.129 is not a host address of 198.51.100.0/25"),
]


def test_the_table_base_is_clean():
    assert problems_after(lambda d: None) == []


@pytest.mark.parametrize(("change", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_one_line(change, line):
    found = problems_after(change)
    assert len(found) == 1, found
    assert line in found[0]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d["network"].pop("subnet"), "network: missing subnet"),
        (lambda d: b(d)["nodes"]["lb1"].pop("address"), "b.nodes.lb1: no address"),
        (lambda d: b(d)["vips"]["VI_1"].update(address="198.51.100.120"), "must be A/prefix"),
        (lambda d: b(d).update(vrids="6"), "a list of integers"),
    ],
)
def test_a_malformed_plan_is_refused(change, error):
    data = base()
    change(data)
    with pytest.raises(addresses.PlanError, match=error):
        addresses.parse(data)


def test_what_a_user_gives_its_inventory():
    a = addresses.parse(base()).users["a"]
    assert a.host_vars("lb1") == {"lab_ip": "198.51.100.11"}
    assert a.host_vars("web9") == {}
    assert a.group_vars("lb") == {"keepalived_vips": ["198.51.100.100/25"], "keepalived_vrid_base": 5, "keepalived_smtp_server": "198.51.100.12"}
    assert a.group_vars("all") == {"lab_vips": [{"address": "198.51.100.100", "master": "lb1", "backup": "lb2"}]}
    assert a.group_vars("web") == {}


# --------------------------------------------------------------------------- the real plan
def run_plan(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(LAB))
    return subprocess.run([sys.executable, "-m", "halb_lab.addresses", *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_real_plan_passes():
    res = run_plan()
    assert res.returncode == 0, res.stderr
    assert "198.51.100.11    lab" in res.stdout and "VRIDs: lab 55/56" in res.stdout


def test_a_broken_copy_fails_naming_both_users(tmp_path):
    data = yaml.safe_load(addresses.PLAN.read_text())
    # molecule-fast's first LB on the lab's lb1, and bench's VRID on the lab's second
    data["users"]["molecule-fast"]["nodes"]["mol-fast-lb1"]["address"] = data["users"]["lab"]["nodes"]["lb1"]["address"]
    data["users"]["bench"]["vrids"] = [56]
    broken = tmp_path / "addresses.yml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    res = run_plan(str(broken))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()[1:]
    assert lines == ["198.51.100.11: lab node lb1 and molecule-fast node mol-fast-lb1", "VRID 56: lab and bench"]


def test_the_shell_network_reader_agrees_with_yaml():
    assert addresses.read_network() == addresses.load().network
    res = run_plan("--shell", "network")
    assert "export HALB_NET_SUBNET=198.51.100.0/24" in res.stdout.splitlines()


def test_no_consumer_keeps_a_literal_address():
    net = addresses.load().network["subnet"].rsplit(".", 1)[0] + "."
    files = [*(LAB / "inventory").rglob("*.yml"), *(LAB / "molecule").rglob("*.yml"), LAB / "lib" / "podman-env.sh", LAB / "bin" / "bench"]
    files += [LAB / "halb_lab" / f for f in ("operations.py", "bench_watch.py", "watch_picture.py", "bench_failover.py")]
    assert [str(f) for f in files if net in f.read_text()] == []


@pytest.mark.parametrize("scenario", ["default", "dual_master", "fast"])
def test_each_scenarios_platforms_are_its_users_nodes(scenario):
    mol = yaml.safe_load((LAB / "molecule" / scenario / "molecule.yml").read_text())
    user = addresses.load().users[f"molecule-{scenario}"]
    assert [p["name"] for p in mol["platforms"]] == list(user.nodes)
    assert all(p["name"] == user.nodes[p["name"]].container for p in mol["platforms"])


# --------------------------------------------------------------------------- the vars plugin's scope
def inventory(*args: str, env: dict | None = None) -> dict:
    full = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), **(env or {}))
    res = subprocess.run([ANSIBLE_INVENTORY, *args, "--list"], capture_output=True, text=True, env=full, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["_meta"]["hostvars"]


def test_the_lab_inventory_gets_the_plan():
    hv = inventory("-i", "lab/inventory")
    lab = addresses.load().users["lab"]
    assert {h: v["lab_ip"] for h, v in hv.items()} == {n.name: n.address for n in lab.nodes.values()}
    assert hv["web1"]["lab_upstream"] == {"address": lab.address("web1"), "port": 80}
    assert hv["lb1"]["keepalived_vips"] == ["198.51.100.100/24", "198.51.100.101/24"]
    assert (hv["lb2"]["keepalived_vrid_base"], hv["lb2"]["keepalived_smtp_server"]) == (55, lab.address("client1"))


def test_the_products_inventory_gets_nothing():
    # inventories/single has hosts lb1/lb2/web1/web2 too: with the plugin or without, the same
    with_plugin = inventory("-i", "inventories/single")
    without = inventory("-i", "inventories/single", env={"ANSIBLE_VARS_ENABLED": "ansible.builtin.host_group_vars"})
    assert with_plugin == without
    assert not any("lab_ip" in v or "lab_vips" in v for v in with_plugin.values())


def test_a_molecule_inventory_gets_its_scenarios_user(tmp_path):
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "ansible_inventory.yml").write_text(
        yaml.safe_dump({"all": {"children": {"lb": {"hosts": {"mol-dm-lb1": {}, "mol-dm-lb2": {}}}, "web": {"hosts": {"mol-dm-web1": {}}}}}})
    )
    env = {"MOLECULE_SCENARIO_NAME": "dual_master", "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path)}
    hv = inventory("-i", str(inv), env=env)
    assert hv["mol-dm-lb1"]["lab_ip"] == "198.51.100.51"
    assert hv["mol-dm-web1"]["lab_upstream"] == {"address": "198.51.100.53", "port": 80}
    assert hv["mol-dm-lb2"]["keepalived_vips"] == ["198.51.100.120/24", "198.51.100.121/24"]
    assert hv["mol-dm-lb2"]["keepalived_vrid_base"] == 70
    # the same inventory outside Molecule's ephemeral directory, or of a scenario not in the plan
    assert "lab_ip" not in inventory("-i", str(inv)).get("mol-dm-lb1", {})
    res = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(inv), "--list"],
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), **(env | {"MOLECULE_SCENARIO_NAME": "nope"})),
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert "no user 'molecule-nope'" in res.stdout + res.stderr


def test_the_plugin_scope_by_path(tmp_path):
    from halb_lab import plan_vars as plugin

    assert plugin.plan_user(str(LAB / "inventory"), env={}) == "lab"
    assert plugin.plan_user(str(LAB / "vm" / "inventory"), env={}) == "vm-lvs"
    assert plugin.plan_user(str(REPO / "inventories" / "single"), env={}) is None
    assert plugin.plan_user(str(REPO / "playbooks"), env={}) is None
    bench = {"HALB_LAB_PLAN_USER": "bench", "HALB_LAB_PLAN_INVENTORY": str(tmp_path / "inv")}
    assert plugin.plan_user(str(tmp_path / "inv"), env=bench) == "bench"
    assert plugin.plan_user(str(tmp_path / "inv2"), env=bench) is None
    mol = {"MOLECULE_SCENARIO_NAME": "fast", "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path)}
    assert plugin.plan_user(str(tmp_path / "inventory"), env=mol) == "molecule-fast"
    assert plugin.plan_user(str(REPO / "inventories" / "single"), env=mol) is None


def test_the_bench_failover_inventory_is_its_users(tmp_path):
    from halb_lab import bench_failover as bf

    inv = tmp_path / "inv"
    bf.write_inventory(inv, {})
    env = {k: v for k, v in bf.plan_env(inv).items() if k.startswith("HALB_LAB_PLAN")}
    hv = inventory("-i", str(inv), env=env)
    assert hv["lb1"]["keepalived_vips"] == [f"{v}/24" for v in bf.VIPS]
    assert hv["lb2"]["keepalived_vrid_base"] == bf.VRID_BASE
    assert hv["web1"]["lab_ip"] == bf.NODES["web1"][1]
