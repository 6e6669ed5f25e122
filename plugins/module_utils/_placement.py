# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each VIP is across the group, and whether that is right.

Private and pure. Inputs are the instance list of ``halb.pair.keepalived_instances``
(see docs/design.md) and one ``halb.pair.vip_info`` result per host that answered.

Verdicts, per VIP, the first that applies:

- ``split_brain``: two or more nodes hold it (keepalived guarantees at least one
  holder, not at most one).
- ``orphan``: every node of the instance answered and none holds it.
- ``unknown``: nobody that answered holds it, but some node did not answer.
- ``unhealthy_holder``: the one node that holds it fails nginx's health check (or its
  keepalived is not running: a stale address); clients reach a broken balancer.
- ``drained``: a node of the instance is drained (its drain file is set): the VIP has
  no failover left, or sits away from its preferred master, until the node is restored.
  A planned drain shows here until the restore, so a forgotten one is not silent.
- ``misplaced``: one node holds it, not the preferred master, although the preferred
  master answered, is healthy, is not drained and the instance preempts.
- ``ok``: anything else.

``split_brain`` and ``orphan`` fail status.yml by default (``FAILING``); every verdict
but ``ok`` runs its alert hook.

LVS verdicts, per IPVS virtual server (``judge_lvs``, from each node's ``virtual_servers``),
only on a node that holds the virtual server's address - the director that forwards; the
backup director keeps the same table and is not judged:

- ``lvs_no_live_real_server``: no real server has a weight above 0 (none at all, or every
  one at weight 0): new connections to it find nowhere to go. Whether a sorry server is
  the only entry is not knowable from the kernel's table.
- ``ok``: some real server has a weight above 0.

A fwmark virtual server has no address: which node forwards it is not in the table, so it
is shown and not judged.
"""

from __future__ import annotations

import typing as t

from . import _ipvs
from ._ipaddr import normalise_address

LVS_VERDICTS = ("lvs_no_live_real_server",)
VERDICTS = ("ok", "misplaced", "drained", "unhealthy_holder", "unknown", "orphan", "split_brain", *LVS_VERDICTS)
FAILING = ("split_brain", "orphan")


class PlacementError(ValueError):
    """The instance list or the per-host reports do not have the documented shape."""


class NodeView(t.TypedDict):
    held: list[str]
    healthy: bool
    drained: bool
    keepalived_running: bool
    nginx_healthy: bool


class Placement(t.TypedDict):
    vip: str
    cidr: str
    instance: str
    vrid: int | None
    preferred: str | None
    expected: str | None
    holders: list[str]
    nodes: list[str]
    unreachable: list[str]
    verdict: str
    reason: str


class LvsVerdict(t.TypedDict):
    node: str
    virtual_server: str
    vip: str
    port: int | None
    protocol: str
    verdict: str
    reason: str


def node_view(report: t.Mapping[str, t.Any] | None) -> NodeView | None:
    """Reduce one ``vip_info`` result to what placement needs; None when the host did not answer."""
    if not report or not isinstance(report, t.Mapping) or report.get("failed") or report.get("unreachable"):
        return None
    if "held_vips" not in report:
        raise PlacementError(f"expected a halb.pair.vip_info result with held_vips, found keys {sorted(report)}")
    drain = report.get("drain") or {}
    nginx = report.get("nginx") or {}
    keepalived = report.get("keepalived") or {}
    running = bool(keepalived.get("running", True))
    # Not checked (healthy: null) counts as healthy: absence of evidence is not a fault.
    nginx_ok = nginx.get("healthy") is not False
    drained = bool(drain.get("drained", False))
    return NodeView(
        held=[normalise_address(v) for v in report["held_vips"]],
        healthy=running and nginx_ok and not drained,
        drained=drained,
        keepalived_running=running,
        nginx_healthy=nginx_ok,
    )


def _instance_nodes(instance: t.Mapping[str, t.Any]) -> list[tuple[str, int]]:
    nodes = instance.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise PlacementError(f"expected a non-empty nodes list in instance {instance.get('name')!r}, found {nodes!r}")
    result = []
    for node in nodes:
        if not isinstance(node, t.Mapping) or "host" not in node:
            raise PlacementError(f"expected {{host, priority}} per node of {instance.get('name')!r}, found {node!r}")
        result.append((str(node["host"]), int(node.get("priority") or 0)))
    return result


def _vip_entries(instance: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    vips = instance.get("vips")
    if not isinstance(vips, list) or not vips:
        raise PlacementError(f"expected a non-empty vips list in instance {instance.get('name')!r}, found {vips!r}")
    result = []
    for vip in vips:
        raw = vip.get("cidr") or vip.get("address") if isinstance(vip, t.Mapping) else vip
        if not isinstance(raw, str):
            raise PlacementError(f"expected a VIP as a string or {{address, cidr}}, found {vip!r}")
        try:
            address = normalise_address(raw)
        except ValueError as exc:
            raise PlacementError(str(exc)) from None
        cidr = raw if "/" in raw else address
        result.append((address, cidr))
    return result


def _left_alone(instance: t.Mapping[str, t.Any], views: t.Mapping[str, NodeView | None]) -> list[Placement]:
    """The VIPs of an instance none of whose nodes is left: orphans, whoever still holds them."""
    result: list[Placement] = []
    for address, cidr in _vip_entries(instance):
        holders = sorted(h for h, v in views.items() if v and address in v["held"])
        still = f" (still on {', '.join(holders)}: a stale address)" if holders else ""
        result.append(
            Placement(vip=address, cidr=cidr, instance=str(instance["name"]), vrid=instance.get("vrid"), preferred=None,
                      expected=None, holders=holders, nodes=[], unreachable=[], verdict="orphan",
                      reason=f"no node of this instance is left in the pair{still}")
        )
    return result


def judge(
    instances: t.Sequence[t.Mapping[str, t.Any]],
    reports: t.Mapping[str, t.Any],
    leaving: t.Iterable[str] = (),
) -> list[Placement]:
    """One Placement per VIP of every instance, in instance order.

    ``leaving``: nodes taken out of the pair (playbooks/leave.yml), judged as gone: they are
    no node of any instance, so a VIP one of them still holds is held from outside the
    instance (two holders: split_brain; only it: unhealthy_holder or orphan); an instance
    whose preferred master leaves is preferred on its remaining node of the highest
    priority (whom keepalived elects with the configuration the remaining nodes still run);
    the VIPs of an instance with no node left are orphans.
    """
    if not isinstance(instances, (list, tuple)):
        raise PlacementError(f"expected the list from halb.pair.keepalived_instances, found {type(instances).__name__}")
    views = {host: node_view(report) for host, report in (reports or {}).items()}
    gone = {str(h) for h in leaving}
    result: list[Placement] = []
    for instance in instances:
        if not isinstance(instance, t.Mapping) or "name" not in instance:
            raise PlacementError(f"expected an instance with a name, found {instance!r}")
        nodes = [(h, p) for h, p in _instance_nodes(instance) if h not in gone]
        if not nodes:
            result += _left_alone(instance, views)
            continue
        hosts = [h for h, _node in nodes]
        preferred = instance.get("master")
        if preferred in gone:
            preferred = sorted(nodes, key=lambda n: (-n[1], hosts.index(n[0])))[0][0]
        preempt = bool(instance.get("preempt", True))
        unreachable = [h for h in hosts if views.get(h) is None]
        # Who should hold it now: the preferred master when it can, else the healthy
        # node with the highest configured priority.
        candidates = sorted(((p, h) for h, p in nodes if (views.get(h) or {}).get("healthy")), key=lambda x: (-x[0], hosts.index(x[1])))
        preferred_view = views.get(preferred) if preferred else None
        if preferred_view and preferred_view["healthy"]:
            expected: str | None = preferred
        else:
            expected = candidates[0][1] if candidates else None
        for address, cidr in _vip_entries(instance):
            holders = [h for h in hosts if address in ((views.get(h) or {}).get("held") or [])]
            # A host outside the instance's nodes that holds the VIP is a holder too.
            holders += sorted(h for h, v in views.items() if v and h not in hosts and address in v["held"])
            drained = [h for h in hosts if (views.get(h) or {}).get("drained")]
            verdict, reason = _verdict(holders, preferred, preferred_view, preempt, unreachable, views, drained)
            result.append(
                Placement(
                    vip=address,
                    cidr=cidr,
                    instance=str(instance["name"]),
                    vrid=instance.get("vrid"),
                    preferred=preferred,
                    expected=expected,
                    holders=holders,
                    nodes=hosts,
                    unreachable=unreachable,
                    verdict=verdict,
                    reason=reason,
                )
            )
    return result


def _verdict(
    holders: list[str],
    preferred: str | None,
    preferred_view: NodeView | None,
    preempt: bool,
    unreachable: list[str],
    views: t.Mapping[str, NodeView | None],
    drained: list[str],
) -> tuple[str, str]:
    gap = f"; no answer from {', '.join(unreachable)}" if unreachable else ""
    if len(holders) >= 2:
        return "split_brain", f"held by {len(holders)} nodes: {', '.join(holders)}{gap}"
    if not holders:
        if unreachable:
            return "unknown", f"held by none of the nodes that answered{gap}"
        return "orphan", "every node answered, none holds it"
    holder = holders[0]
    holder_view = views.get(holder)
    if holder_view and not holder_view["keepalived_running"]:
        return "unhealthy_holder", f"on {holder}, where keepalived is not running (a stale address: no VRRP moves it){gap}"
    if holder_view and not holder_view["nginx_healthy"]:
        return "unhealthy_holder", f"on {holder}, whose nginx fails its health check: clients reach a broken balancer{gap}"
    if drained:
        where = "on its preferred master" if holder == preferred else f"on {holder}, not on its preferred master {preferred}"
        return "drained", (
            f"{', '.join(drained)} drained ({where}): no failover to {'it' if len(drained) == 1 else 'them'} until restored "
            f"(failover.yml -e node={drained[0]} -e restore=true){gap}"
        )
    if holder == preferred:
        return "ok", f"on its preferred master{gap}"
    if preferred_view is None:
        return "ok", f"on {holder}; preferred master {preferred} did not answer"
    if not preferred_view["healthy"]:
        why = "keepalived is not running" if not preferred_view["keepalived_running"] else "nginx is not healthy"
        return "ok", f"on {holder}; preferred master {preferred}: {why}"
    if not preempt:
        return "ok", f"on {holder}; preempt is off, {preferred} will not take it back"
    return "misplaced", f"on {holder} although preferred master {preferred} is healthy and preempt is on"


def _answered(report: t.Any) -> bool:
    return isinstance(report, t.Mapping) and bool(report) and not report.get("failed") and not report.get("unreachable")


def _node_addresses(report: t.Mapping[str, t.Any]) -> set[str]:
    """Every address the node holds now: ``vip_info``'s ``addresses`` (scope global) and ``held_vips``."""
    found = {normalise_address(v) for v in report.get("held_vips") or []}
    for cidrs in (report.get("addresses") or {}).values():
        found.update(normalise_address(c) for c in cidrs or [])
    return found


def judge_lvs(reports: t.Mapping[str, t.Any]) -> list[LvsVerdict]:
    """One LvsVerdict per virtual server with an address on a node that holds that address, nodes in name order.

    A node that holds none of its virtual servers' addresses (the backup director), a node
    without ``virtual_servers`` (no ip_vs, or a vip_info before them) and a fwmark service
    get none.
    """
    result: list[LvsVerdict] = []
    for host in sorted(reports or {}):
        report = reports[host]
        if not _answered(report) or not report.get("virtual_servers"):
            continue
        held = _node_addresses(report)
        for vs in report["virtual_servers"]:
            address = vs.get("address")
            if address is None or normalise_address(address) not in held:
                continue
            reals = vs.get("real_servers") or []
            if _ipvs.live(vs):
                weighted = sum(1 for r in reals if int(r.get("weight") or 0) > 0)
                verdict, reason = "ok", f"{weighted} of {len(reals)} real servers with weight > 0"
            elif reals:
                verdict = "lvs_no_live_real_server"
                reason = f"{host} holds its address and forwards it; no real server has weight > 0 ({len(reals)}, all at weight 0)"
            else:
                verdict = "lvs_no_live_real_server"
                reason = f"{host} holds its address and forwards it; no real server has weight > 0 (it has none)"
            result.append(LvsVerdict(node=host, virtual_server=_ipvs.name(vs), vip=normalise_address(address), port=vs.get("port"),
                                     protocol=str(vs.get("protocol")), verdict=verdict, reason=reason))
    return result


def render_lvs(reports: t.Mapping[str, t.Any], verdicts: t.Iterable[t.Mapping[str, t.Any]] = ()) -> list[str]:
    """One line per virtual server of every node that has some (``_ipvs.describe``), the node first;
    a virtual server with a verdict not ok ends with it in capitals. Empty when no node has one."""
    flagged = {(v["node"], v["virtual_server"]): v["verdict"] for v in verdicts if v["verdict"] != "ok"}
    rows = []
    for host in sorted(reports or {}):
        report = reports[host]
        if not _answered(report):
            continue
        for vs in report.get("virtual_servers") or []:
            verdict = flagged.get((host, _ipvs.name(vs)))
            rows.append((host, _ipvs.describe(vs) + (f"  {verdict.upper()}" if verdict else "")))
    width = max((len(h) for h, _line in rows), default=0)
    return [f"{h.ljust(width)}  {line}" for h, line in rows]


def failing(placements: t.Iterable[t.Any], fail_on: t.Iterable[str] = FAILING) -> list[t.Any]:
    wanted = set(fail_on)
    unknown = wanted - set(VERDICTS)
    if unknown:
        raise PlacementError(f"expected verdicts among {list(VERDICTS)}, found {sorted(unknown)}")
    return [p for p in placements if p["verdict"] in wanted]


def summary(placements: t.Iterable[Placement | LvsVerdict]) -> str:
    """One sentence per VIP (or LVS virtual server) that is not ok, naming the VIP, its instance and the nodes."""
    parts = []
    for p in placements:
        if p["verdict"] == "ok":
            continue
        if "virtual_server" in p:
            parts.append(f"{p['verdict']}: LVS {p['virtual_server']} on {p['node']} — {p['reason']}")
            continue
        who = ", ".join(p["holders"]) if p["holders"] else "no node"
        parts.append(
            f"{p['verdict']}: VIP {p['vip']} ({p['instance']}) held by {who}"
            f" (nodes {', '.join(p['nodes'])}; preferred {p['preferred']}) — {p['reason']}"
        )
    return "; ".join(parts) if parts else "all VIPs ok"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render(placements: t.Sequence[Placement], reports: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """Lines a person reads at a glance: one row per VIP, then one per node."""
    rows = [["VIP", "INSTANCE", "VRID", "PREFERRED", "HOLDERS", "VERDICT", "WHY"]]
    for p in placements:
        rows.append(
            [
                p["cidr"],
                p["instance"],
                "" if p["vrid"] is None else str(p["vrid"]),
                p["preferred"] or "-",
                ",".join(p["holders"]) or "-",
                p["verdict"].upper() if p["verdict"] != "ok" else "ok",
                p["reason"],
            ]
        )
    lines = _table(rows)
    if reports:
        node_rows = [["NODE", "KEEPALIVED", "SOURCE", "DRAIN", "NGINX", "INSTANCES"]]
        for host in sorted(reports):
            r = reports[host]
            if not r or r.get("failed") or r.get("unreachable"):
                node_rows.append([host, "no answer", "-", "-", "-", (r or {}).get("msg", "")[:60]])
                continue
            ka = r.get("keepalived") or {}
            ka_text = f"{ka.get('version') or '?'} {'running' if ka.get('running') else 'STOPPED'}"
            drain = r.get("drain") or {}
            nginx = r.get("nginx") or {}
            if nginx.get("status") is None:
                nginx_text = f"DOWN ({nginx.get('error') or 'no answer'})"[:40]
            else:
                nginx_text = f"{nginx['status']} {nginx.get('latency_ms', 0):.1f}ms {nginx.get('node') or '?'}"
            inst = " ".join(f"{i['name']}={i['state']}/{i.get('effective_priority')}" for i in r.get("instances") or [])
            node_rows.append(
                [
                    host,
                    ka_text,
                    r.get("source") or "none",
                    drain.get("status", "?") if drain.get("value") in (None, 0) else f"{drain['value']} ({drain.get('status', '?')})",
                    nginx_text,
                    inst or "-",
                ]
            )
        lines += ["", *_table(node_rows)]
    return lines


def drain_blockers(instances: t.Sequence[t.Mapping[str, t.Any]], reports: t.Mapping[str, t.Any], node: str) -> list[str]:
    """Why draining ``node`` would leave a VIP without a healthy holder; empty when it is safe.

    For every instance ``node`` belongs to, some other node of the instance must have
    answered and be healthy (keepalived running, nginx healthy, not drained).
    """
    views = {host: node_view(report) for host, report in (reports or {}).items()}
    reasons = []
    known = False
    for instance in instances:
        hosts = [h for h, _node in _instance_nodes(instance)]
        if node not in hosts:
            continue
        known = True
        peers = [h for h in hosts if h != node and (views.get(h) or {}).get("healthy")]
        if not peers:
            others = ", ".join(h for h in hosts if h != node) or "none"
            vips = ", ".join(a for a, _vip in _vip_entries(instance))
            reasons.append(f"{instance['name']} ({vips}): no healthy peer of {node} to take over (peers: {others})")
    if not known:
        reasons.append(f"{node} is a node of no instance")
    return reasons
