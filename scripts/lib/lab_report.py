"""Summarise where the lab's VIPs live and who answers through them (stdlib only).

Input on stdin: JSON {"vips": [...], "addrs": {node: <ip -j addr output>},
"answers": {vip: {"status": int|None, "node": str|None, "backend": str|None, "error": str}}}.
"""

from __future__ import annotations

import ipaddress
import json
import sys


def vip_holders(vips: list[str], addrs: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Map each VIP (address without prefix) to the nodes that list it in `ip -j addr`."""
    holders: dict[str, list[str]] = {str(ipaddress.ip_interface(v).ip): [] for v in vips}
    for node, links in sorted(addrs.items()):
        for link in links or []:
            for a in link.get("addr_info", []):
                if a.get("local") in holders:
                    holders[a["local"]].append(node)
    return holders


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


if __name__ == "__main__":
    print(render(json.load(sys.stdin)))
