# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's own tracking of a node: interfaces, scripts, processes and files.

``keepalived_track_interfaces``, ``keepalived_track_scripts``, ``keepalived_track_processes``
and ``keepalived_track_files`` (typed field by field in ``_types``) are turned into one plan
per node: the defaults of the role's argument spec applied (the one declaration:
``meta/argument_specs.yml``, suboptions included) and the rules across the items checked -
names unique and not the role's own, not the node's own VRRP interface, no role file.

:func:`plan` is what both callers use: the preflight (``_preflight.check``, on the
controller, before any host changes) reports its problems, the filter
``halb.pair.keepalived_tracking`` gives the template its result. :func:`weak_weights`
says which weighted tracks cannot move a VIP on their own (the preflight warns).

Pure code: no Ansible imports.
"""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.module_utils._vrrp_advert import PRIORITY_MAX, PRIORITY_MIN

from ._defaults import role_options

INTERFACES = "keepalived_track_interfaces"
SCRIPTS = "keepalived_track_scripts"
PROCESSES = "keepalived_track_processes"
FILES = "keepalived_track_files"
VARS = (INTERFACES, SCRIPTS, PROCESSES, FILES)
#: The names of the role's own tracks in keepalived.conf; ``halb_`` is the role's prefix.
ROLE_NAMES = ("chk_nginx", "halb_drain", "halb_handover", "halb_nginx_down")
ROLE_PREFIX = "halb_"
#: The role's own tracked files (their variables): an operator's track may not be one of them.
ROLE_FILES = ("keepalived_drain_file", "keepalived_handover_file", "keepalived_nginx_fault_file")
#: /proc/PID/comm holds at most 15 bytes (TASK_COMM_LEN - 1): a longer name never matches.
COMM_MAX = 15


class TrackingError(ValueError):
    """The node's tracking cannot be planned; one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _defaults(var: str) -> dict[str, t.Any]:
    return {k: o.get("default") for k, o in role_options("keepalived")[var]["options"].items()}


