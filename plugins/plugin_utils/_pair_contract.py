# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pair's contract: the settings every node of a pair must share to hear each other.

Pure code: no Ansible imports. Two nodes that differ in any of these stop hearing each
other's adverts (or drop them in the VRRP guard), both become MASTER: a split brain. Such
a change must reach every node of the pair in one step (``site.yml``: all nodes at once,
the guard first); a rolling operation (``upgrade.yml``, one node at a time) must refuse it.

Each node keeps the contract it was last configured with (``PATH``, root-only: the
password is in it as a salted digest, beside keepalived.conf, which holds it in clear).
"""

from __future__ import annotations

import hashlib
import json
import typing as t

PATH = "/etc/keepalived/halb-pair-contract.json"
VERSION = 1
#: What each instance must share across the pair's nodes.
INSTANCE_KEYS = ("vrid", "version", "advert_int", "family", "unicast")


def _digest(auth_pass: t.Any, group: str) -> str | None:
    if auth_pass in (None, ""):
        return None
    return hashlib.sha256(f"halb.pair:{group}:{auth_pass}".encode()).hexdigest()[:16]


def contract(pair: t.Mapping[str, t.Any], auth_pass: t.Any = None) -> dict[str, t.Any]:
    """The contract of a pair model (``halb.pair.pair_model``)."""
    instances = {}
    for inst in pair["instances"]:
        entry = {k: inst.get(k) for k in INSTANCE_KEYS}
        entry["vips"] = sorted(v["cidr"] for v in inst["vips"])
        entry["nodes"] = sorted(n["host"] for n in inst["nodes"])
        instances[str(inst["name"])] = entry
    return {
        "version": VERSION,
        "group": pair.get("group"),
        "auth": _digest(auth_pass, str(pair.get("group"))),
        "addresses": {str(h): n.get("address") for h, n in sorted(pair["nodes"].items())},
        "instances": instances,
    }


def parse(text: str | None) -> dict[str, t.Any] | None:
    """A node's contract file, or None when there is none (a node deployed before
    contracts existed, or never) or it cannot be read as one."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def changes(wanted: t.Mapping[str, t.Any], running: t.Mapping[str, t.Any] | None) -> list[str]:
    """What differs between the contract asked for and the one a node runs, in words;
    empty when they agree or the node has no contract to compare."""
    if running is None:
        return []
    out: list[str] = []
    if wanted.get("auth") != running.get("auth"):
        out.append("the VRRP password (keepalived_auth_pass)")
    old_addr, new_addr = running.get("addresses") or {}, wanted.get("addresses") or {}
    for host in sorted(set(old_addr) | set(new_addr)):
        if host not in new_addr:
            out.append(f"node {host} left the pair")
        elif host not in old_addr:
            out.append(f"node {host} joined the pair")
        elif old_addr[host] != new_addr[host]:
            out.append(f"the VRRP address of {host}: {old_addr[host]} -> {new_addr[host]}")
    old_inst, new_inst = running.get("instances") or {}, wanted.get("instances") or {}
    for name in sorted(set(old_inst) | set(new_inst)):
        if name not in new_inst:
            out.append(f"instance {name} removed")
        elif name not in old_inst:
            out.append(f"instance {name} added")
        else:
            for key in (*INSTANCE_KEYS, "vips", "nodes"):
                a, b = old_inst[name].get(key), new_inst[name].get(key)
                if a != b:
                    out.append(f"{name} {key}: {a} -> {b}")
    return out
