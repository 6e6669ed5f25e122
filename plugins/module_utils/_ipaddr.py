# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``ip -j addr`` and match VIPs against it.

Private and pure: no AnsibleModule, no I/O. ``ip -j addr`` is the ground truth of
which addresses a node holds right now; everything else (keepalived's own view)
is an opinion about it.
"""

from __future__ import annotations

import ipaddress
import json
import typing as t


class IpAddrParseError(ValueError):
    """``ip -j addr`` printed something that is not the JSON it is documented to print."""


class Address(t.TypedDict):
    address: str
    prefix: int
    cidr: str
    family: str
    dev: str
    label: str | None
    scope: str | None


def normalise_address(value: str) -> str:
    """Return the bare, canonical address of ``value`` (``"198.51.100.100/24"`` -> ``"198.51.100.100"``).

    Raises ``ValueError`` with the offending text when it is not an IP address.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an IP address as a string, found {value!r}")
    text = value.strip().split("/", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"expected an IP address such as 198.51.100.100 or 198.51.100.100/24, found {value!r}") from None


def parse_ip_addr_json(text: str) -> list[Address]:
    """Flatten the output of ``ip -j addr`` into one entry per address.

    Interfaces without ``addr_info`` (down, or no address) contribute nothing.
    Entries ``ip`` prints empty (``{}``, seen for interfaces in other namespaces)
    are skipped. Anything that is not a JSON list of objects raises ``IpAddrParseError``.
    """
    if not text or not text.strip():
        raise IpAddrParseError("expected the JSON list printed by `ip -j addr`, found empty output")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IpAddrParseError(f"expected the JSON list printed by `ip -j addr`, found invalid JSON ({exc})") from None
    if not isinstance(data, list):
        raise IpAddrParseError(f"expected a JSON list from `ip -j addr`, found a {type(data).__name__}")
    result: list[Address] = []
    for link in data:
        if not isinstance(link, dict):
            raise IpAddrParseError(f"expected one JSON object per interface from `ip -j addr`, found {link!r}")
        if not link:
            continue
        dev = link.get("ifname")
        infos = link.get("addr_info") or []
        if not isinstance(dev, str) or not isinstance(infos, list):
            raise IpAddrParseError(f"expected `ifname` and an `addr_info` list per interface, found {link!r}")
        for info in infos:
            if not isinstance(info, dict) or "local" not in info or "prefixlen" not in info:
                raise IpAddrParseError(f"expected `local` and `prefixlen` in every addr_info of {dev}, found {info!r}")
            address = normalise_address(str(info["local"]))
            prefix = int(info["prefixlen"])
            result.append(
                Address(
                    address=address,
                    prefix=prefix,
                    cidr=f"{address}/{prefix}",
                    family=str(info.get("family", "inet6" if ":" in address else "inet")),
                    dev=dev,
                    label=info.get("label"),
                    scope=info.get("scope"),
                )
            )
    return result


def held_addresses(addresses: list[Address], wanted: t.Iterable[str]) -> dict[str, Address | None]:
    """For each wanted VIP (any spelling ``normalise_address`` accepts), the address entry holding it or None.

    Keys are the normalised addresses, in the order given, without duplicates.
    """
    by_address = {a["address"]: a for a in addresses}
    result: dict[str, Address | None] = {}
    for vip in wanted:
        key = normalise_address(vip)
        result.setdefault(key, by_address.get(key))
    return result


def global_addresses(addresses: list[Address]) -> dict[str, list[str]]:
    """Interface name -> CIDRs of scope global (loopback and link-local left out)."""
    result: dict[str, list[str]] = {}
    for a in addresses:
        if a["scope"] not in (None, "global"):
            continue
        result.setdefault(a["dev"], []).append(a["cidr"])
    return result
