# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVS (IPVS) virtual servers of a pair: the plan keepalived.conf renders, and its rules.

``keepalived_virtual_servers`` (typed field by field in ``_types``) is turned into one
plan per virtual server: the defaults of the role's argument spec applied (the one
declaration: ``meta/argument_specs.yml``, suboptions included), the real servers of a
``real_servers_group`` resolved from the inventory, and every rule across the fields
checked - the address is a VIP of the pair, DR keeps the port and the segment, NAT real
servers route back through a VIP, MISC_CHECK names its script.

:func:`plan` is what both callers use: the preflight (``_preflight.check``, once per
pair, on the controller, before any host changes) reports its problems, the filter
``halb.pair.lvs_virtual_servers`` gives the template its result.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import ipaddress
import typing as t

from . import _types
from ._defaults import role_options

VAR = "keepalived_virtual_servers"
#: Host variables of a real-server group's hosts.
ADDRESS_VAR = "keepalived_real_server_address"
GATEWAY_VAR = "keepalived_real_server_gateway"

_Net = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007


class LvsError(ValueError):
    """The virtual servers cannot be planned; one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def spec_defaults() -> tuple[dict[str, t.Any], dict[str, t.Any], dict[str, t.Any]]:
    """The argument spec's defaults of a virtual server, of its ``check`` and of a real server."""
    options = role_options("keepalived")[VAR]["options"]

    def of(opts: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return {k: o.get("default") for k, o in opts.items() if "options" not in o}

    return of(options), of(options["check"]["options"]), of(options["real_servers"]["options"])


def _ip(value: t.Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return None


def _name(vs: t.Mapping[str, t.Any], i: int) -> str:
    if vs.get("fwmark") is not None:
        return f"{VAR}[{i}] (fwmark {vs['fwmark']})"
    if vs.get("address") is not None:
        addr = str(vs["address"])
        shown = f"[{addr}]" if ":" in addr else addr
        return f"{VAR}[{i}] ({shown}:{vs.get('port')})" if vs.get("port") is not None else f"{VAR}[{i}] ({addr})"
    return f"{VAR}[{i}]"


def vip_networks(instances: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, _Net]:
    """VIP address -> its network (the VIP's own prefix), of every instance of the pair."""
    out: dict[str, _Net] = {}
    for inst in instances:
        for v in inst.get("vips") or []:
            out.setdefault(str(v["address"]), ipaddress.ip_interface(str(v["cidr"])).network)
    return out


def _group_servers(
    where: str,
    group: str,
    groups: t.Mapping[str, t.Sequence[str]],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    port: t.Any,
    weight: int,
    errors: list[str],
) -> list[dict[str, t.Any]]:
    members = groups.get(group)
    if not members:
        errors.append(f"{where}.real_servers_group: found {group!r}, which is no group of the inventory (or an empty one); "
                      "allowed: the name of a group whose hosts are the real servers")
        return []
    out = []
    for host in members:
        hv = hostvars.get(host) or {}
        given = hv.get(ADDRESS_VAR)
        address: str | None = None
        if given not in (None, ""):
            if _types.IP_ADDRESS.accepts(given):
                address = str(ipaddress.ip_address(given))
            else:
                errors.append(f"{ADDRESS_VAR} on {host}: found {given!r}; allowed: an IPv4 or IPv6 address "
                              f"(the address {where} reaches it at)")
                continue
        elif _types.IP_ADDRESS.accepts(hv.get("ansible_host")):
            address = str(ipaddress.ip_address(hv["ansible_host"]))
        else:
            found = hv.get("ansible_host")
            errors.append(
                f"{where}.real_servers_group {group}: the address of real server {host} is unknown (ansible_host is "
                f"{'unset' if found is None else repr(found)}, not an IP address); set {ADDRESS_VAR} for {host}"
            )
            continue
        gateway = hv.get(GATEWAY_VAR)
        out.append({"address": address, "port": port, "weight": weight, "gateway": gateway, "host": str(host),
                    "gateway_var": f"{GATEWAY_VAR} for {host}"})
    return out


def plan(
    virtual_servers: t.Any,
    instances: t.Sequence[t.Mapping[str, t.Any]],
    groups: t.Mapping[str, t.Sequence[str]],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    networks: t.Mapping[str, str | None] | None = None,
) -> tuple[list[dict[str, t.Any]], list[str]]:
    """The virtual servers as keepalived.conf renders them, and every rule they break.

    ``virtual_servers``: the typed ``keepalived_virtual_servers`` (``_types``; a value of
    the wrong type is the type check's to report). ``instances``: the pair's VRRP
    instances (``_topology.as_dicts``, or the pair model's). ``groups``/``hostvars``: the
    inventory's, for ``real_servers_group``. ``networks``: each director -> the IPv4
    network of its VRRP interface from facts (None: unknown); DR real servers must be on it.
    """
    errors: list[str] = []
    if not virtual_servers:
        return [], errors
    top, check_defaults, rs_defaults = spec_defaults()
    vips = vip_networks(instances)
    seg = {h: ipaddress.ip_network(n) for h, n in (networks or {}).items() if n}
    out: list[dict[str, t.Any]] = []
    seen: dict[tuple[t.Any, ...], str] = {}
    for i, raw in enumerate(virtual_servers):
        vs = {**top, **{k: v for k, v in dict(raw).items() if v is not None}}
        where = _name(vs, i)
        address, port, fwmark, kind = vs.get("address"), vs.get("port"), vs.get("fwmark"), vs["lb_kind"]
        net: _Net | None = None
        ip = None
        if fwmark is not None:
            if address is not None:
                errors.append(f"{where}: has both fwmark and address; allowed: fwmark alone, or address with port")
            if port is not None:
                errors.append(f"{where}: a fwmark virtual server has no port (found port {port}); drop port, or use "
                              "address and port instead of fwmark")
            key: tuple[t.Any, ...] = ("fwmark", fwmark)
        elif address is None:
            errors.append(f"{where}: has neither address nor fwmark; allowed: address (a VIP of the pair) with port, or fwmark")
            continue
        else:
            ip = _ip(address)
            if port is None:
                errors.append(f"{where}: address {address} needs a port (1..65535)")
            if ip is not None:
                address = str(ip)
                net = vips.get(address)
                if net is None:
                    errors.append(f"{where}: {address} is not a VIP of the pair; allowed: one of "
                                  f"{', '.join(vips) or '(none: the pair has no VIP)'}")
            key = (address, port, vs["protocol"])
        if key in seen:
            errors.append(f"{where}: the same virtual server as {seen[key]} (" +
                          ("fwmark" if fwmark is not None else "address, port and protocol") + "); each must be unique")
        seen.setdefault(key, where)
        family = ip.version if ip is not None else None
        # keepalived clears (with a warning that fails its config test) the ports of a fwmark DR
        # virtual server's real and sorry servers: there are none to render
        fw_dr = fwmark is not None and kind == "DR"
        if kind == "NAT" and family == 6:
            errors.append(f"{where}: lb_kind NAT with an IPv6 address is not supported by this role (it sets "
                          "net.ipv4.ip_forward only); use DR")
        # real servers, given and from the group
        given = []
        for j, rs in enumerate(vs.get("real_servers") or []):
            rs = {**rs_defaults, **{k: v for k, v in dict(rs).items() if v is not None}}
            given.append({**rs, "host": None, "where": f"{where}.real_servers[{j}]", "gateway_var": f"gateway of {where}.real_servers[{j}]"})
        group = vs.get("real_servers_group")
        rs_port_default = vs.get("real_server_port") if vs.get("real_server_port") is not None else port
        if group is not None:
            for rs in _group_servers(where, str(group), groups, hostvars, rs_port_default, int(rs_defaults["weight"]), errors):
                given.append({**rs, "where": f"{where}: real server {rs['host']} (group {group})"})
        elif vs.get("real_server_port") is not None:
            errors.append(f"{where}: real_server_port applies to the hosts of real_servers_group, which is unset")
        if not given and not (group is not None and groups.get(str(group))):
            errors.append(f"{where}: no real server; set real_servers (a list of {{address, port, weight}}) or real_servers_group")
        real: list[dict[str, t.Any]] = []
        rs_seen: set[tuple[str, t.Any]] = set()
        for rs in given:
            rw = rs["where"]
            rip = _ip(rs["address"])
            if rip is None:
                continue  # the type check reports it
            rport = rs.get("port") if rs.get("port") is not None else port
            if fw_dr:
                if rport is not None:
                    errors.append(f"{rw}: port {rport}; a real server of a fwmark DR virtual server takes no port (DR "
                                  "cannot remap ports, keepalived clears it): drop port (real_server_port for a group)")
                rport = None
            elif rport is None:
                errors.append(f"{rw}: no port; a fwmark NAT virtual server's real servers need their own port "
                              "(port, or real_server_port for a group)")
            if (str(rip), rport) in rs_seen:
                errors.append(f"{rw}: {rip} port {rport} is already a real server of {where}")
            rs_seen.add((str(rip), rport))
            if family is not None and rip.version != family:
                errors.append(f"{rw}: {rip} is IPv{rip.version}, the virtual server IPv{family}; allowed: an IPv{family} address")
                continue
            if kind == "DR":
                if port is not None and rport is not None and rport != port:
                    errors.append(f"{rw}: port {rport} differs from the virtual server's port {port}; DR cannot remap "
                                  f"ports: use port {port} (or unset it), or lb_kind NAT")
                _same_segment(rw, rip, net, vips, seg, errors)
            else:
                gw = rs.get("gateway")
                if gw in (None, ""):
                    errors.append(f"{rw}: lb_kind NAT needs the real server's gateway, a VIP of the pair it routes back "
                                  f"through (one of {', '.join(vips) or 'none'}); set {rs['gateway_var']}")
                elif not _types.IP_ADDRESS.accepts(gw) or str(ipaddress.ip_address(gw)) not in vips:
                    errors.append(f"{rw}: gateway {gw!r} is not a VIP of the pair; NAT replies must route back through "
                                  f"the director holding the VIP: allowed: one of {', '.join(vips) or 'none'}")
            real.append({"address": str(rip), "port": rport, "weight": int(rs.get("weight") or 1), "host": rs.get("host")})
        check = {**check_defaults, **{k: v for k, v in dict(vs.get("check") or {}).items() if v is not None}}
        if check["type"] == "MISC_CHECK" and not (isinstance(check.get("script"), str) and check["script"].startswith("/")):
            errors.append(f"{where}.check.script: found {check.get('script')!r}; MISC_CHECK needs the absolute path of "
                          "the script it runs (exit 0: healthy)")
        if fw_dr and check["type"] in ("HTTP_GET", "TCP_CHECK") and check.get("port") is None:
            errors.append(f"{where}.check.port: unset; the real servers of a fwmark DR virtual server have no port, so "
                          f"{check['type']} needs the port it connects to")
        sorry = vs.get("sorry_server")
        if sorry is not None:
            sorry = dict(sorry)
            sip = _ip(sorry.get("address"))
            if sip is None or (sorry.get("port") is None) != fw_dr:
                allowed = "{address: IP address} (a fwmark DR virtual server's sorry server takes no port)" if fw_dr else \
                    "{address: IP address, port: 1..65535}"
                errors.append(f"{where}.sorry_server: found {sorry!r}; allowed: {allowed}")
            elif family is not None and sip.version != family:
                errors.append(f"{where}.sorry_server: {sip} is IPv{sip.version}, the virtual server IPv{family}")
            else:
                sorry = {"address": str(sip), "port": sorry.get("port")}
                if kind == "DR":
                    if port is not None and sorry["port"] != port:
                        errors.append(f"{where}.sorry_server: port {sorry['port']} differs from the virtual server's "
                                      f"port {port}; DR cannot remap ports: use port {port}")
                    _same_segment(f"{where}.sorry_server", sip, net, vips, seg, errors)
        out.append({
            "address": address if fwmark is None else None,
            "port": port if fwmark is None else None,
            "fwmark": fwmark,
            "protocol": vs["protocol"],
            "lb_algo": vs["lb_algo"],
            "lb_kind": kind,
            "persistence_timeout": vs.get("persistence_timeout"),
            "delay_loop": vs["delay_loop"],
            "inhibit_on_failure": bool(vs["inhibit_on_failure"]),
            "sorry_server": sorry,
            "check": check,
            "real_servers": real,
        })
    return out, errors


def _same_segment(
    where: str,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    net: _Net | None,
    vips: t.Mapping[str, _Net],
    seg: t.Mapping[str, _Net],
    errors: list[str],
) -> None:
    """DR: the director rewrites only the MAC address, so the real server must be on its L2 segment."""
    if net is not None:
        if ip not in net:
            errors.append(f"{where}: {ip} is outside {net}, the network of the VIP; DR real servers must be on the "
                          "directors' segment (or use lb_kind NAT)")
            return
    elif not any(ip in n for n in vips.values() if n.version == ip.version):
        errors.append(f"{where}: {ip} is in none of the networks of the pair's VIPs ({', '.join(map(str, vips.values()))}); "
                      "DR real servers must be on the directors' segment (or use lb_kind NAT)")
        return
    for host, n in seg.items():
        if n.version == ip.version and ip not in n:
            errors.append(f"{where}: {ip} is outside {n}, the network of {host}'s VRRP interface; DR real servers must "
                          "be on the directors' segment (or use lb_kind NAT)")


def groups_named(values: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
    """The real-server groups the hosts' ``keepalived_virtual_servers`` name (``values``: each host's variables)."""
    out: list[str] = []
    for v in values:
        vss = v.get(VAR)
        for vs in vss if isinstance(vss, list) else []:
            group = vs.get("real_servers_group") if isinstance(vs, t.Mapping) else None
            if isinstance(group, str) and group not in out:
                out.append(group)
    return out


def nat(virtual_servers: t.Sequence[t.Mapping[str, t.Any]]) -> bool:
    """A planned virtual server uses NAT (the directors forward: net.ipv4.ip_forward=1)."""
    return any(vs["lb_kind"] == "NAT" for vs in virtual_servers)
