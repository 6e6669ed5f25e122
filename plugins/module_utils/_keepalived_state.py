# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read keepalived's view of its VRRP instances from the three sources a node offers.

Private and pure: parsers take text, return plain data, raise ``KeepalivedStateError``.

- ``json``: ``kill -s $(keepalived --signum=JSON) <pid>`` -> ``/tmp/keepalived.json``
  (an array of ``{"data": {...}, "stats": {...}}``, or ``{"vrrp": [...]}`` with
  ``json_version 2``); current state and effective priority. Not in every build.
- ``data``: ``--signum=DATA`` -> ``/tmp/keepalived.data``, a human-readable dump whose
  format keepalived does not guarantee; parsed leniently.
- ``feed``: ``/var/lib/halb-pair/state/<INSTANCE>``, one line written by the
  halb.pair notify script on every transition:
  ``INSTANCE "VI_1" MASTER 150 1764031200.123``. It tells the last transition,
  so the priority is the one at that moment, and it goes stale when keepalived stops.
"""

from __future__ import annotations

import json
import re
import shlex
import typing as t

from ._ipaddr import normalise_address

SOURCES = ("json", "data", "feed")

# keepalived/include/vrrp.h
JSON_STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "DELETED", 98: "STOP"}
KNOWN_STATES = frozenset(("INIT", "BACKUP", "MASTER", "FAULT", "STOP", "DELETED"))


class KeepalivedStateError(ValueError):
    """A keepalived state source held something other than what it is documented to hold."""


class InstanceState(t.TypedDict):
    name: str
    state: str
    vrid: int | None
    base_priority: int | None
    effective_priority: int | None
    interface: str | None
    vips: list[str]
    last_transition: float | None


def _instance(name: str, state: str, **kwargs: t.Any) -> InstanceState:
    return InstanceState(
        name=name,
        state=state,
        vrid=kwargs.get("vrid"),
        base_priority=kwargs.get("base_priority"),
        effective_priority=kwargs.get("effective_priority"),
        interface=kwargs.get("interface"),
        vips=list(kwargs.get("vips") or []),
        last_transition=kwargs.get("last_transition"),
    )


def parse_version(output: str) -> str | None:
    """``keepalived --version`` (printed on stderr): ``Keepalived v2.2.7 (01/16,2022)`` -> ``"2.2.7"``."""
    match = re.search(r"^Keepalived v(\d+(?:\.\d+)+)", output or "", re.MULTILINE)
    return match.group(1) if match else None


def parse_signum(output: str) -> int | None:
    """``keepalived --signum=JSON`` prints a signal number; builds without JSON print an error or nothing."""
    text = (output or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _vip_address(entry: str) -> str:
    """``"198.51.100.100/24 dev eth0 scope global set"`` -> ``"198.51.100.100"``."""
    first = entry.split()[0] if entry and entry.split() else ""
    try:
        return normalise_address(first)
    except ValueError:
        raise KeepalivedStateError(f"expected a VIP entry starting with an address, found {entry!r}") from None


# The VRRP password in the dumps: ``"auth_data":"..."`` (JSON), ``Password = ...`` (data).
# Removed before anything parses the text, so no error message can quote it.
SECRET_KEYS = frozenset(("auth_data", "auth_pass"))
_JSON_SECRET = re.compile(r'("(?:auth_data|auth_pass)"\s*:\s*)"(?:[^"\\]|\\.)*"?')
_DATA_SECRET = re.compile(r"^\s*(?:Password|Auth(?:entication)?[ _]?(?:data|pass(?:word)?))\s*[=:].*$", re.IGNORECASE | re.MULTILINE)


def _without_secrets(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def scrub_json_dump(text: str) -> str:
    """The JSON dump with every password value replaced by null (the text stays JSON where it was)."""
    return _JSON_SECRET.sub(r"\1null", text or "")


def scrub_data_dump(text: str) -> str:
    """The data dump without its ``Password = ...`` lines."""
    return _DATA_SECRET.sub("", text or "")


def _int_or_none(value: t.Any) -> int | None:
    return None if value is None else int(value)


def parse_json_dump(text: str) -> list[InstanceState]:
    """Parse ``/tmp/keepalived.json`` (both the v1 array and the v2 ``{"vrrp": [...]}`` shapes).

    The password (``auth_data``) is removed first, from the text and from what it parses to.
    """
    text = scrub_json_dump(text)
    if not text or not text.strip():
        raise KeepalivedStateError("expected keepalived's JSON dump, found an empty file")
    try:
        data = _without_secrets(json.loads(text))
    except ValueError as exc:
        raise KeepalivedStateError(f"expected keepalived's JSON dump, found invalid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("vrrp"), list):
        data = data["vrrp"]
    if not isinstance(data, list):
        raise KeepalivedStateError(f"expected a JSON list of VRRP instances, found a {type(data).__name__}")
    result: list[InstanceState] = []
    for item in data:
        inner = item.get("data") if isinstance(item, dict) else None
        if not isinstance(inner, dict) or "iname" not in inner or "state" not in inner:
            raise KeepalivedStateError(f"expected {{'data': {{'iname': ..., 'state': ...}}}} per instance, found {item!r}")
        raw_state = inner["state"]
        try:
            state = JSON_STATES.get(int(raw_state), f"UNKNOWN({raw_state})")
            result.append(
                _instance(
                    str(inner["iname"]),
                    state,
                    vrid=_int_or_none(inner.get("vrid")),
                    base_priority=_int_or_none(inner.get("base_priority")),
                    effective_priority=_int_or_none(inner.get("effective_priority")),
                    interface=inner.get("ifp_ifname"),
                    vips=[_vip_address(v) for v in inner.get("vips") or []],
                    last_transition=None if inner.get("last_transition") is None else float(inner["last_transition"]),
                )
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, KeepalivedStateError):
                raise
            raise KeepalivedStateError(
                f"expected numbers for state/vrid/priorities of {inner.get('iname')!r}, found {exc}"
            ) from None
    return result


_DATA_FIELDS = {
    "State": ("state", str),
    "Virtual Router ID": ("vrid", int),
    "Priority": ("base_priority", int),
    "Base priority": ("base_priority", int),
    "Effective priority": ("effective_priority", int),
    "Interface": ("interface", str),
}


def parse_data_dump(text: str) -> list[InstanceState]:
    """Parse the ``VRRP Topology`` part of ``/tmp/keepalived.data`` leniently.

    Only the lines that matter are read: ``VRRP Instance = NAME`` opens an instance,
    ``State``, ``Virtual Router ID``, ``Priority``, ``Effective priority``, ``Interface``
    fill it, and the indented lines after ``Virtual IP (n):`` are its VIPs.
    The ``Password = ...`` lines are removed first.
    """
    text = scrub_data_dump(text)
    if not text or not text.strip():
        raise KeepalivedStateError("expected keepalived's data dump, found an empty file")
    result: list[dict[str, t.Any]] = []
    current: dict[str, t.Any] | None = None
    in_vips = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("------<"):
            # A new section: only "VRRP Topology" holds instances.
            current, in_vips = None, False
            continue
        match = re.match(r"^VRRP Instance = (\S+)$", stripped)
        if match:
            current = {"name": match.group(1), "vips": []}
            result.append(current)
            in_vips = False
            continue
        if current is None:
            continue
        if re.match(r"^Virtual IP(?: addresses)? \(\d+\):?$", stripped) or stripped == "Virtual IP :":
            in_vips = True
            continue
        if in_vips:
            first = stripped.split()[0]
            try:
                current["vips"].append(normalise_address(first))
                continue
            except ValueError:
                in_vips = False
        key, sep, value = stripped.partition(" = ")
        if sep and key in _DATA_FIELDS and _DATA_FIELDS[key][0] not in current:
            field, kind = _DATA_FIELDS[key]
            value = value.strip()
            if kind is int:
                number = re.match(r"^-?\d+", value)
                if not number:
                    raise KeepalivedStateError(f"expected a number for {key!r} of {current['name']}, found {value!r}")
                current[field] = int(number.group(0))
            else:
                current[field] = value.split()[0] if value else None
    if not result:
        raise KeepalivedStateError("expected at least one `VRRP Instance = NAME` in keepalived's data dump, found none")
    instances = []
    for raw in result:
        state = raw.get("state")
        if not state:
            raise KeepalivedStateError(f"expected a `State = ...` line for instance {raw['name']}, found none")
        name = raw.pop("name")
        raw.pop("state")
        instances.append(_instance(name, state, **raw))
    return instances


def parse_feed_line(text: str, expected_name: str | None = None) -> InstanceState:
    """Parse one state-feed line: ``INSTANCE "VI_1" MASTER 150 1764031200.123``.

    The last line of the file wins (the notify script may append). ``expected_name``
    is the file's name; a mismatch with the line's instance name is an error.
    """
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise KeepalivedStateError(
            "expected a line like 'INSTANCE \"VI_1\" MASTER 150 1764031200.123' in the state feed"
            f" of {expected_name or '?'}, found an empty file"
        )
    line = lines[-1]
    try:
        parts = shlex.split(line)
    except ValueError:
        parts = []
    if len(parts) not in (4, 5) or parts[0] not in ("INSTANCE", "GROUP"):
        raise KeepalivedStateError(f"expected 'INSTANCE \"NAME\" STATE PRIORITY EPOCH' in the state feed, found {line!r}")
    kind, name, state, priority = parts[:4]
    if kind != "INSTANCE":
        raise KeepalivedStateError(f"expected an INSTANCE line in the state feed, found a {kind} line: {line!r}")
    if expected_name is not None and name != expected_name:
        raise KeepalivedStateError(f"expected the state feed file {expected_name} to describe {expected_name}, found {name!r}")
    if state not in KNOWN_STATES:
        raise KeepalivedStateError(f"expected a state among {sorted(KNOWN_STATES)} in the state feed, found {state!r}")
    try:
        prio = int(priority)
        when = float(parts[4]) if len(parts) == 5 else None
    except ValueError:
        raise KeepalivedStateError(f"expected a numeric priority and epoch in the state feed, found {line!r}") from None
    return _instance(name, state, effective_priority=prio, last_transition=when)


def parse_feed(files: dict[str, str]) -> list[InstanceState]:
    """Parse every state-feed file (name -> content), sorted by instance name."""
    if not files:
        raise KeepalivedStateError("expected at least one state feed file, found none")
    return [parse_feed_line(files[name], name) for name in sorted(files)]


def source_order(requested: str, running: bool, json_supported: bool, feed_available: bool) -> list[str]:
    """The sources to try, best first, for ``source`` = ``auto`` or one named source.

    ``auto``: the JSON dump when keepalived runs and has JSON, else the state feed,
    then the data dump. The dumps need a running keepalived; a named source is
    tried even when it cannot work, so that its failure is reported.
    """
    if requested != "auto":
        if requested not in SOURCES:
            raise ValueError(f"expected source to be one of auto, {', '.join(SOURCES)}, found {requested!r}")
        return [requested]
    order: list[str] = []
    if running and json_supported:
        order.append("json")
    if feed_available:
        order.append("feed")
    if running:
        order.append("data")
    return order
