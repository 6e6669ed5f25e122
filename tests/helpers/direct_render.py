"""Render the roles' templates with Jinja directly, the way the roles do, for tests
that need many renders (tests/property): ansible-playbook costs seconds per run.

The environment matches Ansible's template lookup where it matters for these
templates: the role's templates directory as the loader path (macros imported by
relative name), trim_blocks, Ansible's own filters (comment, bool, flatten, ...), the
role defaults with the host's values over them, and the internal variables of
vars/main.yml computed by the same Python the filters wrap (_topology). A test
(tests/property/test_render_properties.py::test_direct_render_matches_the_role)
compares it with the real role's output.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import jinja2
import yaml
from ansible.plugins.filter.core import FilterModule
from ansible.plugins.test.core import TestModule

from tests.helpers.ansible_run import REPO

ROLES = REPO / "roles"
ANSIBLE_MANAGED = "Ansible managed"


def _env(role: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLES / role / "templates")), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    # Ansible's filters and tests that Jinja lacks (Jinja's own default/map/... stay)
    env.filters.update({k: v for k, v in FilterModule().filters().items() if k not in env.filters})
    env.tests.update({k: v for k, v in TestModule().tests().items() if k not in env.tests})
    return env


def defaults(role: str, hostname: str) -> dict[str, t.Any]:
    raw = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    plain = jinja2.Environment()
    ctx = {"inventory_hostname": hostname, "inventory_hostname_short": hostname.split(".")[0], **raw}
    out = {}
    for k, v in raw.items():
        if isinstance(v, str) and "{{" in v:
            v = plain.from_string(v).render(ctx)
            v = int(v) if v.isdigit() else v  # Ansible's native types: "{{ port }}" stays an int
        out[k] = v
    return out


def render(role: str, template: str, variables: t.Mapping[str, t.Any]) -> str:
    return _env(role).get_template(template).render(
        {"ansible_managed": ANSIBLE_MANAGED, **variables})


def keepalived_vars(hosts: list[str], hostvars: t.Mapping[str, t.Mapping[str, t.Any]], host: str) -> dict[str, t.Any]:
    """The variables keepalived.conf.j2 sees on ``host`` (roles/keepalived/vars/main.yml)."""
    from ansible_collections.halb.pair.plugins.plugin_utils._preflight import interface_address
    from ansible_collections.halb.pair.plugins.plugin_utils._topology import as_dicts, derive, settings_of, with_unicast

    v = {**defaults("keepalived", host), **hostvars[host], "inventory_hostname": host}
    instances = derive(hosts, hostvars)
    addresses = {}
    for h in hosts:
        s = settings_of(hostvars[h])
        addresses[h] = s["keepalived_unicast_src_ip"] or interface_address(hostvars[h], s["keepalived_interface"])
    v["__keepalived_instances"] = as_dicts(with_unicast(instances, addresses))
    v["__keepalived_mail"] = v["keepalived_smtp_server"] is not None and len(v["keepalived_notification_email"]) > 0
    # as vars/main.yml derives them from the pair model (halb.pair.pair_model)
    from ansible_collections.halb.pair.plugins.plugin_utils._pair import model

    node = model(hosts, hostvars, addresses=addresses).as_dict()["nodes"][host]
    v["__keepalived_node"] = node
    v["__keepalived_check_url"] = v.get("keepalived_check_url") or node["check"]["url"]
    # halb.pair.lvs_virtual_servers: the preflight's plan (real-server groups need an inventory: none here)
    from ansible_collections.halb.pair.plugins.plugin_utils._lvs import plan

    v["__keepalived_virtual_servers"], _problems = plan(v["keepalived_virtual_servers"], v["__keepalived_instances"], {}, hostvars)
    # halb.pair.keepalived_tracking: the preflight's plan of the node's own tracks
    from ansible_collections.halb.pair.plugins.plugin_utils._topology import typed
    from ansible_collections.halb.pair.plugins.plugin_utils._tracking import plan as tracking_plan

    v["__keepalived_tracking"], _problems = tracking_plan(typed(v), host)
    # halb.pair.keepalived_directives: the lines the role does not model (the plan checks the names, the types
    # the values: a test that renders untyped values renders them as they are)
    from ansible_collections.halb.pair.plugins.plugin_utils._directives import plan as directives_plan

    v["__keepalived_directives"], _problems = directives_plan(typed(v), host)
    # halb.pair.keepalived_notify_hooks: the hooks' runner reads keepalived's FIFO (with keepalived_manage_service)
    from ansible_collections.halb.pair.plugins.plugin_utils._notify import plan as notify_plan

    v["__keepalived_notify"], _problems = notify_plan(typed(v), host)
    v["__keepalived_notify_on"] = bool(v["__keepalived_notify"]["hooks"]) and bool(hostvars[host].get("keepalived_manage_service", False))
    # tests/render/render_keepalived.yml renders with keepalived_manage_service: false
    # (no service on the test host): no hand-over units, no tracked hand-over files
    v["__keepalived_handover_on"] = bool(v["keepalived_handover"]) and bool(hostvars[host].get("keepalived_manage_service", False))
    return v


def nginx_vars(hostvars: t.Mapping[str, t.Any], host: str) -> dict[str, t.Any]:
    """The variables the nginx templates see on ``host`` (roles/nginx/vars/*.yml, Debian)."""
    from ansible_collections.halb.pair.plugins.plugin_utils._nginx_tls import plan

    debian = yaml.safe_load((ROLES / "nginx" / "vars" / "Debian.yml").read_text())
    v = {**defaults("nginx", host), **debian, **hostvars, "inventory_hostname": host}
    # as vars/main.yml (halb.pair.nginx_tls; __nginx_lb_version: what `nginx -v` printed)
    v["__nginx_lb_tls"] = plan(v["nginx_lb_servers"], v["nginx_lb_conf_dir"], v.get("__nginx_lb_version", ""))
    return v


def write_tree(base: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
