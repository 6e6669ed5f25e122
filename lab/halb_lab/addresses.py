"""The lab's address plan (lab/addresses.yml): load it, check it, print it.

    python -m halb_lab.addresses [FILE]                 the plan as a table; exit 1 with one line per problem
    python -m halb_lab.addresses [FILE] --shell network HALB_NET_* for lab/lib/podman-env.sh (stdlib only)
    python -m halb_lab.addresses [FILE] --shell USER    one user's nodes, VIPs and VRIDs as bash assignments

`scripts/lab plan` runs the first. Every user of the one bridge (the lab, each Molecule
scenario, the benchmarks) has its nodes, VIPs and VRIDs here; two users sharing an address,
a VRID or a container name would disturb each other, so `problems` refuses that. The vars
plugin lab/plugins/vars/halb_lab_plan.py gives the plan to the users' inventories
(`User.host_vars`, `User.group_vars`); the benchmarks and the lab's operations import it.
Only `--shell network` must work without PyYAML (podman-env.sh runs before the venv exists).
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import shlex
import sys
from pathlib import Path

PLAN = Path(__file__).resolve().parent.parent / "addresses.yml"
NETWORK_KEYS = ("name", "subnet", "gateway", "bridge", "docker_bridge")


class PlanError(ValueError):
    """The file is not a plan (a missing or mistyped field)."""


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    address: str
    container: str
    upstream_port: int | None = None


@dataclasses.dataclass(frozen=True)
class Vip:
    instance: str
    address: str
    prefix: int
    master: str
    backup: str


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    about: str
    nodes: dict[str, Node]
    vips: list[Vip]
    vrids: list[int]
    smtp: str | None = None
    reserved: dict[str, str] = dataclasses.field(default_factory=dict)

    def address(self, node: str) -> str:
        return self.nodes[node].address

    def host_vars(self, host: str) -> dict:
        """What the plan gives one inventory host: lab_ip, and lab_upstream for a web backend."""
        node = self.nodes.get(host)
        if node is None:
            return {}
        out: dict = {"lab_ip": node.address}
        if node.upstream_port is not None:
            out["lab_upstream"] = {"address": node.address, "port": node.upstream_port}
        return out

    def group_vars(self, group: str, pair_group: str = "lb") -> dict:
        """What the plan gives a group: `all` the VIPs' placement, the pair's group its keepalived values."""
        if group == "all":
            return {"lab_vips": [{"address": v.address, "master": v.master, "backup": v.backup} for v in self.vips]}
        if group == pair_group:
            out: dict = {"keepalived_vips": [f"{v.address}/{v.prefix}" for v in self.vips], "keepalived_vrid_base": self.vrids[0]}
            if self.smtp:
                out["keepalived_smtp_server"] = self.address(self.smtp)
            return out
        return {}

    @property
    def pair(self) -> list[str]:
        """The nodes that hold VIPs (masters and backups), in node order."""
        held = {v.master for v in self.vips} | {v.backup for v in self.vips}
        return [n for n in self.nodes if n in held]


@dataclasses.dataclass(frozen=True)
class Plan:
    network: dict[str, str]
    users: dict[str, User]

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.network["subnet"])


def _map(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise PlanError(f"{where}: a mapping expected, got {value!r}")
    return value


def parse(data) -> Plan:
    """A Plan from the YAML's data; PlanError when a field is missing or of the wrong type."""
    data = _map(data, "the plan")
    network = _map(data.get("network"), "network")
    missing = [k for k in NETWORK_KEYS if not network.get(k)]
    if missing:
        raise PlanError(f"network: missing {', '.join(missing)}")
    users = {}
    for uname, u in _map(data.get("users"), "users").items():
        u = _map(u, f"users.{uname}")
        nodes = {}
        for n, spec in _map(u.get("nodes") or {}, f"{uname}.nodes").items():
            spec = _map(spec, f"{uname}.nodes.{n}")
            if "address" not in spec:
                raise PlanError(f"{uname}.nodes.{n}: no address")
            nodes[str(n)] = Node(str(n), str(spec["address"]), str(spec.get("container") or n), spec.get("upstream_port"))
        vips = []
        for inst, spec in _map(u.get("vips") or {}, f"{uname}.vips").items():
            spec = _map(spec, f"{uname}.vips.{inst}")
            addr, _, prefix = str(spec.get("address", "")).partition("/")
            if not prefix.isdigit():
                raise PlanError(f"{uname}.vips.{inst}: address must be A/prefix, got {spec.get('address')!r}")
            vips.append(Vip(str(inst), addr, int(prefix), str(spec.get("master", "")), str(spec.get("backup", ""))))
        vrids = u.get("vrids") or []
        if not isinstance(vrids, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in vrids):
            raise PlanError(f"{uname}.vrids: a list of integers expected, got {vrids!r}")
        reserved = {str(k): str(v) for k, v in _map(u.get("reserved") or {}, f"{uname}.reserved").items()}
        users[str(uname)] = User(str(uname), str(u.get("about", "")), nodes, vips, vrids, u.get("smtp"), reserved)
    return Plan({k: str(network[k]) for k in NETWORK_KEYS}, users)


