# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module that talks to the node's keepalived shares.

Declared once for the modules in plugins/module_utils/_node_io.py (NODE_ARGUMENT_SPEC,
which modules can import; doc fragments are read by ansible-doc only), documented
once here; tests/unit/docs/test_module_docs.py keeps names, types and defaults equal.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  keepalived_bin:
    description: The keepalived binary (C(--version), C(--signum)).
    type: path
    default: keepalived
  pid_file:
    description: keepalived's pid file.
    type: path
    default: /run/keepalived.pid
  dump_dir:
    description: The directory keepalived writes its dumps C(keepalived.json) and C(keepalived.data) into.
    type: path
    default: /tmp
  drain_file:
    description: The drain file, a keepalived C(vrrp_track_file) the halb.pair.keepalived role sets up.
    type: path
    default: /var/lib/halb-pair/drain
"""
