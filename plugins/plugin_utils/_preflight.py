# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules across the load-balancer group, checked before any host is changed.

Every message names the variable, the host (or instance), the value found and
what is allowed. Secrets are never quoted. Pure code: no Ansible imports.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.halb.pair.plugins.module_utils._drain import WEIGHT_MAX
from ansible_collections.halb.pair.plugins.module_utils._vrrp_advert import PRIORITY_MAX, PRIORITY_MIN, VRID_MAX, VRID_MIN
from ansible_collections.halb.pair.plugins.plugin_utils import _directives, _lvs, _notify, _tracking
from ansible_collections.halb.pair.plugins.plugin_utils._argspec import ValueCheck
from ansible_collections.halb.pair.plugins.plugin_utils._argspec import check as check_types
from ansible_collections.halb.pair.plugins.plugin_utils._pair import interface_network
from ansible_collections.halb.pair.plugins.plugin_utils._topology import (
    SECRET_SETTINGS,
    SHARED_SETTINGS,
    Instance,
    TopologyError,
    as_dicts,
    derive,
    settings_of,
    show,
    typed,
    with_unicast,
)
from ansible_collections.halb.pair.plugins.plugin_utils._types import check_derived, check_hosts

AUTH_MAX = 8  # keepalived uses only the first 8 characters of auth_pass

#: Stricter checks per value of the role's variables (see ``_argspec``), by option path
#: (``keepalived_vips[]``, ``keepalived_instances[].name``); empty until values are typed further.
VALUE_CHECKS: dict[str, ValueCheck] = {}


def check_host(
    host: str,
    values: t.Mapping[str, t.Any],
    options: t.Mapping[str, t.Mapping[str, t.Any]],
    value_checks: t.Mapping[str, ValueCheck] | None = None,
) -> list[str]:
    """One host's keepalived variables against the role's argument spec ``options`` (the password never quoted)."""
    _converted, problems = check_types(
        options, values, host, secrets=SECRET_SETTINGS, value_checks=VALUE_CHECKS if value_checks is None else value_checks
    )
    return problems


def converted(
    host: str,
    values: t.Mapping[str, t.Any],
    options: t.Mapping[str, t.Mapping[str, t.Any]],
) -> dict[str, t.Any]:
    """The host's variables with the role's options converted as Ansible converts them
    (``-e keepalived_check_timeout=3`` is the int 3); what does not convert stays as found
    (check_host reports it). ``options`` beyond the roles' own (``_topology.typed``, the
    conversion the derivation and the pair model read through) are converted too."""
    conv, _problems = check_types(options, typed(values, host), host, secrets=SECRET_SETTINGS)
    return conv


