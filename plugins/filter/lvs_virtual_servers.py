# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pair's LVS virtual servers as keepalived.conf renders them: a thin wrapper around
plugin_utils/_lvs.py (the keepalived role's preflight runs the same plan and refuses its problems)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.filter.pair import _HostVars
from ansible_collections.halb.pair.plugins.plugin_utils import _lvs
from ansible_collections.halb.pair.plugins.plugin_utils._defaults import DefaultsError
from ansible_collections.halb.pair.plugins.plugin_utils._topology import TopologyError, typed

DOCUMENTATION = """
  name: lvs_virtual_servers
  short_description: The LVS virtual servers of a pair, planned for keepalived.conf
  version_added: 0.2.0
  author: halb.pair developers
  description:
    - C(keepalived_virtual_servers) with the defaults of the keepalived role's argument spec applied, converted as the
      role's preflight converts them, and the real servers of each C(real_servers_group) resolved from the inventory
      (C(keepalived_real_server_address), else C(ansible_host)), in the group's order.
    - Fails with the preflight's messages on a virtual server the keepalived role's preflight refuses.
  positional: pair, groups, hostvars
  options:
    _input:
      description: The C(keepalived_virtual_servers) variable.
      type: list
      elements: dict
      required: true
    pair:
      description: The pair model (C(halb.pair.pair_model)); the virtual servers' addresses are its VIPs.
      type: dict
      required: true
    groups:
      description: The C(groups) magic variable.
      type: dict
      required: true
    hostvars:
      description: The C(hostvars) magic variable.
      type: dict
      required: true
"""

EXAMPLES = """
- name: Show what keepalived.conf directs
  ansible.builtin.debug:
    msg: "{{ keepalived_virtual_servers | halb.pair.lvs_virtual_servers(pair, groups, hostvars) }}"
  vars:
    pair: "{{ groups['lb'] | halb.pair.pair_model(hostvars, 'lb') }}"
"""

RETURN = """
  _value:
    description:
      - One entry per virtual server - C(address), C(port) (both null for a fwmark), C(fwmark), C(protocol), C(lb_algo),
        C(lb_kind), C(persistence_timeout), C(delay_loop), C(inhibit_on_failure), C(sorry_server), C(check) (every key,
        defaults applied) and C(real_servers) (each C(address), C(port), C(weight), C(host) - its inventory host or null).
    type: list
    elements: dict
"""


def lvs_virtual_servers(virtual_servers: t.Any, pair: t.Mapping[str, t.Any], groups: t.Mapping[str, t.Sequence[str]],
                        hostvars: t.Any) -> list[dict[str, t.Any]]:
    try:
        value = typed({_lvs.VAR: virtual_servers or []})[_lvs.VAR]
        if not isinstance(value, list) or not all(isinstance(v, t.Mapping) for v in value):
            raise AnsibleFilterError(f"lvs_virtual_servers: expected a list of mappings, found {virtual_servers!r}")
        planned, errors = _lvs.plan(value, list(pair["instances"]), groups, _HostVars(hostvars))
    except (TopologyError, DefaultsError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"lvs_virtual_servers: {exc}") from exc
    if errors:
        raise AnsibleFilterError("lvs_virtual_servers: " + "; ".join(errors))
    return planned


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"lvs_virtual_servers": lvs_virtual_servers}
