# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's notify hooks: the runner's configuration, and one row per refusal of the
preflight (through ``_preflight.check``)."""

from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _notify
from ansible_collections.halb.pair.plugins.plugin_utils._preflight import check
from ansible_collections.halb.pair.plugins.plugin_utils._topology import settings_of

HOSTS = ["lb1", "lb2"]


def hostvars(hooks, **extra):
    return {h: {"keepalived_vips": ["198.51.100.100/24"], "keepalived_notify_hooks": hooks, **extra} for h in HOSTS}


@pytest.mark.parametrize(("hooks", "planned"), [
    ([], []),
    (["/usr/local/libexec/page-oncall"], ["/usr/local/libexec/page-oncall"]),
    # in order, mappings and paths mixed
    (["/usr/local/sbin/b", {"path": "/usr/local/sbin/a"}, "/opt/hooks/c.sh"], ["/usr/local/sbin/b", "/usr/local/sbin/a", "/opt/hooks/c.sh"]),
])
def test_accepted_in_their_order(hooks, planned):
    hv = hostvars(hooks)
    assert check(HOSTS, hv) == []
    assert _notify.plan(settings_of(hv["lb1"]), "lb1") == ({"fifo": "/var/lib/halb-pair-notify/events", "hooks": planned, "timeout": 30}, [])


# (hooks, other variables, fragments every one of which one message must hold)
REFUSED = [
    pytest.param(["hook.sh"], {}, ["keepalived_notify_hooks[0] on lb1: found 'hook.sh'", "an absolute path"], id="relative"),
    pytest.param(["/usr/local/bin/hook arg"], {}, ["keepalived_notify_hooks[0] on lb1", "no whitespace"], id="argument"),
    pytest.param(["/usr/local/bin/hook\n}\nvrrp_strict"], {}, ["keepalived_notify_hooks[0] on lb1", "an absolute path"], id="newline"),
    pytest.param(["/usr/local/bin/a#b"], {}, ["keepalived_notify_hooks[0] on lb1", "'#'"], id="comment"),
    pytest.param([{"path": "/usr/local/bin/a", "user": "root"}], {}, ["keepalived_notify_hooks[0] on lb1: unknown key 'user'"], id="unknown-key"),
    pytest.param([{"script": "/usr/local/bin/a"}], {}, ["the key 'path' is missing"], id="no-path"),
    pytest.param([3], {}, ["keepalived_notify_hooks[0] on lb1: found 3 (a int, not a string)"], id="number"),
    pytest.param("/usr/local/bin/a", {}, ["keepalived_notify_hooks on lb1", "a list"], id="not-a-list"),
    pytest.param(["/usr/local/bin/"], {}, ["keepalived_notify_hooks[0] on lb1: found '/usr/local/bin/', a directory"], id="directory"),
    pytest.param(["/usr/local/bin/a", {"path": "/usr/local/bin/a"}], {},
                 ["keepalived_notify_hooks[1] on lb1: /usr/local/bin/a is listed twice"], id="twice"),
    pytest.param(["/usr/local/bin/a"], {"keepalived_manage_service": False},
                 ["keepalived_notify_hooks on lb1: found 1 hook(s) with keepalived_manage_service false", "halb-pair-notify.service"],
                 id="without-the-service"),
]


@pytest.mark.parametrize(("hooks", "extra", "fragments"), REFUSED)
def test_refused(hooks, extra, fragments):
    errors = check(HOSTS, hostvars(hooks, **extra))
    assert any(all(f in e for f in fragments) for e in errors), errors


def test_no_hook_without_the_service_is_fine():
    assert check(HOSTS, hostvars([], keepalived_manage_service=False)) == []
