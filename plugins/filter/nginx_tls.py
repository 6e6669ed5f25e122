# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx role's TLS files and server settings: a thin wrapper around plugin_utils._nginx_tls."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.halb.pair.plugins.plugin_utils._nginx_tls import TlsError, plan

DOCUMENTATION = """
  name: nginx_tls
  short_description: Where the nginx role writes each TLS server's certificate and key, and what its server block says
  version_added: 0.1.0
  description:
    - For every C(nginx_lb_servers) item with C(tls), the certificate and key files under
      C(CONF_DIR/halb-tls/), named after their content (C(NAME-ID.crt) 0644, C(NAME-ID.key) 0600, ID 16 hex
      digits of SHA-256 over both) - a new pair never replaces the files the live configuration references, and
      the old pair is pruned once the new configuration is written.
    - Per server, the paths the server block references (relative to C(CONF_DIR), so that the role's validator
      tests the candidate files in its copy of the directory), its listens with C(ssl), and HTTP/2 as the nginx
      version asks - the C(http2) directive from 1.25.1, the C(listen ... http2) parameter before and when the
      version is unknown.
    - The variables are expected to have passed the role's preflight (C(halb.pair.nginx_preflight)).
  positional: conf_dir, version
  options:
    _input:
      description: The role's C(nginx_lb_servers).
      type: list
      elements: dict
      required: true
    conf_dir:
      description: The role's C(nginx_lb_conf_dir).
      type: str
      required: true
    version:
      description: What C(nginx -v) printed (C(nginx version... nginx/1.22.1)) or a bare version; empty when unknown.
      type: str
      default: ""
"""

EXAMPLES = """
- name: The TLS files (never shown)
  halb.pair.files:
    files: "{{ (nginx_lb_servers | halb.pair.nginx_tls('/etc/nginx', nginx_v.stderr)).files }}"
  no_log: true
  diff: false
"""

RETURN = """
  _value:
    description: What the role writes for TLS.
    type: dict
    contains:
      servers:
        description:
          - One entry per server, null for a server without C(tls), else C(certificate) and C(key) (paths relative
            to C(conf_dir)), C(listens), C(http2_directive) and C(redirect) (null, or C(listens) and C(target)).
        type: list
        elements: dict
        sample: [{certificate: halb-tls/www-0123456789abcdef.crt, key: halb-tls/www-0123456789abcdef.key,
                  listens: ["443 ssl http2"], http2_directive: false,
                  redirect: {listens: ["80"], target: "https://$host$request_uri"}}]
      files:
        description: The files for C(halb.pair.files), the keys with C(secret) set. They hold the private keys.
        type: list
        elements: dict
      keep:
        description: The names of those files in C(dir) (C(prune) removes the others).
        type: list
        elements: str
      dir:
        description: C(conf_dir/halb-tls).
        type: str
"""


def nginx_tls(servers: t.Any, conf_dir: str, version: t.Any = "") -> dict[str, t.Any]:
    if not isinstance(servers, t.Sequence) or isinstance(servers, str):
        raise AnsibleFilterError(f"nginx_tls: expected nginx_lb_servers (a list), found {type(servers).__name__}")
    try:
        return plan(list(servers), str(conf_dir), version)
    except (TlsError, KeyError, TypeError) as exc:
        # never the values: they hold private keys
        raise AnsibleFilterError(f"nginx_tls: {exc.__class__.__name__} on servers the preflight should have refused: "
                                 f"{exc if isinstance(exc, TlsError) else 'a tls entry without name, certificate or key'}") from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"nginx_tls": nginx_tls}