def _facts(hostvars: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    facts = hostvars.get("ansible_facts")
    return facts if isinstance(facts, t.Mapping) else {}


def own_addresses(hostvars: t.Mapping[str, t.Any]) -> set[str]:
    """The node's own addresses as far as the controller knows them: the primary
    IPv4 address of each interface and ansible_host. Not ``all_ipv4_addresses``:
    on a running pair that list holds the VIPs keepalived added (as secondaries)."""
    facts = _facts(hostvars)
    out: set[str] = set()
    for iface in facts.get("interfaces") or []:
        addr = interface_address(hostvars, str(iface))
        if addr:
            out.add(addr)
    host = hostvars.get("ansible_host")
    if host:
        try:
            out.add(str(ipaddress.ip_address(host)))
        except ValueError:
            pass
    return out


def interface_address(hostvars: t.Mapping[str, t.Any], interface: str) -> str | None:
    """The primary IPv4 address of ``interface`` from facts, if gathered."""
    info = _facts(hostvars).get(interface.replace("-", "_").replace(".", "_"))
    if isinstance(info, t.Mapping):
        addr = (info.get("ipv4") or {}).get("address")
        if addr:
            return str(addr)
    return None


def _family(address: t.Any) -> int | None:
    try:
        return ipaddress.ip_address(str(address)).version
    except ValueError:
        return None


def _consistency(hosts: list[str], settings: dict[str, dict[str, t.Any]]) -> list[str]:
    errors = []
    first = hosts[0]
    for key in SHARED_SETTINGS:
        want = settings[first][key]
        for h in hosts[1:]:
            found = settings[h][key]
            if found != want:
                errors.append(
                    f"{key} on {h}: found {show(key, found)}, but {first} has {show(key, want)}; "
                    "every node of an instance must agree: set it for the group, not per host"
                )
    return errors


def _check_instance(inst: Instance, s: dict[str, t.Any]) -> list[str]:
    errors = []
    name = inst.name
    if not VRID_MIN <= inst.vrid <= VRID_MAX:
        errors.append(f"{name}: virtual_router_id must be within {VRID_MIN}..{VRID_MAX}, found {inst.vrid}")
    for node in inst.nodes:
        if node.state not in ("MASTER", "BACKUP"):
            errors.append(f"{name} on {node.host}: state must be MASTER or BACKUP, found {node.state!r}")
        if not PRIORITY_MIN <= node.priority <= PRIORITY_MAX:
            errors.append(f"{name} on {node.host}: priority must be within {PRIORITY_MIN}..{PRIORITY_MAX}, found {node.priority}")
    by_prio: dict[int, list[str]] = {}
    for node in inst.nodes:
        by_prio.setdefault(node.priority, []).append(node.host)
    for prio, hs in sorted(by_prio.items()):
        if len(hs) > 1:
            errors.append(
                f"{name}: nodes {', '.join(hs)} have the same priority {prio}; priorities must differ "
                "(keepalived_master_priority, keepalived_backup_priority, keepalived_priority_step)"
            )
    masters = [n for n in inst.nodes if n.state == "MASTER"]
    if not inst.preempt or inst.preempt_delay > 0:
        for n in masters:
            what = "keepalived_nopreempt" if not inst.preempt else f"keepalived_preempt_delay={inst.preempt_delay}"
            errors.append(
                f"{name} on {n.host}: {what} works only when every node starts as BACKUP, found initial state MASTER (drop the state override)"
            )
    elif len(masters) != 1:
        errors.append(f"{name}: exactly one node must be the preferred master (state MASTER), found {len(masters)}: {[n.host for n in masters]!r}")
    if len(inst.nodes) >= 2:
        top = max(inst.nodes, key=lambda n: n.priority)
        if masters and len(masters) == 1 and masters[0].host != top.host:
            errors.append(
                f"{name}: {masters[0].host} starts as MASTER with priority {masters[0].priority}, but "
                f"{top.host} has the higher priority {top.priority}; the preferred master needs the highest priority"
            )
        others = sorted((n.priority for n in inst.nodes if n.host != top.host), reverse=True)
        gap = top.priority - others[0]
        w = inst.check_weight
        if w != 0 and abs(w) <= gap:
            errors.append(
                f"keepalived_check_weight: found {w}; in {name} the master {top.host} ({top.priority}) minus "
                f"{abs(w)} is not below its best backup ({others[0]}), so a failed nginx check would not move "
                f"the VIP; allowed: |weight| > {gap} (e.g. {-(gap + 10)}), or 0 to put the instance in FAULT"
            )
        if w != 0 and not 1 <= abs(w) <= WEIGHT_MAX:
            errors.append(f"keepalived_check_weight: must be within -{WEIGHT_MAX}..{WEIGHT_MAX}, found {w}")
    # advert_int and version
    if inst.version not in (2, 3):
        errors.append(f"keepalived_vrrp_version: must be 2 or 3, found {inst.version!r}")
    if not 0 < inst.advert_int <= 255:
        errors.append(f"keepalived_advert_int: must be within (0, 255] seconds, found {inst.advert_int}")
    elif inst.version == 2 and inst.advert_int != int(inst.advert_int):
        errors.append(
            f"keepalived_advert_int: found {inst.advert_int}; VRRPv2 counts whole seconds: sub-second or "
            "fractional adverts need keepalived_vrrp_version: 3"
        )
    auth = s["keepalived_auth_pass"]
    if auth is not None:
        if str(auth) == "":
            errors.append("keepalived_auth_pass: found an empty string; set 1..8 characters or leave it unset")
        elif len(str(auth)) > AUTH_MAX:
            errors.append(
                f"keepalived_auth_pass: found {show('keepalived_auth_pass', auth)}; keepalived uses only the "
                f"first {AUTH_MAX}, so at most {AUTH_MAX} are allowed"
            )
        if inst.version == 3:
            errors.append(
                f"keepalived_auth_pass: {name} uses VRRPv3, which has no authentication in keepalived; "
                "unset keepalived_auth_pass or use keepalived_vrrp_version: 2"
            )
    if not 0 <= inst.preempt_delay <= 1000:
        errors.append(f"keepalived_preempt_delay: must be within 0..1000 seconds, found {inst.preempt_delay}")
    return errors


def check(
    hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]] | None = None,
    notes: list[str] | None = None,
) -> list[str]:
    """Every problem found in the group's keepalived settings (empty: all fine).

    Every value that reaches keepalived.conf is checked against its strict type
    (``_types``) too: no newline, brace or comment character can add a directive.
    ``groups`` (the inventory's): where the LVS virtual servers' ``real_servers_group``
    hosts are found (their variables in ``hostvars``). ``notes``: where what is allowed
    but likely not meant is added (a tracked weight that cannot move a VIP on its own)."""
    hosts = list(hosts)
    settings = {h: settings_of(hostvars.get(h, {})) for h in hosts}
    errors = check_hosts("keepalived", hosts, hostvars)
    lvs_typed = not any(e.startswith(_lvs.VAR) for e in errors)
    # the operator's own tracks of each node: planned where typed (the type check reported the rest)
    untracked = {h for h in hosts if any(e.startswith(_tracking.VARS) and e.split(":", 1)[0].endswith(f" on {h}") for e in errors)}
    plans: dict[str, dict[str, t.Any]] = {}
    for h in hosts:
        # the notify hooks' runner and the directives the role does not model (the type check
        # reported a value of the wrong type; here, the rules across them)
        errors.extend(_notify.plan(settings[h], h)[1])
        errors.extend(_directives.plan(settings[h], h)[1])
        if h in untracked:
            continue
        plans[h], tracking_errors = _tracking.plan(settings[h], h)
        errors.extend(tracking_errors)
        ifaces = _facts(hostvars.get(h, {})).get("interfaces")
        if isinstance(ifaces, list):
            for item in plans[h]["interfaces"]:
                if item["name"] not in ifaces:
                    errors.append(f"{_tracking.INTERFACES} on {h}: interface {item['name']!r} does not exist on the host; "
                                  f"it has {sorted(ifaces)!r}")
    errors += _consistency(hosts, settings) if len(hosts) >= 2 else []
    try:
        instances = derive(hosts, hostvars)
    except TopologyError as exc:
        return errors + exc.errors
    s = settings[hosts[0]]
    addresses = {
        h: settings[h]["keepalived_unicast_src_ip"] or interface_address(hostvars.get(h, {}), settings[h]["keepalived_interface"]) for h in hosts
    }
    with_unicast(instances, addresses)
    # What the topology generates (labels, names) is typed too before it is rendered.
    errors.extend(check_derived(as_dicts(instances)))

    if lvs_typed:
        # the LVS virtual servers: one plan for the pair (a shared setting), its rules
        networks = {h: interface_network(hostvars.get(h, {}), settings[h]["keepalived_interface"]) for h in hosts}
        _plan, lvs_errors = _lvs.plan(s[_lvs.VAR], as_dicts(instances), groups or {}, hostvars, networks)
        errors.extend(lvs_errors)

    if notes is not None and len(plans) == len(hosts):
        notes.extend(_tracking.weak_weights(as_dicts(instances), plans))

    seen_vrid: dict[int, str] = {}
    seen_vip: dict[str, str] = {}
    node_addrs = {h: own_addresses(hostvars.get(h, {})) for h in hosts}
    for inst in instances:
        errors.extend(_check_instance(inst, s))
        if inst.vrid in seen_vrid:
            errors.append(
                f"{inst.name}: virtual_router_id {inst.vrid} is already used by {seen_vrid[inst.vrid]}; VRIDs must be unique on the segment"
            )
        seen_vrid.setdefault(inst.vrid, inst.name)
        for vip in inst.vips:
            if vip.address in seen_vip:
                errors.append(f"{inst.name}: VIP {vip.cidr} is already in {seen_vip[vip.address]}")
            seen_vip.setdefault(vip.address, inst.name)
            for h, addrs in node_addrs.items():
                if vip.address in addrs:
                    errors.append(f"keepalived_vips: VIP {vip.cidr} of {inst.name} is the own address of {h}; a VIP must be an address no node has")
        for node in inst.nodes:
            ifaces = _facts(hostvars.get(node.host, {})).get("interfaces")
            if isinstance(ifaces, list):
                wanted = {node.interface} | {v.dev for v in node.vips}
                for iface in sorted(wanted):
                    if iface not in ifaces:
                        errors.append(
                            f"keepalived_interface on {node.host}: interface {iface!r} ({inst.name}) does not exist "
                            f"on the host; it has {sorted(ifaces)!r}"
                        )
            if inst.unicast and not node.unicast_src_ip:
                errors.append(
                    f"keepalived_unicast_src_ip on {node.host}: unicast mode needs the node's address; "
                    "gather its facts (network subset) or set keepalived_unicast_src_ip for it"
                )
            elif inst.unicast and _family(node.unicast_src_ip) not in (None, inst.family):
                # keepalived -t refuses it: VRRP for IPv6 VIPs goes over IPv6, and the reverse
                errors.append(
                    f"keepalived_unicast_src_ip on {node.host}: {inst.name} has IPv{inst.family} VIPs, but its unicast "
                    f"source is the IPv{_family(node.unicast_src_ip)} address {node.unicast_src_ip}; unicast peers must be "
                    f"of the VIPs' family: set keepalived_unicast_src_ip to the node's IPv{inst.family} address, or put "
                    "these VIPs in an instance without unicast"
                )
    return errors


