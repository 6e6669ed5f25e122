# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Derive keepalived VRRP instances from inventory settings, and check them.

Pure code: no Ansible imports. The filter plugin ``halb.pair.keepalived_instances``
wraps it; the role's template reads its result.

A *setting* is read from each node's host variables, with the role's defaults
(``roles/keepalived/defaults/main.yml``, read through ``_defaults``) under them.
"""

from __future__ import annotations

import functools
import ipaddress
import typing as t
from dataclasses import asdict, dataclass, field

from . import _argspec, _defaults
from ._defaults import ROLES, pick, role_defaults


def settings() -> tuple[str, ...]:
    """The settings the derivation reads from each node's host variables: every option of
    the role's argument spec (``roles/keepalived/meta/argument_specs.yml``, the one
    declaration) that has a literal default in ``roles/keepalived/defaults/main.yml``
    (read by ``_defaults``: no list and no copy here). A profile (:data:`PROFILES`) may set
    any of them."""
    return _settings()


@functools.cache
def _settings() -> tuple[str, ...]:
    literal = role_defaults()
    return tuple(k for k in role_options("keepalived") if k in literal)


def __getattr__(name: str) -> t.Any:
    # SETTINGS, read from the role's files on first use (never when a module imports this file)
    if name == "SETTINGS":
        return settings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def defaults() -> dict[str, t.Any]:
    """The role defaults of :func:`settings`, from the role's defaults file."""
    return pick(role_defaults(), settings())


#: Settings that describe an instance and so must be equal on all of its nodes.
SHARED_SETTINGS = (
    "keepalived_profile",
    "keepalived_topology",
    "keepalived_vips",
    "keepalived_instances",
    "keepalived_vrid_base",
    "keepalived_master_priority",
    "keepalived_backup_priority",
    "keepalived_priority_step",
    "keepalived_advert_int",
    "keepalived_vrrp_version",
    "keepalived_auth_pass",
    "keepalived_unicast",
    "keepalived_nopreempt",
    "keepalived_preempt_delay",
    "keepalived_check_weight",
    # every director of the pair directs the same LVS virtual servers
    "keepalived_virtual_servers",
    "keepalived_lvs_sync_daemon",
)

TOPOLOGIES = ("single", "dual_master", "custom")
# Settings whose values are secrets: never quoted in a message.
SECRET_SETTINGS = frozenset({"keepalived_auth_pass"})


class TopologyError(ValueError):
    """Raised with every problem found, one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Vip:
    address: str
    prefix: int
    cidr: str
    dev: str
    label: str | None
    family: int


@dataclass
class Node:
    host: str
    state: str
    priority: int
    interface: str
    unicast_src_ip: str | None = None
    unicast_peers: list[str] = field(default_factory=list)
    #: The instance's VIPs as this node renders them: a VIP without ``dev`` is on the
    #: node's own interface, and a generated label begins with it.
    vips: list[Vip] = field(default_factory=list)


@dataclass
class Instance:
    name: str
    vrid: int
    master: str
    preempt: bool
    preempt_delay: int
    advert_int: float
    version: int
    family: int
    check_weight: int
    unicast: bool
    vips: list[Vip]
    nodes: list[Node]

    def node(self, host: str) -> Node | None:
        return next((n for n in self.nodes if n.host == host), None)


#: keepalived_profile: the timers a profile sets, unless the inventory sets them itself.
#: fast - VRRPv3 with 0.1 s adverts: a master-down interval of 0.36 s instead of 3.61 s
#: (VRRPv3 has no authentication: the VRRP guard limits VRRP to the pair instead), and
#: keepalived's VRRP process at nice -20: a backup that is not scheduled within 0.36 s
#: under CPU pressure takes the VIP from a live master.
PROFILES: dict[str, dict[str, t.Any]] = {
    "default": {},
    "fast": {"keepalived_vrrp_version": 3, "keepalived_advert_int": 0.1, "keepalived_vrrp_nice": -20},
}


def role_options(role: str) -> dict[str, t.Any]:
    """The options of a role's ``main`` entry point (its ``meta/argument_specs.yml``)."""
    try:
        return _defaults.role_options(role)
    except _defaults.DefaultsError as exc:
        raise TopologyError([str(exc)]) from None


