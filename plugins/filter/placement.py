# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over VIP placement: thin wrappers around module_utils/_placement.py.

- ``instances | halb.pair.vip_placement(reports)``: one entry per VIP with holders,
  preferred holder and verdict (ok, misplaced, unknown, orphan, split_brain).
  ``reports`` maps inventory hostname -> ``halb.pair.vip_info`` result; hosts that
  did not answer are left out (or carry ``failed``/``unreachable``).
- ``placements | halb.pair.vip_placement_table(reports)``: the lines of a table a
  person reads at a glance.
- ``placements | halb.pair.vip_placement_failing(fail_on)``: the entries whose
  verdict is in ``fail_on`` (default split_brain, orphan).
- ``placements | halb.pair.vip_placement_summary``: one sentence per VIP not ok.
- ``instances | halb.pair.vip_drain_blockers(reports, node)``: why draining ``node``
  would leave a VIP without a healthy holder (empty list: safe to drain).

Documented in the sidecar files ``plugins/filter/NAME.yml`` (``ansible-doc -t filter``).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.module_utils import _placement


def _wrap(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except (_placement.PlacementError, ValueError) as exc:
            raise AnsibleFilterError(f"{func.__name__}: {exc}") from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def vip_placement(instances: t.Sequence[t.Mapping[str, t.Any]], reports: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    return [dict(p) for p in _placement.judge(list(instances), dict(reports or {}))]


def vip_placement_table(placements: t.Sequence[t.Any], reports: t.Mapping[str, t.Any] | None = None) -> list[str]:
    return _placement.render(list(placements), dict(reports) if reports else None)


def vip_placement_failing(placements: t.Sequence[t.Any], fail_on: t.Iterable[str] = _placement.FAILING) -> list[dict[str, t.Any]]:
    return [dict(p) for p in _placement.failing(list(placements), list(fail_on))]


def vip_placement_summary(placements: t.Sequence[t.Any]) -> str:
    return _placement.summary(list(placements))


def vip_drain_blockers(instances: t.Sequence[t.Mapping[str, t.Any]], reports: t.Mapping[str, t.Any], node: str) -> list[str]:
    return _placement.drain_blockers(list(instances), dict(reports or {}), node)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "vip_placement": _wrap(vip_placement),
            "vip_placement_table": _wrap(vip_placement_table),
            "vip_placement_failing": _wrap(vip_placement_failing),
            "vip_placement_summary": _wrap(vip_placement_summary),
            "vip_drain_blockers": _wrap(vip_drain_blockers),
        }
