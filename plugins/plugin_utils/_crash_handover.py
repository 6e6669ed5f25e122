# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration of a node's crash hand-over (roles/keepalived/files/libexec/crash-handover),
from the pair model.

Pure code: no Ansible imports. ``plugins/filter/crash_handover.py`` wraps it; the role
writes the result as a 0600 JSON file (it holds the VRRP password where one is set).
Per instance of the node (IPv4 only: an IPv6 instance's adverts come from a link-local
address the inventory does not know; it is listed in ``skipped``): VRID, version,
advert interval, interface, the node's VRRP source address, the VIPs, the password
(v2 only, as keepalived.conf renders it), the unicast peers. The result is checked by
the script's own ``_vrrp_advert.load_config`` (every advert built once) before it is
returned.
"""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.module_utils import _vrrp_advert

from . import _pair
from ._topology import TopologyError, master_down_interval


class CrashHandoverError(TopologyError):
    """The node's crash hand-over cannot be configured; one message per problem."""


def _wait(inst: t.Mapping[str, t.Any], host: str) -> float:
    """How long the script waits for a peer of ``inst`` to take over: the master-down
    interval of its lowest-priority peer (it takes over by then even without the
    priority-0 advert) plus one advert interval."""
    others = [int(n["priority"]) for n in inst["nodes"] if n["host"] != host] or [1]
    a = float(inst["advert_int"])
    return master_down_interval(a, min(others)) + a


def config(pair: _pair.Pair | t.Mapping[str, t.Any], host: str, auth_pass: str | None = None) -> dict[str, t.Any]:
    """The script's configuration for ``host``; ``auth_pass`` is keepalived_auth_pass
    (used by VRRPv2 instances only, as in keepalived.conf)."""
    p = pair.as_dict() if isinstance(pair, _pair.Pair) else pair
    nodes = p["nodes"]
    if host not in nodes:
        raise CrashHandoverError([f"host: expected one of the pair's hosts {list(nodes)!r}, found {host!r}"])
    me = nodes[host]
    instances, skipped, errors, wait = [], [], [], 0.0
    for inst in p["instances"]:
        node = next((n for n in inst["nodes"] if n["host"] == host), None)
        if node is None:
            continue
        if int(inst.get("family", 4)) != 4:
            skipped.append({"name": inst["name"], "why": "IPv6: adverts come from a link-local address"})
            continue
        source = node.get("unicast_src_ip") if inst.get("unicast") else None
        source = source or me.get("address")
        if not source:
            errors.append(
                f"{inst['name']} on {host}: the node's VRRP source address is unknown "
                "(set keepalived_unicast_src_ip, gather the network facts, or set keepalived_crash_handover: false)"
            )
            continue
        instances.append(
            {
                "name": inst["name"],
                "vrid": int(inst["vrid"]),
                "version": int(inst["version"]),
                "advert_int": float(inst["advert_int"]),
                "interface": node["interface"],
                "source": str(source),
                "vips": [{"address": v["address"], "cidr": v["cidr"], "dev": v["dev"], "label": v.get("label")} for v in inst["vips"]],
                "auth_pass": (None if auth_pass in (None, "") else str(auth_pass)) if int(inst["version"]) == 2 else None,
                "unicast_peers": list(node.get("unicast_peers") or []) if inst.get("unicast") else [],
            }
        )
        wait = max(wait, _wait(inst, host))
    if errors:
        raise CrashHandoverError(errors)
    out = {
        "state_dir": me["state_dir"],
        "peers": _pair.handover(p, host, "-", "-")["peers"],
        "peer_timeout": 0.3,
        "wait": round(wait, 3),
        "release_delay": 0.1,
        "repeat": 2,
        "instances": instances,
        "skipped": skipped,
    }
    try:
        _vrrp_advert.load_config(out)
    except _vrrp_advert.AdvertError as exc:
        raise CrashHandoverError([f"crash hand-over of {host}: {exc}"]) from None
    return out


__all__ = ["CrashHandoverError", "config"]