def typed(values: t.Mapping[str, t.Any], host: str = "") -> dict[str, t.Any]:
    """``values`` (role variables as a host sees them) converted as the preflight converts
    them: each role's argument spec, Ansible's scalar conversions (``-e keepalived_nopreempt=false``
    is ``False``, ``-e keepalived_check_timeout=3`` is ``3``). The one conversion: the
    preflight, the derivation and the pair model all read values through it. A value that
    does not convert stays as found (the preflight reports it)."""
    out = dict(values)
    for role in ROLES:
        converted, _problems = _argspec.check(role_options(role), out, host)
        out.update(converted)
    return out


def settings_of(hostvars: t.Mapping[str, t.Any], base: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """One node's settings, typed (:func:`typed`): its host variables over its profile's
    (``keepalived_profile``) over ``base`` (default: the role defaults)."""
    names = settings()
    out = dict(defaults() if base is None else pick(base, names))
    given = typed({k: hostvars[k] for k in names if k in hostvars and hostvars[k] is not None})
    out.update(given)
    for key, value in PROFILES.get(str(out.get("keepalived_profile") or "default"), {}).items():
        if given.get(key) is None:
            out[key] = value
    return out


def show(key: str, value: t.Any) -> str:
    """A value as a message may quote it: secrets are described, not printed."""
    if key in SECRET_SETTINGS:
        if value is None:
            return "unset"
        return f"<secret of {len(str(value))} characters>"
    return repr(value)


def _as_int(value: t.Any, what: str, errors: list[str]) -> int | None:
    if isinstance(value, bool):
        errors.append(f"{what}: expected an integer, found {value!r}")
        return None
    try:
        return int(str(value), 10)
    except (TypeError, ValueError):
        errors.append(f"{what}: expected an integer, found {value!r}")
        return None


def _as_float(value: t.Any, what: str, errors: list[str]) -> float | None:
    if isinstance(value, bool):
        errors.append(f"{what}: expected a number of seconds, found {value!r}")
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        errors.append(f"{what}: expected a number of seconds, found {value!r}")
        return None


def parse_vip(raw: t.Any, interface: str, label_index: int, what: str, errors: list[str]) -> Vip | None:
    """``"198.51.100.10/24"`` or ``{address, dev, label}`` → Vip (or an error)."""
    if isinstance(raw, str):
        spec: dict[str, t.Any] = {"address": raw}
    elif isinstance(raw, t.Mapping):
        spec = dict(raw)
    else:
        errors.append(f"{what}: expected an address/prefix such as '198.51.100.10/24' or a mapping with 'address', found {raw!r}")
        return None
    addr = spec.get("address")
    if not isinstance(addr, str) or "/" not in addr:
        errors.append(f"{what}: expected an address/prefix such as '198.51.100.10/24', found {addr!r}")
        return None
    try:
        iface = ipaddress.ip_interface(addr)
    except ValueError:
        errors.append(f"{what}: expected an address/prefix such as '198.51.100.10/24', found {addr!r}")
        return None
    if iface.ip == iface.network.network_address and iface.network.prefixlen < iface.max_prefixlen - 1:
        errors.append(f"{what}: {addr!r} is a network address, not a host address")
        return None
    dev = str(spec.get("dev") or interface)
    if "label" in spec:
        label = spec["label"] or None
    elif iface.version == 4:
        label = f"{dev}:{label_index}"
    else:
        label = None  # labels are an IPv4 notion
    return Vip(
        address=str(iface.ip),
        prefix=iface.network.prefixlen,
        cidr=f"{iface.ip}/{iface.network.prefixlen}",
        dev=dev,
        label=label,
        family=iface.version,
    )


def _instance_plans(hosts: list[str], s: dict[str, t.Any], errors: list[str]) -> list[dict[str, t.Any]]:
    """The instances before per-node details: name, vrid, master, vips, nodes."""
    topology = s["keepalived_topology"]
    vips = s["keepalived_vips"]
    base = _as_int(s["keepalived_vrid_base"], "keepalived_vrid_base", errors)
    if base is None:
        return []
    if topology not in TOPOLOGIES:
        errors.append(f"keepalived_topology: expected one of {', '.join(TOPOLOGIES)}, found {topology!r}")
        return []
    if topology in ("single", "dual_master"):
        if not isinstance(vips, list) or not vips:
            errors.append(f"keepalived_vips: topology {topology!r} needs a non-empty list of VIPs, found {vips!r}")
            return []
    if topology == "single":
        return [{"name": "VI_1", "vrid": base, "master": hosts[0], "vips": vips, "nodes": list(hosts)}]
    if topology == "dual_master":
        if len(vips) < 2:
            errors.append(
                f"keepalived_vips: topology 'dual_master' needs at least two VIPs (one per instance), found {len(vips)}"
            )
            return []
        return [
            {"name": f"VI_{i + 1}", "vrid": base + i, "master": hosts[i % len(hosts)], "vips": [vip], "nodes": list(hosts)}
            for i, vip in enumerate(vips)
        ]
    # custom
    raw = s["keepalived_instances"]
    if not isinstance(raw, list) or not raw:
        errors.append(f"keepalived_instances: topology 'custom' needs a non-empty list of instances, found {raw!r}")
        return []
    plans = []
    for i, inst in enumerate(raw):
        what = f"keepalived_instances[{i}]"
        if not isinstance(inst, t.Mapping):
            errors.append(f"{what}: expected a mapping with name, master and vips, found {inst!r}")
            continue
        name = inst.get("name") or f"VI_{i + 1}"
        vrid = inst.get("vrid", base + i)
        nodes = inst.get("nodes") or list(hosts)
        unknown = [n for n in nodes if n not in hosts]
        if unknown:
            errors.append(f"{what} ({name}).nodes: {unknown!r} are not load-balancer nodes; allowed: {hosts!r}")
            continue
        ivips = inst.get("vips")
        if not isinstance(ivips, list) or not ivips:
            errors.append(f"{what} ({name}).vips: expected a non-empty list of VIPs, found {ivips!r}")
            continue
        plans.append({"name": str(name), "vrid": vrid, "master": inst.get("master"), "vips": ivips, "nodes": list(nodes)})
    return plans


def derive(
    hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    base: t.Mapping[str, t.Any] | None = None,
) -> list[Instance]:
    """All instances of the group, each with its nodes' states and priorities.

    Raises TopologyError listing every problem that prevents a derivation.
    Cross-node consistency and host facts are the preflight's business
    (``_preflight.check``); this only needs the first node's shared settings.
    """
    hosts = list(hosts)
    errors: list[str] = []
    if len(hosts) < 2:
        raise TopologyError([f"load-balancer group: a pair needs at least two nodes, found {len(hosts)}: {hosts!r}"])
    settings = {h: settings_of(hostvars.get(h, {}), base) for h in hosts}
    s = settings[hosts[0]]
    plans = _instance_plans(hosts, s, errors)

    mprio = _as_int(s["keepalived_master_priority"], "keepalived_master_priority", errors)
    bprio = _as_int(s["keepalived_backup_priority"], "keepalived_backup_priority", errors)
    step = _as_int(s["keepalived_priority_step"], "keepalived_priority_step", errors)
    advert = _as_float(s["keepalived_advert_int"], "keepalived_advert_int", errors)
    version = _as_int(s["keepalived_vrrp_version"], "keepalived_vrrp_version", errors)
    weight = _as_int(s["keepalived_check_weight"], "keepalived_check_weight", errors)
    delay = _as_int(s["keepalived_preempt_delay"], "keepalived_preempt_delay", errors)
    if errors or None in (mprio, bprio, step, advert, version, weight, delay):
        raise TopologyError(errors)
    if mprio is None or bprio is None or step is None or advert is None or version is None or weight is None or delay is None:
        raise AssertionError("unreachable: a None was refused above")  # narrows the types for a checker
    nopreempt = bool(s["keepalived_nopreempt"])
    # nopreempt and preempt_delay only work when every node starts as BACKUP.
    all_backup = nopreempt or delay > 0

    instances: list[Instance] = []
    for plan in plans:
        name = plan["name"]
        vrid = _as_int(plan["vrid"], f"{name}: virtual_router_id", errors)
        master = plan["master"]
        if master not in plan["nodes"]:
            errors.append(
                f"{name}: the preferred master must be one of its nodes {plan['nodes']!r}, found {master!r}"
            )
            continue
        # Each node's own view: a VIP's dev defaults to that node's interface (NICs of a
        # pair may have different names); the instance's own list is its master's view.
        node_vips: dict[str, list[Vip]] = {}
        for h in [master, *(n for n in plan["nodes"] if n != master)]:
            iface = str(settings[h]["keepalived_interface"])
            sink = errors if h == master else []  # a bad VIP is reported once
            node_vips[h] = [
                v for j, raw in enumerate(plan["vips"])
                if (v := parse_vip(raw, iface, len(instances) + 1 + j, f"{name}: VIP {j + 1}", sink))
            ]
        vips = node_vips[master]
        families = {v.family for v in vips}
        if len(families) > 1:
            errors.append(
                f"{name}: IPv4 and IPv6 VIPs cannot share one instance, found {[v.cidr for v in vips]!r}; "
                "put them in separate instances"
            )
        family = families.pop() if len(families) == 1 else 4
        backups = [h for h in plan["nodes"] if h != master]
        prio = {master: mprio}
        for k, h in enumerate(backups):
            prio[h] = bprio - k * step
        nodes = []
        for h in plan["nodes"]:
            over = (settings[h]["keepalived_instance_overrides"] or {}).get(name, {}) or {}
            p = _as_int(over.get("priority", prio[h]), f"{h}: keepalived_instance_overrides.{name}.priority", errors)
            state = over.get("state") or ("BACKUP" if all_backup or h != master else "MASTER")
            nodes.append(
                Node(
                    host=h,
                    state=str(state).upper(),
                    priority=p if p is not None else 0,
                    interface=str(settings[h]["keepalived_interface"]),
                    unicast_src_ip=settings[h]["keepalived_unicast_src_ip"],
                    vips=node_vips[h],
                )
            )
        instances.append(
            Instance(
                name=name,
                vrid=vrid if vrid is not None else 0,
                master=master,
                preempt=not nopreempt,
                preempt_delay=delay,
                advert_int=advert,
                version=3 if family == 6 else version,  # keepalived speaks VRRPv3 for IPv6
                family=family,
                check_weight=weight,
                unicast=bool(s["keepalived_unicast"]),
                vips=vips,
                nodes=nodes,
            )
        )
    if errors:
        raise TopologyError(errors)
    return instances


def with_unicast(instances: list[Instance], addresses: t.Mapping[str, str | None]) -> list[Instance]:
    """Fill unicast source and peers from each node's address (where known)."""
    for inst in instances:
        if not inst.unicast:
            continue
        for node in inst.nodes:
            node.unicast_src_ip = node.unicast_src_ip or addresses.get(node.host)
        for node in inst.nodes:
            node.unicast_peers = [str(p.unicast_src_ip) for p in inst.nodes if p.host != node.host and p.unicast_src_ip]
    return instances


def as_dicts(instances: list[Instance]) -> list[dict[str, t.Any]]:
    return [asdict(i) for i in instances]


def master_down_interval(advert_int: float, backup_priority: int) -> float:
    """RFC 3768/5798: 3 × advert + skew, skew = (256 − p) × advert / 256."""
    return 3 * advert_int + (256 - backup_priority) * advert_int / 256
