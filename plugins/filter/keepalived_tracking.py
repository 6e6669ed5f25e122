# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's own tracks as keepalived.conf renders them: a thin wrapper around
plugin_utils/_tracking.py (the keepalived role's preflight runs the same plan and refuses its problems)."""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.plugin_utils import _tracking
from ansible_collections.halb.pair.plugins.plugin_utils._role_plan import plan_role_vars

DOCUMENTATION = """
  name: keepalived_tracking
  short_description: A node's own tracked interfaces, scripts, processes and files, planned for keepalived.conf
  version_added: 0.2.0
  author: halb.pair developers
  description:
    - C(keepalived_track_interfaces), C(keepalived_track_scripts), C(keepalived_track_processes) and
      C(keepalived_track_files) of one node, typed and converted as the keepalived role's preflight does, with the
      defaults of the role's argument spec applied.
    - Fails with the preflight's messages on a value the keepalived role's preflight refuses.
  options:
    _input:
      description:
        - The node's variables - the four tracking variables, C(keepalived_interface) (not trackable here) and the
          role's own tracked files C(keepalived_drain_file), C(keepalived_handover_file), C(keepalived_nginx_fault_file).
      type: dict
      required: true
"""

EXAMPLES = """
- name: Show what every VRRP instance of this node tracks besides nginx
  ansible.builtin.debug:
    msg: >-
      {{ {'keepalived_track_interfaces': keepalived_track_interfaces, 'keepalived_track_scripts': keepalived_track_scripts,
          'keepalived_track_processes': keepalived_track_processes, 'keepalived_track_files': keepalived_track_files,
          'keepalived_interface': keepalived_interface} | halb.pair.keepalived_tracking }}
"""

RETURN = """
  _value:
    description:
      - C(interfaces) (each C(name), C(weight)), C(scripts) (C(name), C(script), C(interval), C(timeout), C(fall), C(rise),
        C(weight)), C(processes) (C(name), C(process), C(params), C(param_match), C(quorum), C(weight)) and C(files)
        (C(name), C(file), C(weight), C(init_file)); every key set, defaults applied. A weight of 0 is FAULT.
    type: dict
"""


def keepalived_tracking(values: t.Mapping[str, t.Any]) -> dict[str, list[dict[str, t.Any]]]:
    return plan_role_vars("keepalived_tracking", values, _tracking.VARS, _tracking.plan)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"keepalived_tracking": keepalived_tracking}
