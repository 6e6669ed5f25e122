# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a filter turns some of the keepalived role's variables into a plan.

``keepalived_tracking``, ``keepalived_notify_hooks`` and ``keepalived_directives`` each take a
mapping of variable names to values: typed as the preflight types them, their own variables'
type problems first, then the plan's own rules. Any problem is an AnsibleFilterError that
names the filter.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils._defaults import DefaultsError
from ansible_collections.halb.pair.plugins.plugin_utils._topology import TopologyError, typed
from ansible_collections.halb.pair.plugins.plugin_utils._types import check_role_vars

Plan = t.Callable[[t.Mapping[str, t.Any]], tuple[t.Any, list[str]]]


def plan_role_vars(name: str, values: t.Any, variables: str | tuple[str, ...], plan: Plan) -> t.Any:
    """``plan(typed values)`` after the type check of the variables whose names start with
    ``variables``; raises AnsibleFilterError (``name: problems``) on any problem."""
    if not isinstance(values, t.Mapping):
        raise AnsibleFilterError(f"{name}: expected a mapping of variable names to values, found {type(values).__name__}")
    try:
        converted = typed(dict(values))
        problems = [p for p in check_role_vars("keepalived", "", converted) if p.startswith(variables)]
        if problems:
            raise AnsibleFilterError(f"{name}: " + "; ".join(problems))
        planned, errors = plan(converted)
    except (TopologyError, DefaultsError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from exc
    if errors:
        raise AnsibleFilterError(f"{name}: " + "; ".join(errors))
    return planned
