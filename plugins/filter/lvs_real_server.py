# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs_real_server role's decisions as filters: thin wrappers around plugin_utils/_lvs_real_server.py.

- ``values | halb.pair.lvs_real_server_preflight(host)``: one host's role variables checked
  against the role's argument spec, their types and the rules across them.
- ``lines | halb.pair.lvs_real_server_sysctl(host, device, wanted, absent)``: which
  arp_ignore/arp_announce keys to write, from what the node's /proc/sys holds.

Documented in the sidecar files ``plugins/filter/NAME.yml`` (``ansible-doc -t filter``).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils import _defaults, _lvs_real_server


def lvs_real_server_preflight(values: t.Mapping[str, t.Any], host: str) -> list[str]:
    if not isinstance(values, t.Mapping):
        raise AnsibleFilterError(f"lvs_real_server_preflight: expected a mapping of variable names to values, found {type(values).__name__}")
    return _lvs_real_server.check(str(host), dict(values), _defaults.role_options(_lvs_real_server.ROLE))


def lvs_real_server_sysctl(lines: t.Sequence[str], host: str, device: str, wanted: t.Mapping[str, t.Any],
                           absent: bool = False) -> dict[str, t.Any]:
    if isinstance(lines, (str, bytes)) or not isinstance(lines, t.Sequence):
        raise AnsibleFilterError(f"lvs_real_server_sysctl: expected a list of lines, found {type(lines).__name__}")
    try:
        return _lvs_real_server.sysctl_plan(list(lines), str(host), str(device), dict(wanted), bool(absent))
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"lvs_real_server_sysctl: {exc}") from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "lvs_real_server_preflight": lvs_real_server_preflight,
            "lvs_real_server_sysctl": lvs_real_server_sysctl,
        }
