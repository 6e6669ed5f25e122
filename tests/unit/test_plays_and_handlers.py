"""Issue 9, "changes that cost a VIP": read from the playbooks and the roles' handlers.

- every play that writes (a role that configures a node, or the drain) has
  force_handlers: a file already written and validated is applied even if a later
  task fails (otherwise the next run finds it unchanged and never reloads);
- every restart of a load balancer's daemon (keepalived or nginx: a package change,
  e.g. the stream module that adding a stream installs) runs one node at a time
  (throttle: 1), so the hand-over drains each node before its restart and the pair
  never restarts both nodes in one handler flush.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
WRITING_ROLES = {"halb.pair.nginx", "halb.pair.keepalived", "web_backend"}
READ_ONLY_TASKS = {"set_vars.yml", "preflight.yml", "read.yml", "judge.yml"}


def _role_refs(play):
    """(role name, tasks_from) of every role a play runs."""
    for r in play.get("roles") or []:
        yield (r if isinstance(r, str) else r.get("role") or r.get("name")), "main.yml"
    for section in ("pre_tasks", "tasks", "post_tasks"):
        for task in play.get(section) or []:
            for key in ("ansible.builtin.import_role", "ansible.builtin.include_role", "import_role", "include_role"):
                if key in task:
                    yield task[key]["name"], task[key].get("tasks_from", "main.yml")


def _writes(play) -> bool:
    for role, tasks_from in _role_refs(play):
        if role in WRITING_ROLES and tasks_from not in READ_ONLY_TASKS:
            return True
        if role == "halb.pair._pair" and tasks_from in ("drain.yml", "leave.yml"):
            return True
    return False


def _plays():
    for path in PLAYBOOKS:
        for play in yaml.safe_load(path.read_text()) or []:
            if "hosts" in play:
                yield pytest.param(play, id=f"{path.name}: {play.get('name')}")


def test_the_plays_that_write_are_found():
    found = sorted(p.id for p in _plays() if _writes(p.values[0]))
    assert found == [
        "failover.yml: Drain or restore one node of a pair",
        "leave.yml: Take one node out of its pair",
        "site.yml: Load balancers",
        "upgrade.yml: Upgrade the load balancers one at a time",
    ]


@pytest.mark.parametrize("play", [p for p in _plays() if _writes(p.values[0])])
def test_every_play_that_writes_forces_its_handlers(play):
    assert play.get("force_handlers") is True


def _handlers(role):
    return yaml.safe_load((REPO / "roles" / role / "handlers" / "main.yml").read_text())


def _restarts(role):
    for h in _handlers(role):
        module = next((v for k, v in h.items() if k.endswith(("systemd_service", "service", "systemd"))), None)
        if isinstance(module, dict) and module.get("state") == "restarted":
            yield h
        # a handler that decides from the node's state at handler time (shell or command)
        script = next((v for k, v in h.items() if k.endswith(("shell", "command"))), None)
        if isinstance(script, dict) and re.search(r"systemctl (try-)?restart ", str(script.get("cmd") or script.get("argv"))):
            yield h


@pytest.mark.parametrize("role", ["keepalived", "nginx"])
def test_every_restart_of_a_load_balancers_daemon_runs_one_node_at_a_time(role):
    restarts = list(_restarts(role))
    assert restarts, f"{role}: no restart handler found (the test would prove nothing)"
    for h in restarts:
        assert h.get("throttle") == 1, f"{role}: handler {h['name']!r} restarts on every node at once"


def test_the_nginx_restart_is_what_a_new_stream_notifies():
    # adding a stream adds the stream module's package: the install notifies the restart
    install = yaml.safe_load((REPO / "roles" / "nginx" / "tasks" / "install.yml").read_text())
    task = next(t for t in install if "__nginx_lb_stream_packages" in str(t.get("ansible.builtin.apt", {}).get("name", "")))
    (restart,) = _restarts("nginx")
    assert task["notify"] in (restart["name"], restart.get("listen"))


def _index(handlers, topic):
    return [i for i, h in enumerate(handlers) if topic in (h.get("listen"), h.get("name"))]


def test_the_guard_is_loaded_before_keepalived_reloads_or_restarts():
    """Issue 17, finding 12: Ansible runs handlers in the order the file defines them. New
    VRIDs or a new peer address must be let in by the guard before keepalived speaks them
    (in the fast profile, one handler round trip is a split brain)."""
    handlers = _handlers("keepalived")
    guard = _index(handlers, "keepalived guard changed")
    daemon = _index(handlers, "keepalived config changed") + _index(handlers, "keepalived package changed")
    assert guard and daemon, "the handlers were not found (the test would prove nothing)"
    assert max(guard) < min(daemon)


def test_the_handlers_decide_from_the_node_not_from_what_this_run_registered():
    """Issue 17, finding 3: a file written in a run that failed later was never loaded when the
    handlers required results registered by later tasks (__keepalived_started and the like)."""
    for h in _handlers("keepalived"):
        when = " ".join(map(str, h.get("when") or []))
        assert "_started" not in when, f"handler {h['name']!r} depends on a result this run may not have: {when}"


def test_a_new_certificate_reloads_nginx_one_node_at_a_time_never_restarts():
    """Issue 19: the TLS files' task notifies the reload (a new certificate or key is read by
    a reload), which runs one node at a time and is a reload, never a restart."""
    configure = yaml.safe_load((REPO / "roles" / "nginx" / "tasks" / "configure.yml").read_text())
    tls_task = next(t for t in configure if "__nginx_lb_tls.files" in str(t.get("halb.pair.files", {}).get("files")))
    assert tls_task["no_log"] is True and tls_task["diff"] is False
    (reload,) = [h for h in _handlers("nginx") if tls_task["notify"] in (h["name"], h.get("listen"))]
    assert reload["ansible.builtin.service"]["state"] == "reloaded"
    assert reload.get("throttle") == 1
