# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's notify hooks of a node: the configuration of their runner, and its rules.

``keepalived_notify_hooks`` (typed in ``_types``: absolute paths, or ``{path}`` mappings) is
run by ``halb-pair-notify.service`` (``roles/keepalived/files/libexec/notify-hooks``), the one
reader of keepalived's ``vrrp_notify_fifo``: keepalived writes a line per transition into it
from its VRRP process, in order, where its ``notify`` scripts are forked one per transition
and not waited for (two transitions in quick succession can reach them in either order).

:func:`plan` is what both callers use: the preflight (``_preflight.check``, on the
controller, before any host changes) reports its problems, the filter
``halb.pair.keepalived_notify_hooks`` gives the role the runner's configuration.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import typing as t

VAR = "keepalived_notify_hooks"
#: keepalived's vrrp_notify_fifo: on the node's disk, so that it is there before keepalived
#: starts (the runner makes it first): keepalived never makes, and so never removes, its own.
FIFO = "/var/lib/halb-pair-notify/events"
#: Seconds a hook may run before it is killed (the next hooks and transitions wait for it).
TIMEOUT = 30


def plan(values: t.Mapping[str, t.Any], host: str | None = None) -> tuple[dict[str, t.Any], list[str]]:
    """The runner's configuration (``fifo``, ``hooks`` - paths in order, ``timeout``) and every
    rule the node's hooks break. ``values``: the node's typed variables (``_topology.typed``; a
    value of the wrong type is the type check's to report and is skipped here)."""
    errors: list[str] = []
    on = f" on {host}" if host else ""
    hooks: list[str] = []
    raw = values.get(VAR)
    for i, item in enumerate(raw if isinstance(raw, list | tuple) else []):
        path = item.get("path") if isinstance(item, t.Mapping) else item
        if not isinstance(path, str):
            continue
        if path.endswith("/"):
            errors.append(f"{VAR}[{i}]{on}: found {path!r}, a directory; allowed: the absolute path of a script")
        elif path in hooks:
            errors.append(f"{VAR}[{i}]{on}: {path} is listed twice; each hook runs once per transition: list it once")
        else:
            hooks.append(path)
    if hooks and values.get("keepalived_manage_service") is False:
        errors.append(f"{VAR}{on}: found {len(hooks)} hook(s) with keepalived_manage_service false; the hooks are run by "
                      "halb-pair-notify.service, a unit of the role: set keepalived_manage_service true, or leave the hooks unset")
    return {"fifo": FIFO, "hooks": hooks, "timeout": TIMEOUT}, errors
