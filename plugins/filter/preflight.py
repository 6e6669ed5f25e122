# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' preflight checks as filters: thin wrappers around plugin_utils.

- ``values | halb.pair.nginx_preflight(host)``: the nginx role's variables of one
  host checked against its argument spec, then against the rules across them.
- ``values | halb.pair.keepalived_host_preflight(host)``: the keepalived role's
  variables of one host checked against its argument spec.
- ``keepalived_pairs_preflight(play_hosts, hostvars, groups)`` (not a filter: the first
  half of ``halb.pair.pair_preflight``): the rules across each pair's nodes, every pair
  of the play on its own.

Documented in the sidecar files ``plugins/filter/NAME.yml`` (``ansible-doc -t filter``).
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import yaml
from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display
from ansible_collections.halb.pair.plugins.filter.pair import host_values
from ansible_collections.halb.pair.plugins.plugin_utils import _lvs, _nginx_preflight, _preflight

ROLES = Path(__file__).resolve().parents[2] / "roles"
_display = Display()


@functools.cache
def role_options(role: str) -> dict[str, t.Any]:
    """The options of a role's ``main`` entry point, from its meta/argument_specs.yml."""
    path = ROLES / role / "meta" / "argument_specs.yml"
    try:
        return yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise AnsibleFilterError(f"expected the argument spec of role {role} in {path}, found {exc}") from exc


def _values(values: t.Any, what: str) -> dict[str, t.Any]:
    if not isinstance(values, t.Mapping):
        raise AnsibleFilterError(f"{what}: expected a mapping of variable names to values, found {type(values).__name__}")
    return dict(values)


def nginx_preflight(values: t.Mapping[str, t.Any], host: str) -> list[str]:
    return _nginx_preflight.check(str(host), _values(values, "nginx_preflight"), role_options("nginx"))


def keepalived_host_preflight(values: t.Mapping[str, t.Any], host: str) -> list[str]:
    return _preflight.check_host(str(host), _values(values, "keepalived_host_preflight"), role_options("keepalived"))


def keepalived_pairs_preflight(play_hosts: t.Sequence[str], hostvars: t.Any, groups: t.Mapping[str, t.Sequence[str]]) -> list[str]:
    play_hosts = list(play_hosts)
    members = {h for hosts in _preflight.pairs(play_hosts, host_values(hostvars, play_hosts), groups).values() for h in hosts}
    plain = host_values(hostvars, [*play_hosts, *sorted(members - set(play_hosts))])
    # the hosts of the LVS real-server groups the pairs name: their address and gateway variables
    real = {h for g in _lvs.groups_named(plain.values()) for h in groups.get(g) or [] if h in hostvars and h not in plain}
    plain.update(host_values(hostvars, sorted(real)))
    options = role_options("keepalived")
    notes: list[str] = []
    errors = _preflight.check_pairs(play_hosts, {h: _preflight.converted(h, v, options) for h, v in plain.items()}, groups, notes)
    # allowed, but likely not meant (a tracked weight that cannot move a VIP on its own): said, not refused
    for note in notes:
        _display.warning(f"keepalived preflight: {note}")
    return errors


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "nginx_preflight": nginx_preflight,
            "keepalived_host_preflight": keepalived_host_preflight,
        }
