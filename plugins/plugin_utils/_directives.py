# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived directives the role does not model: the typed escape hatch.

``keepalived_global_defs_directives`` and ``keepalived_instance_directives`` are lists of
``{name, value}`` (typed in ``_types``: a keyword, and one line of printable ASCII words
without ``{ } # ! " ' \\ $``, or a number), rendered as ``name value`` lines at the end of
``global_defs`` and of every ``vrrp_instance`` of the node. Typing keeps a value on its one
line; the names are checked here: a keyword the role sets itself would contradict it (and
keepalived would take one or the other), and a few would break the pair in ways
``keepalived -t`` accepts. A name twice in one list is refused too: most keywords are single.

:func:`plan` is what both callers use: the preflight (``_preflight.check``, on the
controller, before any host changes) reports its problems, the filter
``halb.pair.keepalived_directives`` gives the template its result.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import typing as t

GLOBAL = "keepalived_global_defs_directives"
INSTANCE = "keepalived_instance_directives"

_OWN = "the role sets it itself"
_FIFO = "the role's notify hooks read keepalived's FIFO (keepalived_notify_hooks)"
_STRICT = ("it adds no_accept, so nginx stops answering on the VIPs, and forbids unicast and authentication "
           "(keepalived's vrrp_strict)")

#: global_defs keywords the role renders, or that would break what it renders -> why.
GLOBAL_REFUSED: dict[str, str] = {
    **dict.fromkeys(
        ("router_id", "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
         "enable_script_security", "script_user", "max_auto_priority", "vrrp_priority", "vrrp_startup_delay",
         "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "lvs_sync_daemon"),
        f"{_OWN} (from its keepalived_* variable)"),
    **dict.fromkeys(("vrrp_notify_fifo", "vrrp_notify_fifo_script", "notify_fifo", "notify_fifo_script"), _FIFO),
    "vrrp_version": "the role renders each instance's version (keepalived_vrrp_version): a global default would change "
                    "the instances it writes for VRRPv2",
    "vrrp_strict": _STRICT,
    "include": "it reads another file, which the preflight and the validator of keepalived.conf never see",
    "net_namespace": "keepalived would run its VRRP in another network namespace than the one the role configures",
}
#: vrrp_instance keywords the role renders, or that would break what it renders -> why.
INSTANCE_REFUSED: dict[str, str] = {
    **dict.fromkeys(
        ("state", "interface", "virtual_router_id", "priority", "version", "advert_int", "authentication", "auth_type",
         "auth_pass", "nopreempt", "preempt", "preempt_delay", "unicast_src_ip", "unicast_peer", "check_unicast_src",
         "virtual_ipaddress", "virtual_ipaddress_excluded", "track_script", "track_file", "track_interface",
         "track_process", "smtp_alert"),
        f"{_OWN} (from the pair model and its keepalived_* variables)"),
    **dict.fromkeys(("notify", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_deleted"),
                    "the role's notify writes the state feed; run your scripts in order with keepalived_notify_hooks"),
    "strict_mode": _STRICT,
    "no_accept": "nginx would stop answering on the VIPs (the node would not accept their packets)",
    "mcast_src_ip": "the VRRP guard and the crash hand-over know the node by its VRRP address "
                    "(keepalived_unicast_src_ip, else its interface's)",
}


def _one(var: str, refused: t.Mapping[str, str], values: t.Mapping[str, t.Any], on: str,
         errors: list[str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    raw = values.get(var)
    for i, item in enumerate(raw if isinstance(raw, list | tuple) else []):
        if not isinstance(item, t.Mapping) or not isinstance(item.get("name"), str):
            continue  # the type check reports it
        name = item["name"]
        value = item.get("value")
        where = f"{var}[{i}] ({name}){on}"
        if name in refused:
            errors.append(f"{where}: {name} is refused here: {refused[name]}")
            continue
        if name in seen:
            errors.append(f"{where}: {name} is given twice (also {var}[{seen[name]}]); give it once")
            continue
        seen[name] = i
        out.append({"name": name, "value": "" if value is None else str(value)})
    return out


def plan(values: t.Mapping[str, t.Any], host: str | None = None) -> tuple[dict[str, list[dict[str, str]]], list[str]]:
    """The node's extra directives as keepalived.conf renders them (``global_defs`` and ``instance``,
    each ``{name, value}`` with the value as text, empty for a flag) and every rule they break.
    ``values``: the node's typed variables; a value of the wrong type is the type check's to report."""
    errors: list[str] = []
    on = f" on {host}" if host else ""
    planned = {"global_defs": _one(GLOBAL, GLOBAL_REFUSED, values, on, errors),
               "instance": _one(INSTANCE, INSTANCE_REFUSED, values, on, errors)}
    return planned, errors
