# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the keepalived topology: thin wrappers around plugin_utils.

Documented in the sidecar files ``plugins/filter/NAME.yml`` (``ansible-doc -t filter``).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import interface_address
from ansible_collections.halb.pair.plugins.plugin_utils._topology import (
    TopologyError,
    as_dicts,
    derive,
    settings_of,
    with_unicast,
)


def _plain(hostvars: t.Any, hosts: list[str]) -> dict[str, dict[str, t.Any]]:
    out = {}
    for h in hosts:
        try:
            hv = hostvars[h]
        except KeyError as exc:
            raise AnsibleFilterError(f"host {h!r} is not in the inventory") from exc
        out[h] = {k: hv[k] for k in list(hv.keys()) if k.startswith(("keepalived_", "ansible_host", "ansible_facts"))}
    return out


def keepalived_instances(hosts: list[str], hostvars: t.Any) -> list[dict[str, t.Any]]:
    """Instances with per-node state, priority and unicast peers."""
    hosts = list(hosts)
    plain = _plain(hostvars, hosts)
    try:
        instances = derive(hosts, plain)
    except TopologyError as exc:
        raise AnsibleFilterError("keepalived topology: " + "; ".join(exc.errors)) from exc
    addresses = {}
    for h in hosts:
        s = settings_of(plain[h])
        addresses[h] = s["keepalived_unicast_src_ip"] or interface_address(plain[h], s["keepalived_interface"])
    return as_dicts(with_unicast(instances, addresses))


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "keepalived_instances": keepalived_instances,
        }
