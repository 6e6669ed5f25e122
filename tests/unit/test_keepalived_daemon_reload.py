"""roles/keepalived/tasks/service.yml: daemon-reload follows what systemd has loaded
(issue 9), not only this run's changes. The task's own expression, evaluated with
Jinja for recorded `systemctl show` outputs."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml
from ansible.plugins.filter.core import FilterModule

ROOT = Path(__file__).resolve().parents[2]
DROPIN = "/etc/systemd/system/keepalived.service.d/halb-pair.conf"


def _expression() -> str:
    tasks = yaml.safe_load((ROOT / "roles" / "keepalived" / "tasks" / "service.yml").read_text())
    (task,) = [t for t in tasks if t["name"] == "Start and enable keepalived"]
    return task["ansible.builtin.systemd_service"]["daemon_reload"]


def _reload(stdout: str, changed_paths: list[str], restart_on_failure: bool = True) -> bool:
    env = jinja2.Environment()
    env.filters.update({k: v for k, v in FilterModule().filters().items() if k not in env.filters})
    out = env.from_string(_expression()).render(
        __keepalived_dropin=DROPIN, __keepalived_written={"changed_paths": changed_paths},
        __keepalived_unit_loaded={"stdout": stdout, "stdout_lines": stdout.splitlines()},
        keepalived_restart_on_failure=restart_on_failure)
    assert out.strip() in ("True", "False"), out
    return out.strip() == "True"


LOADED = f"NeedDaemonReload=no\nDropInPaths={DROPIN}\n"
NOT_LOADED = "NeedDaemonReload=no\nDropInPaths=\n"
STALE = f"NeedDaemonReload=yes\nDropInPaths={DROPIN}\n"


@pytest.mark.parametrize(("stdout", "changed", "restart", "expected"), [
    (LOADED, [], True, False),                  # nothing to do: the second run of a good deploy
    (LOADED, [DROPIN], True, True),             # written in this run
    (NOT_LOADED, [], True, True),               # written by a run that failed before service.yml
    (STALE, [], True, True),                    # changed on disk since systemd loaded it
    (LOADED, [DROPIN], False, True),            # removed in this run (restart_on_failure: false)
    (LOADED, [], False, True),                  # removed earlier, still loaded
    (NOT_LOADED, [], False, False),             # not wanted, not loaded
])
def test_daemon_reload_follows_what_systemd_has_loaded(stdout, changed, restart, expected):
    assert _reload(stdout, changed, restart) is expected
