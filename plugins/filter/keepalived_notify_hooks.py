# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's notify hooks as their runner reads them: a thin wrapper around plugin_utils/_notify.py
(the keepalived role's preflight runs the same plan and refuses its problems)."""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.plugin_utils import _notify
from ansible_collections.halb.pair.plugins.plugin_utils._role_plan import plan_role_vars

DOCUMENTATION = """
  name: keepalived_notify_hooks
  short_description: The configuration of a node's notify hook runner (halb-pair-notify.service)
  version_added: 0.2.0
  author: halb.pair developers
  description:
    - C(keepalived_notify_hooks) of one node, typed and checked as the keepalived role's preflight does, as the
      configuration of C(roles/keepalived/files/libexec/notify-hooks) - the one reader of keepalived's
      C(vrrp_notify_fifo), which runs every hook, in order, for every VRRP transition, in keepalived's order.
    - Fails with the preflight's messages on a value the keepalived role's preflight refuses.
  options:
    _input:
      description: The node's variables - C(keepalived_notify_hooks) and C(keepalived_manage_service).
      type: dict
      required: true
"""

EXAMPLES = """
- name: Show the runner's configuration
  ansible.builtin.debug:
    msg: >-
      {{ {'keepalived_notify_hooks': keepalived_notify_hooks, 'keepalived_manage_service': keepalived_manage_service}
         | halb.pair.keepalived_notify_hooks }}
"""

RETURN = """
  _value:
    description:
      - C(fifo) (keepalived's C(vrrp_notify_fifo), C(/var/lib/halb-pair-notify/events)), C(hooks) (the paths, in order;
        empty - no runner, no FIFO) and C(timeout) (seconds a hook may run).
    type: dict
"""


def keepalived_notify_hooks(values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return plan_role_vars("keepalived_notify_hooks", values, _notify.VAR, _notify.plan)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"keepalived_notify_hooks": keepalived_notify_hooks}
