# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VRRP guard: an nftables table of the collection's own that lets VRRP in only from
the pair's own nodes, for the pair's own VRIDs, and drops and counts the rest.

Pure code: no Ansible imports. VRRPv2 PASS authentication is an 8-byte cleartext string
in every advert and VRRPv3 has none: anyone on the segment who saw one advert can send
priority-255 adverts and take every VIP. keepalived cannot tell a stranger from a peer;
the kernel can, by source address.

The table (``inet halb_pair_vrrp``) is replaced atomically (``table``/``delete table``/
``table {...}`` in one ``nft -f`` transaction) and never touches any other table. An
``accept`` in it does not bypass the host's own firewall (nftables runs every base chain
of a hook; a drop anywhere is final), so it only ever removes VRRP, never opens anything.

The sources of the adverts it drops for the pair's VRIDs are remembered for an hour in
dynamic sets (``strangers4``, ``strangers6``): ``status.yml`` names them, so a node taken
out of the inventory that still runs keepalived, or a stranger on the segment, is seen
by its address and not only by a packet count.
"""

from __future__ import annotations

import ipaddress
import json
import typing as t
from dataclasses import dataclass

from ._vrrp_advert import VRID_MAX, VRID_MIN

TABLE = "halb_pair_vrrp"
FAMILY = "inet"
VRRP_PROTO = 112
#: Counters, in the order ``status.yml`` reports them.
COUNTERS = ("vrrp_peer", "vrrp_spoofed", "vrrp_other")
COUNTER_MEANING = {
    "vrrp_peer": "VRRP from the pair's own nodes for its VRIDs (accepted)",
    "vrrp_spoofed": "VRRP for the pair's VRIDs from an address outside the pair (dropped)",
    "vrrp_other": "VRRP for other VRIDs (another pair on the segment; dropped)",
}
#: The dynamic sets of the sources of dropped adverts for the pair's VRIDs, per family.
STRANGER_SETS = {4: "strangers4", 6: "strangers6"}
#: How long the guard remembers a source after its last dropped advert (the sets' timeout, s).
STRANGER_TIMEOUT = 3600
#: How many sources a set holds; past that the adverts are still dropped and counted.
STRANGER_SIZE = 1024


class GuardError(ValueError):
    """The guard cannot be built from what is known (say what is missing)."""


@dataclass(frozen=True)
class GuardSpec:
    """What the guard lets in: ``vrids`` (the IPv4 instances') from ``peers4``, ``vrids6``
    (the IPv6 instances') from ``peers6`` (the nodes' link-local addresses)."""

    vrids: tuple[int, ...]
    peers4: tuple[str, ...]
    peers6: tuple[str, ...] = ()
    vrids6: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.vrids and not self.vrids6:
            raise GuardError("no VRRP instance: nothing to guard")
        for v in (*self.vrids, *self.vrids6):
            if isinstance(v, bool) or not isinstance(v, int) or not VRID_MIN <= v <= VRID_MAX:
                raise GuardError(f"VRID {v!r} is not an integer in {VRID_MIN}..{VRID_MAX}")
        if not self.peers4 and not self.peers6:
            raise GuardError("no peer address: the guard would drop every advert")
        if self.vrids6 and not self.peers6:
            raise GuardError("IPv6 instances but no IPv6 peer address: the guard would drop their adverts")
        for a in self.peers4:
            if not isinstance(ipaddress.ip_address(a), ipaddress.IPv4Address):
                raise GuardError(f"{a!r} is not an IPv4 address")
        for a in self.peers6:
            if not isinstance(ipaddress.ip_address(a), ipaddress.IPv6Address):
                raise GuardError(f"{a!r} is not an IPv6 address")


def _hosts(instances: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
    out: list[str] = []
    for inst in instances:
        for node in inst["nodes"]:
            if node["host"] not in out:
                out.append(node["host"])
    return out


def _sorted(addresses: t.Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({str(ipaddress.ip_address(a)) for a in addresses}, key=ipaddress.ip_address))


def _bare(address: t.Any) -> str:
    """An address as facts may give it (``fe80::1%eth0``) without its zone."""
    return str(address).split("%", 1)[0]


def spec_for(
    instances: t.Sequence[t.Mapping[str, t.Any]],
    addresses: t.Mapping[str, str | None],
    link_local: t.Mapping[str, str | None] | None = None,
) -> GuardSpec:
    """The guard of one pair: every VRID of its instances; every node's VRRP source address.

    ``instances`` are ``halb.pair.keepalived_instances`` dicts. IPv4 instances: ``addresses``
    maps each node to the address its adverts come from (unicast source, else its
    interface's primary IPv4 address from facts). IPv6 instances: their adverts come from
    the sender's link-local address (RFC 5798 5.1.2.1), ``link_local`` per node (from the
    ``network`` facts), or from its IPv6 unicast source when the instance is unicast.
    Raises GuardError, naming the node and what to do, when an address it needs is unknown.
    """
    link_local = link_local or {}
    v4 = [i for i in instances if int(i.get("family", 4)) != 6]
    v6 = [i for i in instances if int(i.get("family", 4)) == 6]
    hosts4, hosts6 = _hosts(v4), _hosts(v6)
    unknown = [h for h in hosts4 if not addresses.get(h)]
    if unknown:
        raise GuardError(
            "the VRRP source address of " + ", ".join(unknown) + " is unknown: gather its network facts "
            "(gather_subset: [network]; under --limit the facts of every node of the pair are needed) "
            "or set keepalived_unicast_src_ip"
        )
    sources6: dict[str, set[str]] = {h: set() for h in hosts6}
    for inst in v6:
        for node in inst["nodes"]:
            src = node.get("unicast_src_ip") if inst.get("unicast") else None
            if src and ipaddress.ip_address(_bare(src)).version == 6:
                sources6[node["host"]].add(_bare(src))
    missing6 = [h for h in hosts6 if not link_local.get(h)]
    if missing6:
        raise GuardError(
            "the IPv6 link-local address of " + ", ".join(missing6) + " (the source of its IPv6 VRRP adverts) is unknown: "
            "gather its network facts (gather_subset: [network]; under --limit the facts of every node of the pair are "
            "needed); a node whose keepalived_interface has no link-local address cannot speak IPv6 VRRP"
        )
    for h in hosts6:
        addr = ipaddress.ip_address(_bare(link_local[h]))
        if not isinstance(addr, ipaddress.IPv6Address) or not addr.is_link_local:
            raise GuardError(f"the link-local address of {h}: expected an IPv6 address in fe80::/10, found {link_local[h]!r}")
        sources6[h].add(str(addr))
    peers = _sorted(str(addresses[h]) for h in hosts4)
    return GuardSpec(
        vrids=tuple(sorted({int(i["vrid"]) for i in v4})),
        peers4=tuple(p for p in peers if ipaddress.ip_address(p).version == 4),
        peers6=_sorted([*(p for p in peers if ipaddress.ip_address(p).version == 6), *(a for h in hosts6 for a in sources6[h])]),
        vrids6=tuple(sorted({int(i["vrid"]) for i in v6})),
    )


def _elements(values: t.Iterable[t.Any]) -> str:
    return ", ".join(str(v) for v in values)


def _set(vrids: t.Iterable[int]) -> str:
    return "{ " + _elements(vrids) + " }"


def render(spec: GuardSpec, header: str = "") -> str:
    """The whole nft file: replaces table inet halb_pair_vrrp atomically when loaded."""
    lines = []
    if header:
        lines += [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [
        "# VRRP only from this pair's nodes, for its VRIDs; everything else dropped and counted.",
        "# Loaded with `nft -f`: the three statements below replace the table in one transaction.",
        f"table {FAMILY} {TABLE}",
        f"delete table {FAMILY} {TABLE}",
        f"table {FAMILY} {TABLE} {{",
    ]
    for name in COUNTERS:
        lines += [f"\tcounter {name} {{", f'\t\tcomment "{COUNTER_MEANING[name]}"', "\t}"]
    if spec.peers4:
        lines += ["\tset peers4 {", "\t\ttype ipv4_addr", f"\t\telements = {{ {_elements(spec.peers4)} }}", "\t}"]
    if spec.peers6:
        lines += ["\tset peers6 {", "\t\ttype ipv6_addr", f"\t\telements = {{ {_elements(spec.peers6)} }}", "\t}"]
    for family, vrids in ((4, spec.vrids), (6, spec.vrids6)):
        if vrids:
            lines += [
                f"\tset {STRANGER_SETS[family]} {{",
                f"\t\ttype ipv{family}_addr",
                f"\t\tsize {STRANGER_SIZE}",
                "\t\tflags dynamic,timeout",
                f"\t\ttimeout {STRANGER_TIMEOUT}s",
                "\t}",
            ]
    lines += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        f"\t\tmeta l4proto {VRRP_PROTO} jump vrrp",
        "\t}",
        "\tchain vrrp {",
    ]
    # @th,8,8 is the VRRP header's second byte: the Virtual Router ID (RFC 3768 / 5798 §5.2).
    # Each family's VRIDs are its own (an IPv4 and an IPv6 instance may share a VRID).
    if spec.vrids and spec.peers4:
        lines.append(f"\t\tip saddr @peers4 @th,8,8 {_set(spec.vrids)} counter name vrrp_peer accept")
    if spec.peers6:
        # IPv6 adverts come from the sender's link-local address; IPv4 instances with an IPv6
        # unicast source (if any) are accepted from it too.
        lines.append(f"\t\tip6 saddr @peers6 @th,8,8 {_set(spec.vrids6 or spec.vrids)} counter name vrrp_peer accept")
    # The source of a dropped advert is remembered in a rule of its own, before the drop: a
    # full set stops only the update's rule, and the drop after it still counts the packet.
    if spec.vrids:
        lines.append(f"\t\tmeta nfproto ipv4 @th,8,8 {_set(spec.vrids)} update @{STRANGER_SETS[4]} {{ ip saddr }}")
        lines.append(f"\t\tmeta nfproto ipv4 @th,8,8 {_set(spec.vrids)} counter name vrrp_spoofed drop")
    if spec.vrids6:
        lines.append(f"\t\tmeta nfproto ipv6 @th,8,8 {_set(spec.vrids6)} update @{STRANGER_SETS[6]} {{ ip6 saddr }}")
        lines.append(f"\t\tmeta nfproto ipv6 @th,8,8 {_set(spec.vrids6)} counter name vrrp_spoofed drop")
    lines += [
        "\t\tcounter name vrrp_other drop",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def counters(nft_json: str) -> dict[str, dict[str, int]]:
    """Counters of the guard from ``nft -j list table inet halb_pair_vrrp`` (or ``list counters table``).

    Returns ``{name: {"packets": N, "bytes": N}}`` for the guard's counters found.
    """
    data = json.loads(nft_json or "{}")
    out: dict[str, dict[str, int]] = {}
    for item in data.get("nftables", []):
        c = item.get("counter") if isinstance(item, dict) else None
        if not isinstance(c, dict) or c.get("table") != TABLE or c.get("name") not in COUNTERS:
            continue
        out[c["name"]] = {"packets": int(c.get("packets", 0)), "bytes": int(c.get("bytes", 0))}
    return out


def strangers(nft_json: str) -> list[dict[str, t.Any]]:
    """Sources of dropped VRRP from ``nft -j list table inet halb_pair_vrrp`` (its sets
    ``strangers4`` and ``strangers6``; or ``list set`` of one of them):
    ``[{"address": "198.51.100.13", "expires": 3599}]``, sorted by address.

    ``expires``: seconds until the guard forgets the source (None when nft does not say).
    Only the guard's own stranger sets are read; an element that is not a plain address
    is left out.
    """
    data = json.loads(nft_json or "{}")
    out: dict[str, int | None] = {}
    for item in data.get("nftables", []):
        s = item.get("set") if isinstance(item, dict) else None
        if not isinstance(s, dict) or s.get("table") != TABLE or s.get("name") not in STRANGER_SETS.values():
            continue
        for elem in s.get("elem") or []:
            # a plain value, or {"elem": {"val": ..., "timeout": N, "expires": N}} in a set with timeouts
            inner = elem.get("elem") if isinstance(elem, dict) else None
            value = inner.get("val") if isinstance(inner, dict) else elem
            expires = inner.get("expires") if isinstance(inner, dict) else None
            if not isinstance(value, str):
                continue
            try:
                address = str(ipaddress.ip_address(value))
            except ValueError:
                continue
            out[address] = int(expires) if isinstance(expires, int) and not isinstance(expires, bool) else None
    return [{"address": a, "expires": out[a]} for a in sorted(out, key=ipaddress.ip_address)]


def _addresses_of(seen: t.Iterable[t.Any] | None) -> list[str]:
    """Addresses out of ``strangers()`` results (or plain strings)."""
    out = []
    for s in seen or []:
        a = s.get("address") if isinstance(s, t.Mapping) else s
        if isinstance(a, str) and a:
            out.append(a)
    return out


#: At most this many stranger addresses are written into a verdict's sentence (all are in ``strangers``).
STRANGERS_SHOWN = 5
#: What a stranger most likely is, and what to do about it.
STRANGER_CAUSE = (
    "a node taken out of the inventory that still runs keepalived (take it out with playbooks/leave.yml: "
    "README, Operations) or a stranger on the segment"
)

#: Guard verdicts that run status.yml's alert hook (none of them fails the play).
ALERTING = ("foreign_vrrp", "unguarded")


def configured_on(value: t.Any) -> bool:
    """``keepalived_vrrp_guard`` asks for the guard: ``auto`` and ``true`` do, ``false`` does not."""
    v = value.lower() if isinstance(value, str) else value
    return v not in (False, "off", "false", "no", "never", "0", 0)


def verdict(
    per_node: t.Mapping[str, t.Mapping[str, t.Mapping[str, int]] | None],
    configured: t.Mapping[str, bool] | None = None,
    seen: t.Mapping[str, t.Iterable[t.Any] | None] | None = None,
) -> dict[str, t.Any]:
    """One verdict over the pair: 'ok', 'foreign_vrrp' (someone outside the pair sends
    adverts for its VRIDs), 'unguarded' (a node whose guard is configured on, ``configured``,
    has no guard table: the guard it should have is missing), or 'off' (the guard is
    switched off, keepalived_vrrp_guard: false, on the nodes without a table). A node
    missing from ``configured`` counts as configured on (the role's default is auto).
    ``seen``: node -> the sources its guard remembers (``strangers()``); the verdict names
    them (``strangers``: every address, sorted) and says what they most likely are.
    'foreign_vrrp' and 'unguarded' alert (``ALERTING``); none fails the play."""
    configured = configured or {}
    spoofed = {h: int((c or {}).get("vrrp_spoofed", {}).get("packets", 0)) for h, c in per_node.items()}
    found = sorted({a for h in per_node for a in _addresses_of((seen or {}).get(h))}, key=ipaddress.ip_address)
    bare = sorted(h for h, c in per_node.items() if not c)
    unguarded = [h for h in bare if configured.get(h, True)]
    off = [h for h in bare if not configured.get(h, True)]
    base = {"spoofed": spoofed, "strangers": found}
    if any(spoofed.values()) or found:
        counted = ", ".join(f"{h}: {n}" for h, n in sorted(spoofed.items()) if n)
        counts = f"{counted} packets" if counted else "no packet counted"
        shown = ", ".join(found[:STRANGERS_SHOWN]) + (f" and {len(found) - STRANGERS_SHOWN} more" if len(found) > STRANGERS_SHOWN else "")
        sources = f"from {shown}" if found else f"no source seen in the last {STRANGER_TIMEOUT // 60} min"
        why = f"VRRP for this pair's VRIDs from outside the pair, dropped ({counts}; {sources})"
        return {"verdict": "foreign_vrrp", "why": f"{why}: {STRANGER_CAUSE}", **base}
    if unguarded:
        return {
            "verdict": "unguarded",
            "why": "no VRRP guard table on " + ", ".join(unguarded) + ", although keepalived_vrrp_guard asks for it "
            "(run site.yml for the pair with every node's network facts; nft list table inet halb_pair_vrrp)",
            **base,
        }
    if off and len(off) == len(per_node):
        return {"verdict": "off", "why": "switched off (keepalived_vrrp_guard: false)", **base}
    if off:
        return {"verdict": "ok", "why": "VRRP only from the pair's nodes (switched off on " + ", ".join(off) + ")", **base}
    return {"verdict": "ok", "why": "VRRP only from the pair's nodes", **base}


def intact(nft_json: str) -> bool:
    """Whether ``nft -j list table inet halb_pair_vrrp`` shows the guard at work: its input
    chain jumps to its vrrp chain, and the vrrp chain ends in the drop that counts
    ``vrrp_other`` (``nft flush table`` keeps the table and its chains but empties them)."""
    try:
        data = json.loads(nft_json or "{}")
    except ValueError:
        return False
    jump = last = False
    for item in data.get("nftables", []):
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, dict) or rule.get("table") != TABLE:
            continue
        text = json.dumps(rule.get("expr") or [])
        if rule.get("chain") == "input" and '"jump": {"target": "vrrp"}' in text:
            jump = True
        if rule.get("chain") == "vrrp" and '"counter": "vrrp_other"' in text and '"drop": null' in text:
            last = True
    return jump and last