def load(path: Path | str = PLAN) -> Plan:
    import yaml  # the venv's; only --shell network must do without it

    with open(path, encoding="utf-8") as f:
        return parse(yaml.safe_load(f))


def read_network(path: Path | str = PLAN) -> dict[str, str]:
    """The `network:` block alone, stdlib only: flat `key: value` lines indented under it."""
    out: dict[str, str] = {}
    inside = False
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].rstrip()
        if not text.strip():
            continue
        if not text.startswith(" "):
            inside = text == "network:"
            continue
        if inside:
            key, sep, value = text.strip().partition(":")
            if sep:
                out[key] = value.strip().strip("'\"")
    missing = [k for k in NETWORK_KEYS if not out.get(k)]
    if missing:
        raise PlanError(f"{path}: network: missing {', '.join(missing)}")
    return out


def problems(plan: Plan) -> list[str]:
    """One line per problem: an address, VRID or container used twice (naming both users), an
    address outside the subnet or on its network/broadcast/gateway, a VRID outside 1..255, a
    VIP, SMTP or master that names no node of its user."""
    out: list[str] = []
    try:
        net = plan.subnet
        gateway = ipaddress.IPv4Address(plan.network["gateway"])
    except ValueError as e:
        return [f"network: {e}"]
    if gateway not in net or gateway in (net.network_address, net.broadcast_address):
        out.append(f"network: gateway {gateway} is not a host address of {net}")
    taken: dict[str, str] = {str(gateway): "the network's gateway"}
    vrids: dict[int, str] = {}
    containers: dict[str, str] = {}

    def claim(table: dict, key, who: str, label: str | None = None) -> None:
        if key in table:
            out.append(f"{label or key}: {table[key]} and {who}")
        else:
            table[key] = who

    for u in plan.users.values():
        claims = [(n.address, f"{u.name} node {n.name}") for n in u.nodes.values()]
        claims += [(v.address, f"{u.name} VIP {v.instance}") for v in u.vips]
        claims += [(a, f"{u.name} reserved {r}") for r, a in u.reserved.items()]
        for addr, who in claims:
            try:
                ip = ipaddress.IPv4Address(addr)
            except ValueError:
                out.append(f"{addr}: {who}: not an IPv4 address")
                continue
            if ip not in net:
                out.append(f"{addr}: {who}: outside {net}")
            elif ip in (net.network_address, net.broadcast_address):
                out.append(f"{addr}: {who}: the network's {'network' if ip == net.network_address else 'broadcast'} address")
            claim(taken, str(ip), who)
        for n in u.nodes.values():
            claim(containers, f"container {n.container}", f"{u.name} node {n.name}")
        for v in u.vips:
            if v.prefix != net.prefixlen:
                out.append(f"{v.address}/{v.prefix}: {u.name} VIP {v.instance}: prefix is not the network's /{net.prefixlen}")
            for role in ("master", "backup"):
                if getattr(v, role) not in u.nodes:
                    out.append(f"{u.name} VIP {v.instance}: {role} {getattr(v, role)!r} is not a node of {u.name}")
        if u.smtp is not None and u.smtp not in u.nodes:
            out.append(f"{u.name}: smtp {u.smtp!r} is not a node of {u.name}")
        if len(u.vrids) != len(u.vips):
            out.append(f"{u.name}: {len(u.vips)} VIPs but {len(u.vrids)} VRIDs (one VRRP instance per VIP)")
        if u.vrids and u.vrids != list(range(u.vrids[0], u.vrids[0] + len(u.vrids))):
            out.append(f"{u.name}: VRIDs {u.vrids} are not consecutive (keepalived_vrid_base counts up from the first)")
        for vrid in u.vrids:
            if not 1 <= vrid <= 255:
                out.append(f"VRID {vrid}: {u.name}: outside 1..255")
            claim(vrids, vrid, u.name, f"VRID {vrid}")
    return out


