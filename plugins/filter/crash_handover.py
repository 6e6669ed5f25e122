# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's crash hand-over configuration: a thin wrapper around plugin_utils._crash_handover."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils._crash_handover import CrashHandoverError, config

DOCUMENTATION = """
  name: crash_handover
  short_description: What a node sends on behalf of its dead keepalived, from the pair's model
  version_added: 0.2.0
  description:
    - For one node of a pair (C(halb.pair.pair_model)) - each IPv4 VRRP instance it is in, with
      what a priority-0 advert needs (VRID, version, advert interval, interface, the node's VRRP
      source address, the VIPs, the VRRPv2 password, the unicast peers), each peer's nginx health
      URL, and how long to wait for a peer to take over.
    - The keepalived role writes it as a 0600 JSON file for C(crash-handover), which keepalived's
      unit runs as C(ExecStopPost) after an abnormal end. It is checked here by the script's own
      rules (every advert is built once); a problem fails the filter without quoting the password.
  positional: host, auth_pass
  options:
    _input:
      description: The pair, as C(halb.pair.pair_model) returns it.
      type: dict
      required: true
    host:
      description: The node.
      type: str
      required: true
    auth_pass:
      description: C(keepalived_auth_pass) (VRRPv2 PASS authentication), or null.
      type: str
      required: false
"""

EXAMPLES = """
- name: The crash hand-over configuration of this node
  ansible.builtin.copy:
    dest: /etc/keepalived/halb-pair-crash.json
    content: "{{ groups['lb'] | halb.pair.pair_model(hostvars) | halb.pair.crash_handover(inventory_hostname, keepalived_auth_pass) | to_nice_json }}"
    mode: "0600"
  no_log: true
"""

RETURN = """
  _value:
    description: The script's configuration.
    type: dict
    contains:
      instances:
        description: One entry per IPv4 instance of the node (name, vrid, version, advert_int, interface, source, vips, auth_pass, unicast_peers).
        type: list
        elements: dict
      skipped:
        description: Instances left out, each with C(name) and C(why) (IPv6).
        type: list
        elements: dict
      peers:
        description: The other nodes whose address is known, each with C(host) and C(health_url).
        type: list
        elements: dict
      wait:
        description: Seconds the script waits at most for a peer to take over.
        type: float
"""


def crash_handover(pair: t.Mapping[str, t.Any], host: str, auth_pass: t.Any = None) -> dict[str, t.Any]:
    try:
        return config(pair, str(host), None if auth_pass is None else str(auth_pass))
    except CrashHandoverError as exc:
        raise AnsibleFilterError("crash_handover: " + "; ".join(exc.errors)) from exc


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"crash_handover": crash_handover}
