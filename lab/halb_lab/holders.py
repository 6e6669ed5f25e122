# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds each VIP, from ``ip -j addr`` on the nodes: the lab's one reader of it.

It parses with the collection's own parser (``module_utils/_ipaddr``, what ``vip_info`` and
the watcher's tests read), so the lab judges holders exactly as the product does. Used by
the lab's report, the README's commands, the operations under watchers, the failover
benchmark, Molecule's verify, and ``lab/bin/bench``:

    python -m halb_lab.holders VIP CONTAINER...   the containers holding VIP, one a line

(The probe, ``halb_lab/node/halb_probe.py``, runs inside the nodes with the node's own
Python and polls its own addresses every 20 ms: it keeps a stdlib reading of its own.)
"""

from __future__ import annotations

import subprocess
import sys
import typing as t

from ansible_collections.halb.pair.plugins.module_utils import _ipaddr

#: the command whose output is read, on every node (all devices: a VIP may sit on a label)
IP_ADDR = ("ip", "-j", "addr")


def addresses(output: str) -> set[str]:
    """The addresses an ``ip -j addr`` output lists; none when it is empty or not that output
    (a node that did not answer holds nothing)."""
    try:
        return {a["address"] for a in _ipaddr.parse_ip_addr_json(output)}
    except (_ipaddr.IpAddrParseError, ValueError):
        return set()


def holders(vips: t.Iterable[str], outputs: t.Mapping[str, str]) -> dict[str, list[str]]:
    """VIP (bare address, any spelling in) -> the nodes whose ``ip -j addr`` output lists it, in name order."""
    held = {node: addresses(out) for node, out in outputs.items()}
    return {v: sorted(n for n, a in held.items() if v in a) for v in dict.fromkeys(_ipaddr.normalise_address(x) for x in vips)}


def engine_exec(engine: str = "podman", timeout: float = 10) -> t.Callable[..., str]:
    """``exec(container, *argv) -> stdout`` through the lab's engine ('' when it fails)."""

    def run(container: str, *argv: str) -> str:
        try:
            proc = subprocess.run([engine, "exec", container, *argv], capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    return run


def read(vips: t.Iterable[str], nodes: t.Mapping[str, str], exec_: t.Callable[..., str] | None = None) -> dict[str, list[str]]:
    """Who holds each VIP now: ``ip -j addr`` on every node (name -> container)."""
    exec_ = exec_ or engine_exec()
    return holders(vips, {name: exec_(container, *IP_ADDR) for name, container in nodes.items()})


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    vip, containers = argv[0], argv[1:]
    for c in read([vip], {c: c for c in containers})[_ipaddr.normalise_address(vip)]:
        print(c)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
