# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's keepalived directives the role does not model, as keepalived.conf renders them: a thin
wrapper around plugin_utils/_directives.py (the keepalived role's preflight runs the same plan and
refuses its problems)."""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.plugin_utils import _directives
from ansible_collections.halb.pair.plugins.plugin_utils._role_plan import plan_role_vars

DOCUMENTATION = """
  name: keepalived_directives
  short_description: A node's keepalived directives the role does not model, checked for keepalived.conf
  version_added: 0.2.0
  author: halb.pair developers
  description:
    - C(keepalived_global_defs_directives) and C(keepalived_instance_directives) of one node, typed and checked as the
      keepalived role's preflight does - a keyword, a value on one line without braces, C(#), C(!), quotes, a backslash
      or C($), no keyword the role sets itself or that breaks the pair, none twice.
    - Fails with the preflight's messages on a value the keepalived role's preflight refuses.
  options:
    _input:
      description: The node's variables - C(keepalived_global_defs_directives) and C(keepalived_instance_directives).
      type: dict
      required: true
"""

EXAMPLES = """
- name: Show the lines added to global_defs and to every vrrp_instance of this node
  ansible.builtin.debug:
    msg: >-
      {{ {'keepalived_global_defs_directives': keepalived_global_defs_directives,
          'keepalived_instance_directives': keepalived_instance_directives} | halb.pair.keepalived_directives }}
"""

RETURN = """
  _value:
    description:
      - C(global_defs) and C(instance), each a list of C({name, value}) in order, the value as text (empty - the keyword
        alone); rendered as C(name value) lines.
    type: dict
"""


def keepalived_directives(values: t.Mapping[str, t.Any]) -> dict[str, list[dict[str, str]]]:
    return plan_role_vars("keepalived_directives", values, (_directives.GLOBAL, _directives.INSTANCE), _directives.plan)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"keepalived_directives": keepalived_directives}
