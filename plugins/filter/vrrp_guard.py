# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VRRP guard of one node's pair: a thin wrapper around module_utils._vrrp_guard."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.module_utils._vrrp_guard import GuardError, render, spec_for

DOCUMENTATION = """
  name: vrrp_guard
  short_description: The nftables table that lets VRRP in only from the pair's own nodes
  version_added: 0.1.0
  description:
    - From the pair's model (C(halb.pair.pair_model)) - its VRRP instances and each node's VRRP
      source address - builds the nft file of the table C(inet halb_pair_vrrp) - adverts for the
      pair's VRIDs are accepted only from the pair's nodes; others are dropped and counted.
    - IPv4 instances are guarded by each node's VRRP source address, IPv6 instances by each
      node's IPv6 link-local address (C(link_local) in the model, from the C(network) facts) -
      IPv6 adverts come from the sender's link-local address.
    - With O(mode=auto) the guard is off only where it cannot work - the pair has no VRRP
      instance, so there is nothing to guard. Everything else that stops it from being built
      is an error naming the node and what to do, with O(mode=auto) as with O(mode=on) - a
      node whose address is unknown (its facts not gathered, e.g. under C(--limit)) - gather
      its C(network) facts or set C(keepalived_unicast_src_ip) (IPv6 instances need the
      facts). Auto never switches the guard off silently, since off deletes the table.
  positional: mode, header
  options:
    _input:
      description:
        - The pair, as C(halb.pair.pair_model) returns it. Each node's VRRP source address is its
          C(address) there - C(keepalived_unicast_src_ip), else the primary IPv4 address of its
          C(keepalived_interface) from facts (the C(network) subset); its C(link_local), the
          IPv6 link-local address of that interface from facts, for IPv6 instances.
      type: dict
      required: true
    mode:
      description: C(auto), C(on) (true) or C(off) (false).
      type: raw
      default: auto
    header:
      description: A comment placed at the top of the file (e.g. C(ansible_managed)).
      type: str
      default: ""
"""

EXAMPLES = """
- name: The guard's file
  ansible.builtin.copy:
    dest: /etc/halb-pair/vrrp-guard.nft
    content: "{{ (groups[keepalived_group] | halb.pair.pair_model(hostvars) | halb.pair.vrrp_guard('auto')).ruleset }}"
    validate: nft -c -f %s
"""

RETURN = """
  _value:
    description: Whether the guard is on, why, and the nft file.
    type: dict
    contains:
      enabled:
        description: The guard is on.
        type: bool
      why:
        description: Why it is on or off.
        type: str
      ruleset:
        description: The whole nft file (empty when off).
        type: str
"""

_ON = {True, "on", "true", "yes", "always"}
_OFF = {False, "off", "false", "no", "never"}


def vrrp_guard(pair: t.Mapping[str, t.Any], mode: t.Any = "auto", header: str = "") -> dict[str, t.Any]:
    m = mode.lower() if isinstance(mode, str) else mode
    if m in _OFF:
        return {"enabled": False, "why": "switched off (keepalived_vrrp_guard: false)", "ruleset": ""}
    if m not in _ON and m != "auto":
        raise AnsibleFilterError(f"keepalived_vrrp_guard: found {mode!r}, expected auto, true or false")
    try:
        nodes = pair["nodes"]
        if not pair["instances"]:
            raise GuardError("no VRRP instance: nothing to guard")
    except GuardError as exc:
        # the one case where the guard cannot work: the pair has no VRRP instance
        if m in _ON:
            raise AnsibleFilterError(f"keepalived_vrrp_guard is on, but the guard cannot be built: {exc}") from exc
        return {"enabled": False, "why": f"off (auto): {exc}", "ruleset": ""}
    try:
        spec = spec_for(
            pair["instances"],
            {h: n.get("address") for h, n in nodes.items()},
            {h: n.get("link_local") for h, n in nodes.items()},
        )
    except (GuardError, ValueError) as exc:
        # auto never switches itself off on what is unknown: off would delete the table
        what = "on" if m in _ON else "auto"
        raise AnsibleFilterError(
            f"keepalived_vrrp_guard is {what}, but the guard cannot be built: {exc}; "
            "or set keepalived_vrrp_guard: false to run without it (that deletes the guard's table)"
        ) from exc
    peers = ", ".join(spec.peers4 + spec.peers6)
    return {"enabled": True, "why": f"VRRP for VRID {', '.join(map(str, spec.vrids))} only from {peers}", "ruleset": render(spec, header)}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"vrrp_guard": vrrp_guard}
