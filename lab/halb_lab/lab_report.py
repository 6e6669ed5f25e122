"""The lab as its inventory describes it: nodes, VIPs, and where the VIPs live.

    lab_report.py INVENTORY nodes     one line per host: container hostname ip kind (lb|other)
    lab_report.py INVENTORY vips      every VIP address of every pair, one a line
    lab_report.py INVENTORY wait [S]  until every VIP is on its preferred master alone (S s at most, default 30)
    lab_report.py INVENTORY report    the table: holders, HTTP status and X-HALB-* through each VIP

The inventory is read with ``ansible-inventory --list`` (the .venv's), the pairs with
the collection's own model (plugin_utils/_pair.py, as the halb.pair.pairs filter):
no host names, VIPs or interfaces are copied here. ``render`` takes the collected
data as JSON-like dicts: {"vips": [...], "addrs": {node: <ip -j addr output, text>},
"answers": {vip: {"status", "node", "backend", "error"}}}.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time
import typing as t
from pathlib import Path

from ansible_collections.halb.pair.plugins.plugin_utils import _pair

from halb_lab import REPO
from halb_lab import holders as _holders


def vip_holders(vips: list[str], addrs: dict[str, str]) -> dict[str, list[str]]:
    """Map each VIP (address without prefix) to the nodes whose `ip -j addr` output lists it."""
    return _holders.holders([str(ipaddress.ip_interface(v).ip) for v in vips], addrs)


def render(data: dict) -> str:
    holders = vip_holders(data["vips"], data["addrs"])
    lines = [f"{'VIP':<17} {'holder(s)':<14} {'HTTP':<5} {'X-HALB-Node':<12} X-HALB-Backend"]
    for vip, nodes in holders.items():
        ans = data.get("answers", {}).get(vip, {})
        who = ",".join(nodes) or "-"
        if len(nodes) > 1:
            who += " (SPLIT)"
        lines.append(
            f"{vip:<17} {who:<14} {ans.get('status') or '-'!s:<5} {ans.get('node') or '-':<12} {ans.get('backend') or ans.get('error') or '-'}"
        )
    return "\n".join(lines)


# --- the inventory ------------------------------------------------------------


def group_members(listing: t.Mapping[str, t.Any]) -> dict[str, list[str]]:
    """Group -> its hosts, children's hosts included, in inventory order (``groups``)."""
    def hosts_of(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        g = listing.get(name) or {}
        out = list(g.get("hosts") or [])
        for child in g.get("children") or []:
            if child not in seen:
                out += [h for h in hosts_of(child, seen | {name}) if h not in out]
        return out

    groups = {name: hosts_of(name) for name in listing if name != "_meta"}
    groups.setdefault("all", sorted(listing.get("_meta", {}).get("hostvars", {})))
    return groups


def read_inventory(inventory: str) -> tuple[dict[str, list[str]], dict[str, dict[str, t.Any]]]:
    out = subprocess.run([str(Path(sys.executable).with_name("ansible-inventory")), "-i", inventory, "--list"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    listing = json.loads(out)
    return group_members(listing), listing.get("_meta", {}).get("hostvars", {})


def lab_pairs(groups: t.Mapping[str, list[str]], hostvars: t.Mapping[str, t.Any]) -> list[_pair.Pair]:
    """Every pair of the inventory: the hosts of the default group (keepalived_group's
    default, lb) and of every group a host names as its keepalived_group."""
    default = _pair.group_of({})
    hosts = list(groups.get(default, []))
    for h, hv in hostvars.items():
        if hv.get("keepalived_group") and h not in hosts:
            hosts.append(h)
    return _pair.pairs(hosts, hostvars, groups)


def nodes(groups: t.Mapping[str, list[str]], hostvars: t.Mapping[str, t.Any], prefix: str = "halb-lab-") -> list[tuple[str, str, str, str]]:
    """(container, hostname, ip, kind) per host that has a lab_ip, in inventory order."""
    in_pairs = {h for p in lab_pairs(groups, hostvars) for h in p.hosts}
    out = []
    for h in groups.get("all", []):
        hv = hostvars.get(h, {})
        if not hv.get("lab_ip"):
            continue
        container = str(hv.get("ansible_host") or h)
        short = container[len(prefix):] if container.startswith(prefix) else container
        out.append((container, short, str(hv["lab_ip"]), "lb" if h in in_pairs else "other"))
    return out


def _podman(container: str, *argv: str) -> str:
    proc = subprocess.run(["podman", "exec", container, *argv], capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else ""


def collect_addrs(pairs: list[_pair.Pair], hostvars: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Each pair node's `ip -j addr` output (empty when it did not answer)."""
    run = _holders.engine_exec("podman", timeout=60)
    return {h: run(str(hostvars.get(h, {}).get("ansible_host") or h), *_holders.IP_ADDR) for p in pairs for h in p.hosts}


def parse_answers(out: str) -> dict[str, t.Any]:
    """Four responses' headers: the first one's status and LB, every backend seen."""
    status = node = None
    backends: list[str] = []
    for line in out.replace("\r", "").splitlines():
        if line.startswith("HTTP/") and status is None:
            parts = line.split()
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        key, _, value = line.partition(": ")
        if key.lower() == "x-halb-node" and node is None:
            node = value.strip()
        elif key.lower() == "x-halb-backend" and value.strip() not in backends:
            backends.append(value.strip())
    return {"status": status, "node": node, "backend": ",".join(sorted(backends))}


def collect(inventory: str) -> dict[str, t.Any]:
    groups, hostvars = read_inventory(inventory)
    pairs = lab_pairs(groups, hostvars)
    vips = [a for p in pairs for a in p.addresses]
    client = next(iter(groups.get("client") or []), None)
    answers = {}
    for vip in vips:
        if client is None:
            answers[vip] = {"error": "no client host in the inventory"}
            continue
        container = str(hostvars.get(client, {}).get("ansible_host") or client)
        out = _podman(container, "sh", "-c", f"for i in 1 2 3 4; do curl -s -m 2 -o /dev/null -D - http://{vip}/; done")
        answers[vip] = parse_answers(out)
    return {"vips": vips, "addrs": collect_addrs(pairs, hostvars), "answers": answers}


def settled(pairs: list[_pair.Pair], holders: t.Mapping[str, list[str]]) -> bool:
    """Every VIP on its preferred master alone (the pair as the inventory places it)."""
    return all(holders.get(str(ipaddress.ip_interface(v.address).ip)) == [v.master] for p in pairs for v in p.vips)


def wait(inventory: str, seconds: float) -> bool:
    """keepalived has just started: give every VIP time to settle on its preferred master
    alone (a backup that started first holds it until the master preempts)."""
    groups, hostvars = read_inventory(inventory)
    pairs = lab_pairs(groups, hostvars)
    vips = [a for p in pairs for a in p.addresses]
    deadline = time.monotonic() + seconds
    while True:
        holders = vip_holders(vips, collect_addrs(pairs, hostvars))
        if settled(pairs, holders):
            return True
        if time.monotonic() >= deadline:
            print(f"[lab] not settled after {seconds:g} s (every VIP on its preferred master alone): {holders}", file=sys.stderr)
            return False
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("nodes", "vips", "wait", "report"):
        print(__doc__, file=sys.stderr)
        return 2
    inventory, cmd = argv[0], argv[1]
    if cmd == "nodes":
        for row in nodes(*read_inventory(inventory)):
            print(" ".join(row))
    elif cmd == "vips":
        groups, hostvars = read_inventory(inventory)
        print("\n".join(a for p in lab_pairs(groups, hostvars) for a in p.addresses))
    elif cmd == "wait":
        wait(inventory, float(argv[2]) if len(argv) > 2 else 30.0)
    else:
        print(render(collect(inventory)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