def table(plan: Plan) -> str:
    """The plan by address, then each user's VRIDs."""
    n = plan.network
    rows = [(ipaddress.IPv4Address(n["gateway"]), "network", f"gateway (bridges {n['bridge']} podman, {n['docker_bridge']} docker)")]
    for u in plan.users.values():
        vrid = dict(zip((v.instance for v in u.vips), u.vrids, strict=False))
        for node in u.nodes.values():
            what = f"node {node.name}" + (f" ({node.container})" if node.container != node.name else "")
            what += f", upstream :{node.upstream_port}" if node.upstream_port else ""
            what += ", SMTP" if node.name == u.smtp else ""
            rows.append((node.address, u.name, what))
        for v in u.vips:
            rows.append((v.address, u.name, f"VIP {v.instance}/{v.prefix} VRID {vrid.get(v.instance, '?')}, master {v.master}, backup {v.backup}"))
        for r, a in u.reserved.items():
            rows.append((a, u.name, f"reserved: {r}"))

    def key(row):
        try:
            return (0, int(ipaddress.IPv4Address(row[0])))
        except ValueError:
            return (1, str(row[0]))

    width = max(len(u) for u in plan.users) if plan.users else 7
    lines = [f"network {n['name']} {n['subnet']}", ""]
    lines += [f"{a!s:16} {who:{width}}  {what}" for a, who, what in sorted(rows, key=key)]
    lines += ["", "VRIDs: " + ", ".join(f"{u.name} {'/'.join(map(str, u.vrids)) or '-'}" for u in plan.users.values())]
    return "\n".join(lines)


def shell(plan_or_network, user: str | None) -> str:
    """bash assignments: the network (HALB_NET_*), or one user's PLAN_IP/PLAN_CONTAINER
    (associative, by host), PLAN_VIPS, PLAN_VRID_BASE and PLAN_RESERVED."""
    if user is None:
        n = plan_or_network
        names = {"name": "HALB_NET_NAME", "subnet": "HALB_NET_SUBNET", "gateway": "HALB_NET_GATEWAY",
                 "bridge": "HALB_NET_BRIDGE", "docker_bridge": "HALB_DOCKER_NET_BRIDGE"}
        return "\n".join(f"export {var}={shlex.quote(n[k])}" for k, var in names.items())
    u = plan_or_network.users[user]

    def assoc(var: str, items) -> str:
        return f"declare -A {var}=(" + " ".join(f"[{shlex.quote(k)}]={shlex.quote(v)}" for k, v in items) + ")"

    return "\n".join([
        assoc("PLAN_IP", ((n.name, n.address) for n in u.nodes.values())),
        assoc("PLAN_CONTAINER", ((n.name, n.container) for n in u.nodes.values())),
        "PLAN_VIPS=(" + " ".join(v.address for v in u.vips) + ")",
        f"PLAN_VRID_BASE={u.vrids[0] if u.vrids else ''}",
        assoc("PLAN_RESERVED", u.reserved.items()),
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m halb_lab.addresses", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=str(PLAN), help="the plan (default: lab/addresses.yml)")
    ap.add_argument("--shell", metavar="network|USER", help="print bash assignments instead of the table")
    a = ap.parse_args(argv)
    try:
        if a.shell == "network":
            print(shell(read_network(a.file), None))
            return 0
        plan = load(a.file)
    except (OSError, PlanError) as e:
        print(f"{a.file}: {e}", file=sys.stderr)
        return 2
    found = problems(plan)
    if a.shell:
        if a.shell not in plan.users:
            print(f"{a.file}: no user {a.shell!r} (users: {', '.join(plan.users)})", file=sys.stderr)
            return 2
        if found:
            print("\n".join(found), file=sys.stderr)
            return 1
        print(shell(plan, a.shell))
        return 0
    print(table(plan))
    if found:
        print(f"\n{len(found)} problem(s) in {a.file}:", file=sys.stderr)
        print("\n".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