#: The role's default for ``keepalived_group`` (roles/keepalived/defaults/main.yml).
DEFAULT_GROUP = "lb"


def pairs(
    play_hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]],
) -> dict[str, list[str]]:
    """The pairs the play's hosts belong to: each host's ``keepalived_group`` -> that group's hosts.

    A pair is the whole group (its order decides the derived topology), also when
    the play (``--limit``) holds only some of its hosts. In the order first seen.
    """
    out: dict[str, list[str]] = {}
    for host in play_hosts:
        group = str(hostvars.get(host, {}).get("keepalived_group") or DEFAULT_GROUP)
        if group not in out:
            out[group] = list(groups.get(group) or [])
    return out


def check_pairs(
    play_hosts: t.Sequence[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]],
    notes: list[str] | None = None,
) -> list[str]:
    """:func:`check` for every pair of the play, each on its own.

    With more than one pair, each message (and note) starts with ``pair GROUP:``.
    """
    found = pairs(play_hosts, hostvars, groups)
    errors: list[str] = []
    for group, members in found.items():
        if not members:
            users = [h for h in play_hosts if str(hostvars.get(h, {}).get("keepalived_group") or DEFAULT_GROUP) == group]
            problems = [
                f"keepalived_group on {', '.join(users)}: found {group!r}, which is no group of the inventory "
                "(or an empty one); allowed: the name of the group that holds the pair's nodes"
            ]
        else:
            found_notes: list[str] = []
            problems = check(members, hostvars, groups, found_notes)
            if notes is not None:
                notes.extend(f"pair {group}: {n}" if len(found) > 1 else n for n in found_notes)
        errors.extend(f"pair {group}: {p}" if len(found) > 1 else p for p in problems)
    # VRIDs and VIPs two pairs share on one segment: _pair.conflicts (halb.pair.pair_preflight).
    return errors