def _given(item: t.Mapping[str, t.Any], defaults: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {**defaults, **{k: v for k, v in dict(item).items() if v is not None}}


def _on(host: str | None) -> str:
    return f" on {host}" if host else ""


def plan(values: t.Mapping[str, t.Any], host: str | None = None) -> tuple[dict[str, list[dict[str, t.Any]]], list[str]]:
    """One node's tracks as keepalived.conf renders them, and every rule they break.

    ``values``: the node's typed variables (``_topology.typed``; a value of the wrong type
    is the type check's to report and is skipped here): the four tracking variables, and
    ``keepalived_interface`` and the role's own tracked files, which a track may not be.
    """
    errors: list[str] = []
    out: dict[str, list[dict[str, t.Any]]] = {"interfaces": [], "scripts": [], "processes": [], "files": []}
    own = values.get("keepalived_interface")
    seen_if: set[str] = set()
    for i, raw in enumerate(_items(values, INTERFACES)):
        item = {"name": raw, "weight": 0} if isinstance(raw, str) else {"weight": 0, **{k: v for k, v in dict(raw).items() if v is not None}}
        name = item.get("name")
        if not isinstance(name, str) or not isinstance(item.get("weight"), int):
            continue  # the type check reports it
        where = f"{INTERFACES}[{i}] ({name}){_on(host)}"
        if name == own:
            errors.append(f"{where}: {name} is the node's own VRRP interface (keepalived_interface), which keepalived tracks "
                          "already (FAULT while it is down; keepalived -t refuses it here); track other interfaces")
            continue
        if name in seen_if:
            errors.append(f"{where}: {name} is tracked twice; list each interface once")
            continue
        seen_if.add(name)
        out["interfaces"].append({"name": name, "weight": int(item["weight"])})

    names: dict[str, str] = {}
    role_files = {str(values[k]): k for k in ROLE_FILES if isinstance(values.get(k), str)}
    seen_files: dict[str, str] = {}
    for var, key in ((SCRIPTS, "scripts"), (PROCESSES, "processes"), (FILES, "files")):
        defaults = _defaults(var)
        for i, raw in enumerate(_items(values, var)):
            if not isinstance(raw, t.Mapping):
                continue
            item = _given(raw, defaults)
            name = item.get("name")
            if not isinstance(name, str):
                continue
            item_at = f"{var}[{i}] ({name})"
            where = f"{item_at}{_on(host)}"
            if name in ROLE_NAMES or name.startswith(ROLE_PREFIX):
                errors.append(f"{where}: the name {name!r} is the role's own ({', '.join(ROLE_NAMES)}, and every name "
                              f"beginning with {ROLE_PREFIX!r}); choose another")
                continue
            if name in names:
                errors.append(f"{where}: the name {name!r} is used by {names[name]} already; the names of the tracked scripts, "
                              "processes and files must be unique")
                continue
            names[name] = f"{var}[{i}]"
            if key == "scripts":
                script = item.get("script")
                if isinstance(script, str) and script.endswith("/"):
                    errors.append(f"{item_at}.script{_on(host)}: found {script!r}, a directory; allowed: the absolute path of the script")
                    continue
                out[key].append({k: item[k] for k in ("name", "script", "interval", "timeout", "fall", "rise", "weight")})
            elif key == "processes":
                process, params, match = item.get("process"), list(item.get("params") or []), item.get("param_match")
                if isinstance(process, str) and not params and match is None and len(process.encode()) > COMM_MAX:
                    errors.append(
                        f"{item_at}.process{_on(host)}: found {process!r} ({len(process.encode())} bytes); a process name is matched against "
                        f"/proc/PID/comm, which holds at most {COMM_MAX} bytes, so it would never match: use the name the "
                        "kernel shows (ps -o comm), or match the command with params or param_match"
                    )
                    continue
                out[key].append({"name": name, "process": process, "params": params, "param_match": match,
                                 "quorum": item["quorum"], "weight": item["weight"]})
            else:
                path = item.get("file")
                if not isinstance(path, str):
                    continue
                if path.endswith("/"):
                    errors.append(f"{item_at}.file{_on(host)}: found {path!r}, a directory; allowed: the absolute path of a file")
                    continue
                if path in role_files:
                    errors.append(f"{item_at}.file{_on(host)}: {path} is the role's own tracked file ({role_files[path]}); track another file")
                    continue
                if path in seen_files:
                    errors.append(f"{item_at}.file{_on(host)}: {path} is tracked by {seen_files[path]} already; track each file once")
                    continue
                seen_files[path] = f"{var}[{i}]"
                out[key].append({"name": name, "file": path, "weight": item["weight"], "init_file": item.get("init_file")})
    return out, errors


def _items(values: t.Mapping[str, t.Any], var: str) -> list[t.Any]:
    value = values.get(var)
    return list(value) if isinstance(value, list | tuple) else []


def _clamp(priority: int) -> int:
    return max(PRIORITY_MIN, min(PRIORITY_MAX, priority))


def _weighted(node_plan: t.Mapping[str, t.Any]) -> list[tuple[str, int]]:
    """(label, weight) of the node's tracks whose weight moves its priority: interfaces, scripts
    and processes with a weight other than 0 (files: their number is not known before)."""
    out = []
    for kind, key, label in (("interfaces", "name", "track_interface"), ("scripts", "name", "vrrp_script"),
                             ("processes", "name", "vrrp_track_process")):
        for item in node_plan.get(kind) or []:
            if item["weight"]:
                out.append((f"{label} {item[key]}", int(item["weight"])))
    return out


def weak_weights(instances: t.Sequence[t.Mapping[str, t.Any]], plans: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """The weighted tracks of each instance's preferred master that cannot move the VIP on their own.

    ``instances``: the pair's instances (``_topology.as_dicts``); ``plans``: each node's :func:`plan`.
    A track failing alone on the master moves the VIP only when the master's priority then (its
    base, every positive weight but this one's, this negative weight; clamped to 1..254) is below
    the best backup's with every track healthy (its base and its positive weights). With
    ``nopreempt`` a backup never takes a VIP from a master that is only lower: no weight moves it
    (0, FAULT, does). A weight that only moves it together with others is allowed: this is said,
    not refused.
    """
    out: list[str] = []
    for inst in instances:
        nodes = {n["host"]: n for n in inst["nodes"]}
        master = nodes.get(inst["master"])
        if master is None or len(nodes) < 2:
            continue
        tracks = _weighted(plans.get(master["host"]) or {})
        if not tracks:
            continue
        if not inst.get("preempt", True):
            for label, w in tracks:
                out.append(f"{inst['name']} on {master['host']}: {label} has weight {w}, but with keepalived_nopreempt a backup "
                           "never takes the VIP from a master that is only lower; only weight 0 (FAULT) moves it")
            continue

        healthy = {h: _clamp(n["priority"] + sum(w for _l, w in _weighted(plans.get(h) or {}) if w > 0)) for h, n in nodes.items()}
        best_host = max((h for h in nodes if h != master["host"]), key=lambda h: healthy[h])
        best = healthy[best_host]
        for label, w in tracks:
            rest = sum(x for lbl, x in tracks if x > 0 and lbl != label)
            failing = _clamp(master["priority"] + rest + (w if w < 0 else 0))
            if failing >= best:
                out.append(
                    f"{inst['name']} on {master['host']}: {label} has weight {w}; while it fails alone the master's priority is "
                    f"{failing}, not below {best_host}'s {best}, so it does not move the VIP on its own (|weight| must exceed "
                    f"the difference; 0 puts the instance in FAULT)"
                )
    return out
