# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the pair model: thin wrappers around plugin_utils/_pair.py.

Documented one by one next to this file (pair_model.yml, pairs.yml, pair_status.yml,
pair_drain.yml, pair_leave.yml, pair_preflight.yml, pair_members.yml, pair_contract.yml): ``ansible-doc -t filter halb.pair.NAME``.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils import _pair, _pair_contract
from ansible_collections.halb.pair.plugins.plugin_utils._defaults import DefaultsError, role_defaults
from ansible_collections.halb.pair.plugins.plugin_utils._topology import TopologyError

#: The fact the keepalived role's preflight records on each host: its role variables as
#: that host's tasks resolve them (inventory, play vars, role parameters, extra vars,
#: role defaults), the values its templates render.
RESOLVED = "__keepalived_values"
#: What the preflight and the model read of a host.
READ_PREFIXES = ("keepalived_", "nginx_lb_health_", "ansible_host", "ansible_facts")


def _given(view: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The recorded values a host was given: a role default left as it is stays out, so
    the model applies it as a default (a profile's timers win over the role's defaults)."""
    defaults = role_defaults()
    return {k: v for k, v in values.items() if k in view or k not in defaults or v != defaults[k]}


class _HostView(t.Mapping[str, t.Any]):
    """One host's variables, templated only when read: the values its own tasks resolved
    (``RESOLVED``) over its host variables, which are templated with ``hostvars`` in reach
    (``"{{ hostvars['mx'].ansible_host }}"`` resolves as in a template)."""

    def __init__(self, hostvars: t.Any, host: str) -> None:
        self._hostvars = hostvars
        self._host = host
        self._hv = hostvars[host]
        self._templar: t.Any = None
        self._raw: t.Any = None
        recorded = self._hv[RESOLVED] if RESOLVED in self._hv else None
        self._resolved = _given(self._hv, recorded) if isinstance(recorded, t.Mapping) else {}

    def _template(self, key: str) -> t.Any:
        raw_get = getattr(self._hostvars, "raw_get", None)
        if raw_get is None:  # a plain mapping (unit tests, scripts)
            return self._hv[key]
        if self._templar is None:
            from ansible.template import Templar

            self._raw = raw_get(self._host)
            variables = {**self._raw, "hostvars": self._hostvars}
            self._templar = Templar(loader=getattr(self._hostvars, "_loader", None), variables=variables)
        return self._templar.template(self._raw[key])

    def __getitem__(self, key: str) -> t.Any:
        if key in self._resolved:
            return self._resolved[key]
        if key == RESOLVED or key not in self._hv:
            raise KeyError(key)
        return self._template(key)

    def __contains__(self, key: object) -> bool:
        return key in self._resolved or (key != RESOLVED and key in self._hv)

    def __iter__(self) -> t.Iterator[str]:
        keys = dict.fromkeys([*self._resolved, *(k for k in list(self._hv.keys()) if k != RESOLVED)])
        return iter(keys)

    def __len__(self) -> int:
        return len(list(iter(self)))


class _HostVars(t.Mapping[str, t.Any]):
    def __init__(self, hostvars: t.Any) -> None:
        self._hostvars = hostvars

    def __getitem__(self, host: str) -> _HostView:
        if host not in self._hostvars:
            raise KeyError(host)
        return _HostView(self._hostvars, host)

    def get(self, key: str, default: t.Any = None) -> t.Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return {} if default is None else default

    def __iter__(self) -> t.Iterator[str]:
        return iter(list(self._hostvars.keys()))

    def __len__(self) -> int:
        return len(list(self._hostvars.keys()))


def host_values(hostvars: t.Any, hosts: t.Iterable[str]) -> dict[str, dict[str, t.Any]]:
    """What the preflight reads of each host: the same view the model reads (``_HostVars``)."""
    hv = _HostVars(hostvars)
    out = {}
    for h in hosts:
        try:
            view = hv[h]
        except KeyError as exc:
            raise AnsibleFilterError(f"host {h!r} is not in the inventory") from exc
        out[h] = {k: view[k] for k in view if k.startswith(READ_PREFIXES)}
    return out


def _addresses(hosts: t.Iterable[str], hv: _HostVars) -> dict[str, str | None]:
    """Each node's VRRP source address (``_pair.address_of``)."""
    return {h: _pair.address_of(hv.get(h)) for h in hosts}


def _fail(name: str, exc: Exception) -> AnsibleFilterError:
    errors = getattr(exc, "errors", None) or [str(exc)]
    return AnsibleFilterError(f"{name}: " + "; ".join(errors))


def _guard(name: str) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
    def deco(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                return func(*args, **kwargs)
            except (TopologyError, DefaultsError, _pair._placement.PlacementError) as exc:
                raise _fail(name, exc) from exc

        wrapper.__name__ = func.__name__
        wrapper.__doc__ = func.__doc__
        return wrapper

    return deco


@_guard("pair_model")
def pair_model(hosts: t.Sequence[str], hostvars: t.Any, group: str | None = None) -> dict[str, t.Any]:
    hv = _HostVars(hostvars)
    hosts = [str(h) for h in hosts]
    return _pair.model(hosts, hv, group, addresses=_addresses(hosts, hv)).as_dict()


@_guard("pairs")
def pairs(play_hosts: t.Sequence[str], hostvars: t.Any, groups: t.Mapping[str, t.Sequence[str]]) -> list[dict[str, t.Any]]:
    hv = _HostVars(hostvars)
    found = _pair.pair_groups([str(h) for h in play_hosts], hv, groups)
    members = [h for hs in found.values() for h in hs]
    return [p.as_dict() for p in _pair.pairs(list(play_hosts), hv, groups, addresses=_addresses(members, hv))]


@_guard("pair_status")
def pair_status(
    pairs: t.Any,
    hostvars: t.Any,
    fail_on: t.Iterable[str] = _pair.FAILING,
    reader: str | None = None,
    leaving: t.Iterable[str] | None = None,
) -> dict[str, t.Any]:
    models = [pairs] if isinstance(pairs, t.Mapping) else list(pairs)
    hv = _HostVars(hostvars)
    reports = [_pair.reports_of(m, hv, reader) for m in models]
    return _pair.status_all(models, reports, list(fail_on), [str(h) for h in leaving or []])


@_guard("pair_drain")
def pair_drain(pair: t.Mapping[str, t.Any], reports: t.Mapping[str, t.Any], node: str, restore: bool = False) -> dict[str, t.Any]:
    return _pair.drain_plan(pair, dict(reports or {}), str(node), bool(restore))


@_guard("pair_leave")
def pair_leave(pair: t.Mapping[str, t.Any], reports: t.Mapping[str, t.Any], node: str, force: bool = False) -> dict[str, t.Any]:
    return _pair.leave_plan(pair, dict(reports or {}), str(node), bool(force))


@_guard("pair_conflicts")
def pair_conflicts(play_hosts: t.Sequence[str], hostvars: t.Any, groups: t.Mapping[str, t.Sequence[str]]) -> list[str]:
    hv = _HostVars(hostvars)
    found = _pair.pair_groups([str(h) for h in play_hosts], hv, groups)
    # Every other pair the inventory names counts too: a --limit does not move a segment.
    for h in groups.get("all", []):
        named = hv.get(h).get("keepalived_group")
        if named and named not in found and h in (groups.get(named) or []):
            found.update(_pair.pair_groups([h], hv, groups))
    models = [_pair.model(members, hv, name) for name, members in found.items()]
    return _pair.conflicts(models)


def pair_preflight(play_hosts: t.Sequence[str], hostvars: t.Any, groups: t.Mapping[str, t.Sequence[str]]) -> list[str]:
    """Every rule broken by the pairs among ``play_hosts``: the keepalived preflight of each
    pair, values typed (``preflight.keepalived_pairs_preflight``), then the VRIDs and VIPs
    two pairs share (``pair_conflicts``); empty list: all fine. The keepalived role's preflight calls this."""
    from ansible_collections.halb.pair.plugins.filter.preflight import keepalived_pairs_preflight

    errors = keepalived_pairs_preflight(play_hosts, hostvars, groups)
    if errors:
        return errors
    try:
        return pair_conflicts(play_hosts, hostvars, groups)
    except AnsibleFilterError as exc:
        return [str(exc)]


def collection_version() -> str:
    """This collection's version: MANIFEST.json of an installed collection, else galaxy.yml
    of a checkout (the one source; the watcher exports it in halb_watch_info)."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    try:
        return str(json.loads((root / "MANIFEST.json").read_text())["collection_info"]["version"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        import yaml

        return str(yaml.safe_load((root / "galaxy.yml").read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@_guard("pair_watch")
def pair_watch(pair: t.Mapping[str, t.Any], host: str, settings: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {**_pair.watch(pair, str(host), dict(settings)), "version": collection_version()}


@_guard("pair_handover")
def pair_handover(pair: t.Mapping[str, t.Any], host: str, handover_file: str, fault_file: str) -> dict[str, t.Any]:
    return _pair.handover(pair, str(host), str(handover_file), str(fault_file))


def pair_members(hosts: t.Sequence[str], hostvars: t.Any, groups: t.Mapping[str, t.Sequence[str]], without_address: bool = False) -> list[str]:
    """Every node of the pairs ``hosts`` belong to (the whole groups, also under --limit);
    with ``without_address``, only those whose VRRP source address is unknown (no facts,
    no keepalived_unicast_src_ip). A broken inventory returns ``hosts``: the preflight
    names its problems."""
    hv = _HostVars(hostvars)
    try:
        found = _pair.pair_groups([str(h) for h in hosts], hv, groups)
        members = list(dict.fromkeys(m for ms in found.values() for m in ms))
        if without_address:
            known = _addresses(members, hv)
            members = [m for m in members if not known.get(m)]
    except (TopologyError, DefaultsError, ValueError, TypeError):
        return [str(h) for h in hosts]
    return members


@_guard("pair_contract")
def pair_contract(pair: t.Mapping[str, t.Any], auth_pass: t.Any = None, running: str | None = None) -> dict[str, t.Any]:
    wanted = _pair_contract.contract(pair, auth_pass)
    return {"path": _pair_contract.PATH, "contract": wanted, "changes": _pair_contract.changes(wanted, _pair_contract.parse(running))}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "pair_model": pair_model,
            "pairs": pairs,
            "pair_status": pair_status,
            "pair_drain": pair_drain,
            "pair_leave": pair_leave,
            "pair_preflight": pair_preflight,
            "pair_handover": pair_handover,
            "pair_watch": pair_watch,
            "pair_members": pair_members,
            "pair_contract": pair_contract,
        }
