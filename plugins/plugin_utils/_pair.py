# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One model of a load-balancer pair, computed once and read by everyone.

A *pair* is the set of hosts of the inventory group named by their
``keepalived_group`` (default ``lb``). From the group's hosts and their host
variables (over the roles' own defaults, see ``_defaults``) this module builds:

- the VRRP instances (``_topology.derive``: states, priorities, VIPs);
- each node's *contract*: interface, segment, priorities per instance, the VIPs of
  its instances and of those it is preferred master of, drain file, state
  directory, and the nginx health endpoint. The endpoint's port and path are the
  nginx role's ``nginx_lb_health_port`` / ``nginx_lb_health_path``, so keepalived's
  check, ``status.yml`` and ``upgrade.yml`` all request the URL nginx serves;
  ``keepalived_check_url`` set to a URL overrides it (for an nginx not managed here).
  Its leaving file (``nginx_lb_health_leaving_file``) is what the node's hand-over
  writes before a stop and nginx tests for ``X-HALB-Leaving: 1``.

Several pairs in one inventory (``pairs``) are each their own model; ``conflicts``
refuses a VRID or a VIP that two pairs use on one segment.

Views for day-2 operations over the model: ``reports_of`` (one ``vip_info`` result
per node), ``status`` (placement verdicts, the table, what fails) and ``drain_plan``.

Pure code: no Ansible imports. Filters in ``plugins/filter`` wrap it;
``lab/halb_lab/lab_report.py`` imports it directly.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import asdict, dataclass, field

from ansible_collections.halb.pair.plugins.module_utils import _drain, _placement, _vrrp_guard

from . import _types
from ._defaults import pick, role_defaults
from ._topology import Instance, TopologyError, derive, master_down_interval, settings_of, typed, with_unicast

#: Per-node settings of the contract (defaults: the keepalived and nginx roles').
CONTRACT_SETTINGS = (
    "keepalived_group",
    "keepalived_interface",
    "keepalived_drain_file",
    "keepalived_state_dir",
    "keepalived_check_url",
    "keepalived_check_interval",
    "keepalived_check_timeout",
    "keepalived_check_fall",
    "keepalived_check_rise",
    "nginx_lb_health_port",
    "nginx_lb_health_path",
    "nginx_lb_health_leaving_file",
)
#: Optional per-node settings (no role default).
OPTIONAL_SETTINGS = ("keepalived_segment", "nginx_lb_health_listen")
#: The verdicts that fail ``status.yml`` unless told otherwise.
FAILING = _placement.FAILING
#: The name the internal role registers each node's ``vip_info`` result under.
READ_VAR = "halb_pair_read"


class PairError(TopologyError):
    """The group cannot be modelled; one message per problem."""


@dataclass
class Health:
    """The node's nginx health endpoint, derived once from ``nginx_lb_health_listen`` (its
    port wins; ``nginx_lb_health_port`` is only that listen's default) and
    ``nginx_lb_health_path``. ``url``: what the node itself requests (keepalived's check,
    vip_info): 127.0.0.1 for a listen on every address, else the listen's own address.
    ``peer_url``: what the peers request (the hand-over): the node's address and the port;
    None while the node's address is unknown. ``leaving_file``: ``nginx_lb_health_leaving_file``;
    while it exists the node's health answer (still 200) carries ``X-HALB-Leaving: 1`` and
    its peers' hand-over does not count it as healthy; the node's own hand-over writes it
    before a stop and removes it after the start."""

    port: int
    path: str
    url: str
    listen: str = ""
    peer_url: str | None = None
    leaving_file: str = ""


@dataclass
class Check:
    """keepalived's vrrp_script of nginx on this node."""

    url: str
    interval: float
    timeout: float
    fall: int
    rise: int


@dataclass
class NodeContract:
    host: str
    group: str
    interface: str
    #: What decides whether two pairs share a VRRP segment (see ``segment_of``).
    segment: str
    #: Instance name -> this node's priority / initial state.
    priorities: dict[str, int]
    states: dict[str, str]
    #: The instances the node is in, and those it is the preferred master of.
    instances: list[str]
    preferred: list[str]
    #: VIP addresses of those instances (what it releases on drain / takes on restore).
    vips: list[str]
    preferred_vips: list[str]
    drain_file: str
    state_dir: str
    health: Health
    check: Check
    #: The address its VRRP adverts come from and its peers reach it at: the unicast
    #: source, else its interface's primary IPv4 address from facts (None: unknown).
    address: str | None = None
    #: The IPv6 link-local address of its interface, from facts (None: unknown): the source
    #: of its IPv6 VRRP adverts (RFC 5798), which the VRRP guard lets in for IPv6 instances.
    link_local: str | None = None
    #: Its keepalived_vrrp_guard asks for the VRRP guard (auto or true): status.yml then
    #: alerts when the node has no guard table.
    vrrp_guard: bool = True
    #: Nice value of its keepalived VRRP process (``vrrp_priority``; the profile's unless
    #: the inventory sets one; None: keepalived's own).
    vrrp_nice: int | None = None


@dataclass
class VipView:
    address: str
    cidr: str
    instance: str
    vrid: int
    master: str
    backups: list[str]


@dataclass
class Pair:
    group: str
    hosts: list[str]
    instances: list[Instance]
    nodes: dict[str, NodeContract]
    vips: list[VipView] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        out: list[str] = []
        for v in self.vips:
            if v.address not in out:
                out.append(v.address)
        return out

    def as_dict(self) -> dict[str, t.Any]:
        d = asdict(self)
        d["addresses"] = self.addresses
        return d


def _facts(hv: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    facts = hv.get("ansible_facts")
    return facts if isinstance(facts, t.Mapping) else {}


def interface_network(hv: t.Mapping[str, t.Any], interface: str) -> str | None:
    """The IPv4 network of ``interface`` from gathered facts (``198.51.100.0/24``), if known."""
    info = _facts(hv).get(interface.replace("-", "_").replace(".", "_"))
    if not isinstance(info, t.Mapping):
        return None
    v4 = info.get("ipv4") or {}
    addr, mask = v4.get("address"), v4.get("netmask")
    if not addr or not mask:
        return None
    try:
        return str(ipaddress.ip_interface(f"{addr}/{mask}").network)
    except ValueError:
        return None


def segment_of(hv: t.Mapping[str, t.Any], interface: str) -> str:
    """The VRRP segment a node speaks on, as far as the inventory tells.

    ``keepalived_segment`` when set (a name for the L2 segment, e.g. ``dc1-vlan20``);
    else the IPv4 network of the interface from facts (``net:198.51.100.0/24``);
    else, without facts, the interface name (``if:eth0``): pairs that use the same
    interface name are then assumed to share the segment (the safe side).
    """
    seg = hv.get("keepalived_segment")
    if seg not in (None, ""):
        return f"name:{seg}"
    net = interface_network(hv, interface)
    return f"net:{net}" if net else f"if:{interface}"


def _int(value: t.Any, what: str, errors: list[str], low: int, high: int) -> int:
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", str(value).strip()):
        errors.append(f"{what}: expected an integer within {low}..{high}, found {value!r}")
        return 0
    n = int(str(value).strip())
    if not low <= n <= high:
        errors.append(f"{what}: expected an integer within {low}..{high}, found {n}")
    return n


def _num(value: t.Any, what: str, errors: list[str]) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        n = float(value)
    except (TypeError, ValueError):
        errors.append(f"{what}: expected a number of seconds, found {value!r}")
        return 0.0
    return int(n) if n == int(n) else n


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


#: What a health listen may be, for the message that refuses one.
HEALTH_LISTEN_ALLOWED = (
    "PORT or *:PORT (every IPv4 address), [::]:PORT on a node whose address is IPv6, or ADDRESS:PORT with the "
    "node's own address (its keepalived_unicast_src_ip, else its interface's address), optionally followed by "
    "parameters other than ssl and proxy_protocol; the peers request http://<node address>:PORT<path>"
)


def health_listen_problem(listen: str, address: str | None) -> tuple[str | None, str | None, int | None]:
    """(problem, the address the listen binds or None for every address, port) of a health listen."""
    words = listen.split()
    first = words[0] if words else ""
    bad_params = [w for w in words[1:] if w in ("ssl", "proxy_protocol")]
    if ":" in first and not first.isdigit():
        where, port_text = first.rsplit(":", 1)
    else:
        where, port_text = "", first
    if not re.fullmatch(r"[0-9]+", port_text) or not 1 <= int(port_text) <= 65535:
        return f"its port {port_text!r} is not an integer in 1..65535", None, None
    port = int(port_text)
    if bad_params:
        return f"the peers and keepalived request plain HTTP, which {' '.join(bad_params)} refuses", None, port
    if where in ("", "*", "0.0.0.0"):  # every address: the peers reach it at the node's
        return None, None, port
    bare = where[1:-1] if where.startswith("[") and where.endswith("]") else where
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return f"{where!r} is not an IP address", None, port
    if ip.is_loopback:
        return "the peers cannot reach a loopback address (their hand-over requests this node's health URL)", None, port
    if ip.is_unspecified:
        if address and ipaddress.ip_address(address).version == 6:
            return None, None, port
        return "[::] listens on IPv6 only, but the peers reach this node at its IPv4 address", None, port
    if address and ip != ipaddress.ip_address(address):
        return f"{ip} is not this node's address {address}, at which the peers reach it", None, port
    return None, str(ip), port


def health_of(host: str, s: t.Mapping[str, t.Any], errors: list[str], address: str | None = None) -> tuple[Health, str]:
    """The node's nginx health endpoint, and the URL keepalived's check requests."""
    port = _int(s["nginx_lb_health_port"], f"nginx_lb_health_port on {host}", errors, 1, 65535)
    path = s["nginx_lb_health_path"]
    if not isinstance(path, str) or not _types.URI_PATH.accepts(path):
        errors.append(f"nginx_lb_health_path on {host}: expected an absolute URI path such as '/healthz', found {path!r}")
        path = "/"
    raw = s.get("nginx_lb_health_listen")
    listen = str(port) if raw in (None, "") else str(raw).strip()
    problem, bound, listen_port = health_listen_problem(listen, address)
    if problem:
        errors.append(f"nginx_lb_health_listen on {host} is {listen!r}: {problem}. Allowed: {HEALTH_LISTEN_ALLOWED}")
    port = listen_port or port
    local = bound or ("::1" if listen.startswith("[::]:") else "127.0.0.1")
    url = f"http://{_host(local)}:{port}{path}"
    reach = bound or address
    peer_url = f"http://{_host(reach)}:{port}{path}" if reach else None
    leaving = s["nginx_lb_health_leaving_file"]
    if not isinstance(leaving, str) or not _types.ABS_PATH.accepts(leaving) or leaving.endswith("/"):
        errors.append(
            f"nginx_lb_health_leaving_file on {host}: expected an absolute file path such as '/run/halb-pair/leaving', "
            f"found {leaving!r}"
        )
        leaving = ""
    check_url = s.get("keepalived_check_url")
    if check_url in (None, ""):
        return Health(port=port, path=path, url=url, listen=listen, peer_url=peer_url, leaving_file=leaving), url
    if not isinstance(check_url, str) or not _types.URL.accepts(check_url):
        errors.append(
            f"keepalived_check_url on {host}: expected an http(s) URL such as 'http://127.0.0.1:8081/healthz' "
            f"(or null: derived from nginx_lb_health_port/path), found {check_url!r}"
        )
        return Health(port=port, path=path, url=url, listen=listen, peer_url=peer_url, leaving_file=leaving), url
    return Health(port=port, path=path, url=check_url, listen=listen, peer_url=peer_url, leaving_file=leaving), check_url


def _node_settings(hv: t.Mapping[str, t.Any], base: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The contract's settings, typed as the preflight types them (``_topology.typed``)."""
    out = pick(base, CONTRACT_SETTINGS)
    out.update(typed({k: hv[k] for k in (*CONTRACT_SETTINGS, *OPTIONAL_SETTINGS) if k in hv and hv[k] is not None}))
    return out


def group_of(hv: t.Mapping[str, t.Any], base: t.Mapping[str, t.Any] | None = None) -> str:
    """The pair a host belongs to: its ``keepalived_group`` (role default ``lb``)."""
    value = hv.get("keepalived_group")
    if value in (None, ""):
        value = (role_defaults() if base is None else base)["keepalived_group"]
    return str(value)


def address_of(
    hv: t.Mapping[str, t.Any], base: t.Mapping[str, t.Any] | None = None, interface: str | None = None, known: str | None = None
) -> str | None:
    """The node's VRRP source address: given, else keepalived_unicast_src_ip, else the
    primary IPv4 address of its interface (keepalived_interface by default) from facts."""
    s = settings_of(hv, role_defaults() if base is None else base)
    src = known or s.get("keepalived_unicast_src_ip")
    if src:
        return str(src)
    iface = str(interface or s["keepalived_interface"])
    info = _facts(hv).get(iface.replace("-", "_").replace(".", "_"))
    ipv4 = info.get("ipv4") if isinstance(info, t.Mapping) else None
    addr = ipv4.get("address") if isinstance(ipv4, t.Mapping) else None
    return str(addr) if addr else None


def link_local_of(hv: t.Mapping[str, t.Any], interface: str) -> str | None:
    """The IPv6 link-local address (scope link) of ``interface`` from the ``network`` facts
    (``ansible_facts[iface].ipv6``), without a zone; None when the facts do not give one."""
    info = _facts(hv).get(interface.replace("-", "_").replace(".", "_"))
    entries = info.get("ipv6") if isinstance(info, t.Mapping) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if not isinstance(entry, t.Mapping) or entry.get("scope") != "link":
            continue
        try:
            addr = ipaddress.IPv6Address(str(entry.get("address", "")).split("%", 1)[0])
        except ValueError:
            continue
        if addr.is_link_local:
            return str(addr)
    return None


#: The hand-over file's value while handing over: -253 pulls every instance of the node
#: down to priority 1 (make-before-break); below -253 (weight 1) the instances go to FAULT.
HANDOVER_LOWER = _drain.DRAINED
HANDOVER_FAULT = HANDOVER_LOWER - 1


def handover_timeout(pair: t.Mapping[str, t.Any]) -> float:
    """How long a stop may wait for the peers to take a node's VIPs: twice the longest
    master-down interval of the pair's instances, plus its preempt delay, plus 1 s."""
    longest = 0.0
    for inst in pair["instances"]:
        backups = [n["priority"] for n in inst["nodes"] if n["state"] != "MASTER"] or [n["priority"] for n in inst["nodes"]]
        mdi = master_down_interval(float(inst["advert_int"]), min(backups))
        longest = max(longest, 2 * mdi + float(inst.get("preempt_delay") or 0))
    return round(longest + 1, 2)


def handover(pair: Pair | t.Mapping[str, t.Any], host: str, handover_file: str, fault_file: str) -> dict[str, t.Any]:
    """The configuration of a node's hand-over script (roles/keepalived/files/libexec/handover):
    the VIPs it may hold, each peer with the health URL of its nginx, reached at the
    peer's address (a peer whose address is unknown is left out: it cannot be asked), and
    the node's own leaving file (its nginx answers ``X-HALB-Leaving: 1`` while it exists:
    ``down`` writes it before asking the peers, ``up`` removes it)."""
    p = pair.as_dict() if isinstance(pair, Pair) else pair
    timeout = handover_timeout(p)
    nodes = p["nodes"]
    me = nodes[host]
    peers = []
    for h, n in nodes.items():
        # the peer's URL as its contract derives it (its address, its health listen's port)
        url = (n.get("health") or {}).get("peer_url")
        if h == host or not url:
            continue
        peers.append({"host": h, "health_url": str(url)})
    # nopreempt: a lower priority moves no VIP (the peers do not preempt), so the hand-over
    # puts the node's instances in FAULT instead (handover file below -253): a priority-0
    # advert, which every backup obeys; the peers take over after their skew time.
    nopreempt = any(not i["preempt"] for i in p["instances"] if any(n["host"] == host for n in i["nodes"]))
    return {
        "vips": list(me["vips"]),
        "handover_value": HANDOVER_FAULT if nopreempt else HANDOVER_LOWER,
        "peers": peers,
        "peer_timeout": 0.3,
        "pid_file": "/run/keepalived.pid",
        "handover_file": handover_file,
        "fault_file": fault_file,
        "leaving_file": str(me["health"]["leaving_file"]),
        "timeout": float(timeout),
    }


#: The port of the watcher's /metrics and /state on each node's address (keepalived_watch_port).
WATCH_PORT = 9654


def watch(pair: Pair | t.Mapping[str, t.Any], host: str, settings: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The configuration of a node's watcher (roles/keepalived/files/libexec/watch): the
    pair's instances as status.yml judges them, this node's files and address, each peer's
    watcher at the peer's address, and the operator's settings (``settings``: ``port``,
    ``interval``, ``hold``, ``mail``, ``hook``, ``rate``, ``guard``, the files the role
    writes). It holds no secret: the watcher never needs the VRRP password."""
    p = pair.as_dict() if isinstance(pair, Pair) else pair
    nodes = p["nodes"]
    me = _node_of(p, host)
    if not me.get("address"):
        raise PairError([f"keepalived_watch on {host}: expected the node's address (its unicast source or its interface's "
                         f"address from facts) for the watcher to listen on, found none"])
    port = int(settings.get("port") or WATCH_PORT)
    peers = {h: f"http://{_host(str(n['address']))}:{port}/state" for h, n in nodes.items() if h != host and n.get("address")}
    mine = [i for i in p["instances"] if any(n["host"] == host for n in i["nodes"])]
    return {
        "node": host,
        "pair": p["group"],
        "order": list(p["hosts"]),
        "listen": str(me["address"]),
        "port": port,
        "interval": float(settings.get("interval") or 1.0),
        # after this node's keepalived starts: twice the longest master-down interval, the
        # preempt delay and 1 s (the hand-over's bound) before placement problems count
        "settle": handover_timeout(p),
        "hold": dict(settings.get("hold") or {}),
        "instances": [
            {"name": i["name"], "vrid": i["vrid"], "master": i["master"], "preempt": i["preempt"],
             "nodes": [{"host": n["host"], "priority": n["priority"]} for n in i["nodes"]],
             "vips": [{"address": v["address"], "cidr": v["cidr"]} for v in i["vips"]]}
            for i in mine
        ],
        "vips": list(me["vips"]),
        "interface": str(me["interface"]),
        "peers": peers,
        "peer_timeout": 0.3,
        "health_url": str(me["check"]["url"]),
        "drain_file": str(me["drain_file"]),
        "state_dir": str(me["state_dir"]),
        "pid_file": "/run/keepalived.pid",
        **{k: settings[k] for k in ("handover_file", "keepalived_conf", "loaded_stamp", "crash_counter") if settings.get(k)},
        "guard": dict(settings.get("guard") or {"wanted": False}),
        "mail": settings.get("mail"),
        "hook": settings.get("hook"),
        "rate": dict(settings.get("rate") or {"count": 10, "period": 600}),
    }


def model(
    hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    group: str | None = None,
    base: t.Mapping[str, t.Any] | None = None,
    addresses: t.Mapping[str, str | None] | None = None,
) -> Pair:
    """The pair made of ``hosts`` (in inventory order). ``base``: the defaults
    (the roles' own when None); ``addresses``: unicast source per host when known."""
    base = role_defaults() if base is None else base
    hosts = [str(h) for h in hosts]
    instances = derive(hosts, hostvars, base)
    if addresses:
        with_unicast(instances, addresses)
    errors: list[str] = []
    nodes: dict[str, NodeContract] = {}
    for h in hosts:
        hv = hostvars.get(h, {})
        s = _node_settings(hv, base)
        mine = [i for i in instances if i.node(h)]
        preferred = [i for i in mine if i.master == h]
        node_settings = settings_of(hv, base)
        interface = str(node_settings["keepalived_interface"])
        address = address_of(hv, base, interface, (addresses or {}).get(h))
        health, check_url = health_of(h, s, errors, address)
        nodes[h] = NodeContract(
            host=h,
            group=group or group_of(hv, base),
            interface=interface,
            segment=segment_of(hv, interface),
            priorities={i.name: i.node(h).priority for i in mine},  # type: ignore[union-attr]
            states={i.name: i.node(h).state for i in mine},  # type: ignore[union-attr]
            instances=[i.name for i in mine],
            preferred=[i.name for i in preferred],
            vips=_unique(v.address for i in mine for v in i.vips),
            preferred_vips=_unique(v.address for i in preferred for v in i.vips),
            drain_file=str(s["keepalived_drain_file"]),
            state_dir=str(s["keepalived_state_dir"]),
            health=health,
            address=address,
            link_local=link_local_of(hv, interface),
            check=Check(
                url=check_url,
                interval=_num(s["keepalived_check_interval"], f"keepalived_check_interval on {h}", errors),
                timeout=_num(s["keepalived_check_timeout"], f"keepalived_check_timeout on {h}", errors),
                fall=_int(s["keepalived_check_fall"], f"keepalived_check_fall on {h}", errors, 1, 1000000),
                rise=_int(s["keepalived_check_rise"], f"keepalived_check_rise on {h}", errors, 1, 1000000),
            ),
            vrrp_nice=node_settings.get("keepalived_vrrp_nice"),
            vrrp_guard=_vrrp_guard.configured_on(hv.get("keepalived_vrrp_guard", base.get("keepalived_vrrp_guard", "auto"))),
        )
    if errors:
        raise PairError(errors)
    vips = [
        VipView(
            address=v.address,
            cidr=v.cidr,
            instance=i.name,
            vrid=i.vrid,
            master=i.master,
            backups=[n.host for n in sorted(i.nodes, key=lambda n: -n.priority) if n.host != i.master],
        )
        for i in instances
        for v in i.vips
    ]
    return Pair(group=group or group_of(hostvars.get(hosts[0], {}), base), hosts=hosts, instances=instances, nodes=nodes, vips=vips)


def _unique(items: t.Iterable[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def pair_groups(
    play_hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]],
    base: t.Mapping[str, t.Any] | None = None,
) -> dict[str, list[str]]:
    """Pair name -> all its hosts (the whole group, in inventory order), for every
    pair at least one of ``play_hosts`` belongs to, in the order the play meets them."""
    out: dict[str, list[str]] = {}
    errors: list[str] = []
    for h in play_hosts:
        name = group_of(hostvars.get(h, {}), base)
        if name in out and h in out[name]:
            continue
        members = groups.get(name)
        if not members:
            errors.append(f"keepalived_group on {h}: names the group {name!r}, which has no hosts in the inventory")
            continue
        if h not in members:
            errors.append(f"keepalived_group on {h}: names the group {name!r}, but {h} is not one of its hosts {list(members)!r}")
            continue
        out[name] = [str(m) for m in members]
    for name, members in out.items():
        for m in members:
            other = group_of(hostvars.get(m, {}), base)
            if other != name:
                errors.append(
                    f"keepalived_group on {m}: found {other!r}, but {m} is a host of pair {name!r}; "
                    "every host of a pair must name the same group (set keepalived_group in the pair's group_vars)"
                )
    if errors:
        raise PairError(errors)
    return out


def pairs(
    play_hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]],
    base: t.Mapping[str, t.Any] | None = None,
    addresses: t.Mapping[str, str | None] | None = None,
) -> list[Pair]:
    """One model per pair among ``play_hosts``; all problems of all pairs at once."""
    out: list[Pair] = []
    errors: list[str] = []
    for name, members in pair_groups(play_hosts, hostvars, groups, base).items():
        try:
            out.append(model(members, hostvars, name, base, addresses))
        except TopologyError as exc:
            errors.extend(f"pair {name}: {e}" for e in exc.errors)
    if errors:
        raise PairError(errors)
    return out


def conflicts(models: t.Sequence[Pair]) -> list[str]:
    """VRIDs and VIPs that two pairs use on one segment (empty list: none).

    A VRRP router is known on its segment by (address family, VRID): two pairs whose
    instances share a VRID and a segment (``segment_of``) would take each other's
    adverts as their own. A VIP in two pairs is refused whatever the segments.
    """
    errors: list[str] = []
    seen: dict[tuple[int, int, str], tuple[str, str]] = {}
    vips: dict[str, tuple[str, str]] = {}
    for p in models:
        for inst in p.instances:
            segs = sorted({p.nodes[n.host].segment for n in inst.nodes})
            for seg in segs:
                key = (inst.family, inst.vrid, seg)
                if key in seen and seen[key][0] != p.group:
                    other, oname = seen[key]
                    errors.append(
                        f"pair {p.group}: {inst.name} uses virtual_router_id {inst.vrid}, which pair {other} already "
                        f"uses for {oname} on the same segment ({seg.split(':', 1)[1]}); VRIDs must be unique per "
                        "segment: set another keepalived_vrid_base for one pair, or keepalived_segment if they are "
                        "on different L2 segments"
                    )
                seen.setdefault(key, (p.group, inst.name))
            for v in inst.vips:
                if v.address in vips and vips[v.address][0] != p.group:
                    errors.append(f"pair {p.group}: VIP {v.cidr} of {inst.name} is already a VIP of pair {vips[v.address][0]} ({vips[v.address][1]})")
                vips.setdefault(v.address, (p.group, inst.name))
    return errors


# --- day-2 views ------------------------------------------------------------


def _no_answer(msg: str = "no answer") -> dict[str, t.Any]:
    return {"failed": True, "msg": msg}


def reports_of(
    pair: Pair | t.Mapping[str, t.Any],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    reader: str | None = None,
    var: str = READ_VAR,
) -> dict[str, t.Any]:
    """One ``vip_info`` result per node of the pair.

    ``var`` is the registered result of a looped ``vip_info`` (items are host names):
    the reader's own reads first (it may have read every node, as upgrade.yml does),
    else each node's read of itself; a node with neither counts as silent.
    """
    hosts = pair.hosts if isinstance(pair, Pair) else list(pair["hosts"])

    def reads(of: str | None) -> dict[str, t.Any]:
        reg = (hostvars.get(of) or {}).get(var) if of else None
        if not isinstance(reg, t.Mapping):
            return {}
        results = reg.get("results")
        if isinstance(results, list):
            return {str(r.get("item")): r for r in results if isinstance(r, t.Mapping) and "item" in r}
        return {str(of): reg}

    mine = reads(reader)
    out = {}
    for h in hosts:
        out[h] = mine.get(h) or reads(h).get(h) or _no_answer()
    return out


def _instances_of(pair: Pair | t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    if isinstance(pair, Pair):
        return [asdict(i) for i in pair.instances]
    return [dict(i) for i in pair["instances"]]


def _group_of(pair: Pair | t.Mapping[str, t.Any]) -> str:
    return pair.group if isinstance(pair, Pair) else pair["group"]


def _nodes_of(pair: Pair | t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """host -> its NodeContract (a model) or its dict (a model as the filters pass it)."""
    return pair.nodes if isinstance(pair, Pair) else pair["nodes"]


def _node_of(pair: Pair | t.Mapping[str, t.Any], node: str) -> t.Any:
    """``node``'s entry in ``_nodes_of(pair)``; PairError when it is not a host of the pair."""
    nodes = _nodes_of(pair)
    if node not in nodes:
        raise PairError([f"node: expected one of the pair's hosts {list(nodes)!r}, found {node!r}"])
    return nodes[node]


def status(
    pair: Pair | t.Mapping[str, t.Any],
    reports: t.Mapping[str, t.Any],
    fail_on: t.Iterable[str] = FAILING,
    leaving: t.Iterable[str] = (),
) -> dict[str, t.Any]:
    """Placement verdicts of every VIP of the pair and LVS verdicts of the virtual servers
    on the nodes that forward them (``lvs``), the table a person reads (one line per
    virtual server of each node that has some), the entries that are not ok, those that
    fail (``fail_on``) and one-line summaries.
    ``leaving``: nodes taken out of the pair (playbooks/leave.yml): the remaining nodes
    are judged (``_placement.judge``), and the leaving nodes' guards are not."""
    group = _group_of(pair)
    gone = [str(h) for h in leaving]
    placements = _placement.judge(_instances_of(pair), dict(reports), gone)
    lvs = _placement.judge_lvs(dict(reports))
    problems = [p for p in [*placements, *lvs] if p["verdict"] != "ok"]
    failing = _placement.failing([*placements, *lvs], list(fail_on))
    lvs_lines = _placement.render_lvs(dict(reports), lvs)
    nodes = _nodes_of(pair)
    guard = guard_verdict(
        {h: r for h, r in reports.items() if h not in gone},
        {h: bool(n.vrrp_guard if isinstance(n, NodeContract) else n.get("vrrp_guard", True)) for h, n in nodes.items() if h not in gone},
    )
    return {
        "group": group,
        "reports": dict(reports),
        "placements": [dict(p) for p in placements],
        "problems": [dict(p) for p in problems],
        "failing": [dict(p) for p in failing],
        "lvs": [dict(v) for v in lvs],
        # the LVS lines only where a node has virtual servers: the table is unchanged otherwise
        "table": [*_placement.render(placements, dict(reports)), *(["", *lvs_lines] if lvs_lines else []), "", guard_line(guard)],
        "summary": _placement.summary(problems),
        "failing_summary": _placement.summary(failing),
        "vrrp_guard": guard,
    }


def guard_line(guard: t.Mapping[str, t.Any]) -> str:
    """The status table's line for the VRRP guard (an alerting verdict in capitals, as SPLIT_BRAIN)."""
    verdict = guard["verdict"].upper() if guard["verdict"] in _vrrp_guard.ALERTING else guard["verdict"]
    return f"VRRP GUARD  {verdict}  {guard['why']}"


def guard_verdict(reports: t.Mapping[str, t.Any], configured: t.Mapping[str, bool] | None = None) -> dict[str, t.Any]:
    """VRRP seen from outside the pair, from the guard's counters and the sources each
    answering node reported (``vip_info``'s ``vrrp_guard`` and ``vrrp_strangers``): ok,
    foreign_vrrp (naming the sources: ``strangers``), unguarded (a node whose guard is
    configured on has none) or off. ``configured``: node -> guard asked for."""
    answered = {h: r for h, r in reports.items() if isinstance(r, t.Mapping) and not r.get("failed")}
    per_node = {h: (r.get("vrrp_guard") or None) for h, r in answered.items()}
    return _vrrp_guard.verdict(per_node, configured, {h: r.get("vrrp_strangers") for h, r in answered.items()})


def status_all(
    models: t.Sequence[Pair | t.Mapping[str, t.Any]],
    reports: t.Sequence[t.Mapping[str, t.Any]],
    fail_on: t.Iterable[str] = FAILING,
    leaving: t.Iterable[str] = (),
) -> dict[str, t.Any]:
    """``status`` of every pair (``reports[i]`` for ``models[i]``), and the whole:
    one table (a heading per pair when there are several), every entry not ok and
    every failing one (each naming its pair), and the summaries. ``leaving``: see ``status``."""
    fail_on = list(fail_on)
    leaving = list(leaving)
    each = [status(m, r, fail_on, leaving) for m, r in zip(models, reports, strict=True)]
    many = len(each) > 1
    table: list[str] = []
    problems: list[dict[str, t.Any]] = []
    failing: list[dict[str, t.Any]] = []
    summaries, failing_summaries, all_reports, guards = [], [], {}, {}
    for s in each:
        if many:
            table += ([""] if table else []) + [f"== pair {s['group']}"]
        table += s["table"]
        problems += [dict(p, pair=s["group"]) for p in s["problems"]]
        failing += [dict(p, pair=s["group"]) for p in s["failing"]]
        prefix = f"pair {s['group']}: " if many else ""
        summaries.append(prefix + s["summary"])
        if s["failing"]:
            failing_summaries.append(prefix + s["failing_summary"])
        all_reports.update(s["reports"])
        guards[s["group"]] = s["vrrp_guard"]
    return {
        "pairs": each,
        "vrrp_guard": guards,
        "foreign_vrrp": sorted(g for g, v in guards.items() if v["verdict"] == "foreign_vrrp"),
        "unguarded": sorted(g for g, v in guards.items() if v["verdict"] == "unguarded"),
        # what runs the alert hook: every placement not ok, and the guard's alerting verdicts
        "alert": bool(problems) or any(v["verdict"] in _vrrp_guard.ALERTING for v in guards.values()),
        "reports": all_reports,
        "problems": problems,
        "failing": failing,
        "table": table,
        "summary": "; ".join(summaries) if summaries else _placement.summary([]),
        "failing_summary": "; ".join(failing_summaries) if failing_summaries else _placement.summary([]),
    }


def drain_plan(
    pair: Pair | t.Mapping[str, t.Any],
    reports: t.Mapping[str, t.Any],
    node: str,
    restore: bool = False,
) -> dict[str, t.Any]:
    """What a planned failover of ``node`` does: the drain-file state, the VIPs to
    watch (every VIP of its instances on drain; those it prefers on restore), and why
    draining would leave a VIP without a healthy holder (empty: safe)."""
    c = _node_of(pair, node)
    get = (lambda k: getattr(c, k)) if isinstance(c, NodeContract) else (lambda k: c[k])
    # How long the move may take: the peers wait out their master-down interval and
    # any preempt delay (keepalived_preempt_delay) before they take over; never below 20 s.
    timeout = max(20.0, handover_timeout(pair.as_dict() if isinstance(pair, Pair) else pair))
    # A drain lowers the node's priority; a nopreempt backup never takes a VIP from a
    # live master of lower priority (nor does a restored node take it back).
    nopreempt = [i["name"] for i in _instances_of(pair) if not i["preempt"] and any(n["host"] == node for n in i["nodes"])]
    if restore:
        return {
            "node": node,
            "state": "active",
            # nopreempt: the VIPs stay where they are; only the drain file goes back to 0
            "vips": [] if nopreempt else list(get("preferred_vips")),
            "blockers": [],
            "drain_file": get("drain_file"),
            "timeout": timeout,
        }
    blockers = [nopreempt_refusal(node, nopreempt)] if nopreempt else []
    blockers += _placement.drain_blockers(_instances_of(pair), dict(reports), node)
    return {"node": node, "state": "drained", "vips": list(get("vips")), "blockers": blockers, "drain_file": get("drain_file"), "timeout": timeout}


def leave_plan(
    pair: Pair | t.Mapping[str, t.Any],
    reports: t.Mapping[str, t.Any],
    node: str,
    force: bool = False,
) -> dict[str, t.Any]:
    """How ``node`` is taken out of its pair (playbooks/leave.yml) before keepalived stops
    there, and what the person does once it is out.

    ``drain``: its peers take every VIP of its instances first (make-before-break, through
    ``drain_plan``), when keepalived runs on the node. Not when keepalived does not run there
    (nothing to hand over: a rerun after the node left, where a drain would only write the
    drain file the leave removes), nor with keepalived_nopreempt (a lower priority moves
    nothing; the stop's priority-0 advert hands the VIPs over), nor with ``force``: it goes on
    whatever the pair's state, without a drain, which cannot work when the peers no longer
    hear the node (a node put back in the inventory to take it out, whose peers' guard drops
    its adverts). ``blockers``: the VIPs no healthy peer would take; they refuse the leave
    unless ``force``. ``refused``: why the node may not leave now, empty when it may.
    ``how``: what happens first, ``next``: what to do after, each for the person.
    """
    _node_of(pair, node)
    group = _group_of(pair)
    remaining = [h for h in _nodes_of(pair) if h != node]
    instances = _instances_of(pair)
    mine = [i for i in instances if any(n["host"] == node for n in i["nodes"])]
    vips = _unique(v["address"] for i in mine for v in i["vips"])
    nopreempt = [i["name"] for i in mine if not i["preempt"]]
    view = _placement.node_view(reports.get(node))
    blockers = _placement.drain_blockers(instances, dict(reports), node) if mine else []
    out = {"node": node, "group": group, "vips": vips, "remaining": remaining, "blockers": blockers, "drain": False, "refused": ""}
    if len(remaining) >= 2:
        out["next"] = (
            f"{node} has left pair {group}. Next: remove {node} from the inventory group {group} (and its host_vars), then "
            f"run playbooks/site.yml: {', '.join(remaining)} drop its address from their VRRP guard, hand-over and crash "
            f"hand-over. Until then {node}'s nginx answers its health check as leaving (X-HALB-Leaving: 1; until it "
            "reboots), so their hand-over does not count it as a peer."
        )
    else:
        out["next"] = (
            f"{node} has left pair {group}; {', '.join(remaining) or 'no node'} is left alone and holds every VIP with no "
            f"failover. Next: put the node that replaces {node} in the inventory group {group} in its place (a pair needs "
            "two nodes: site.yml refuses one), then run playbooks/site.yml for the pair. Until then "
            f"{node}'s nginx answers its health check as leaving (X-HALB-Leaving: 1; until it reboots), so the hand-over "
            "does not count it as a peer."
        )
    if view is None:
        out["refused"] = f"not taking {node} out of pair {group}: it did not answer, so what it holds is unknown"
        out["how"] = out["refused"]
        return out
    if not mine:
        out["how"] = f"{node} is a node of no instance of pair {group}: no VIP to hand over"
        return out
    if not view["keepalived_running"]:
        held = f"; it still holds {', '.join(view['held'])}, removed once keepalived is stopped for good" if view["held"] else ""
        out["how"] = f"keepalived does not run on {node}: no VIP to hand over by VRRP{held}"
        return out
    if force:
        out["how"] = (
            f"forced: {node} is not drained{' (' + '; '.join(blockers) + ')' if blockers else ''}; keepalived's stop on it "
            "sends a priority-0 advert, a peer that runs and hears it takes over after its skew time"
        )
        return out
    if blockers:
        out["refused"] = (
            f"not taking {node} out of pair {group}: {'; '.join(blockers)}. Bring a peer back first, or add -e force=true "
            f"to take it out anyway, without a drain: keepalived's stop on {node} sends a priority-0 advert, and a VIP "
            "no peer takes has no holder"
        )
        out["how"] = out["refused"]
        return out
    if nopreempt:
        out["how"] = (
            f"keepalived_nopreempt is true for {', '.join(nopreempt)}: a drain moves nothing, so keepalived's stop on "
            f"{node} hands its VIPs over (a priority-0 advert: its peers take them after their skew time)"
        )
        return out
    out["drain"] = True
    out["how"] = f"draining {node} first: its peers take {', '.join(vips) or 'nothing'} before keepalived stops there"
    return out


def nopreempt_refusal(node: str, instances: t.Sequence[str]) -> str:
    """Why a drain of ``node`` cannot work with keepalived_nopreempt, and what to do."""
    return (
        f"keepalived_nopreempt is true for {', '.join(instances)}: a drain lowers {node}'s priority, but a nopreempt "
        "backup never takes a VIP from a master of lower priority, so nothing would move (and a restore would not "
        f"bring the VIPs back); to move them now, stop keepalived on {node} (systemctl stop keepalived: a priority-0 "
        "advert, its peer takes over after the skew time), or set keepalived_nopreempt: false and use "
        "keepalived_preempt_delay to damp the failback instead"
    )


__all__ = [
    "CONTRACT_SETTINGS",
    "Pair",
    "PairError",
    "conflicts",
    "drain_plan",
    "handover",
    "handover_timeout",
    "leave_plan",
    "model",
    "nopreempt_refusal",
    "pair_groups",
    "pairs",
    "reports_of",
    "segment_of",
    "status",
    "status_all",
]
