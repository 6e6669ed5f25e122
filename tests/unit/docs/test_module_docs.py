# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-doc must render the modules' documentation, options and return values included.

Controller-side tests (they run ansible-doc): here rather than under tests/unit/plugins/modules,
where ansible-test units gives a test only module_utils of ansible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.tools import tool

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DOC = tool("ansible-doc")

MODULES = {
    "halb.pair.vip_info": {
        "options": {
            "vips",
            "source",
            "keepalived_bin",
            "pid_file",
            "dump_dir",
            "dump_timeout",
            "state_dir",
            "drain_file",
            "health_url",
            "health_timeout",
        },
        "returns": {
            "held_vips",
            "vips",
            "addresses",
            "source",
            "source_errors",
            "instances",
            "stale",
            "keepalived",
            "drain",
            "nginx",
            "vrrp_guard",
            "vrrp_strangers",
            "virtual_servers",
        },
    },
    "halb.pair.vrrp_failover": {
        "options": {
            "state",
            "vips",
            "wait",
            "timeout",
            "poll_interval",
            "peers_check_port",
            "drain_file",
            "keepalived_bin",
            "pid_file",
            "dump_dir",
        },
        "returns": {
            "before",
            "after",
            "watched",
            "held_before",
            "held_after",
            "moved",
            "elapsed",
            "waited",
            "peers_answering",
            "restored",
            "diff",
        },
    },
}


def ansible_doc(*args):
    if ANSIBLE_DOC is None:
        pytest.fail("no ansible-doc next to this Python or on PATH (run lab/bin/bootstrap)")
    return subprocess.run([ANSIBLE_DOC, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.ansible
def test_ansible_doc_renders(name):
    proc = ansible_doc(name)
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr and "[ERROR]" not in proc.stderr, proc.stderr
    for option in MODULES[name]["options"]:
        assert option in proc.stdout


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.ansible
def test_documented_options_and_returns_match_the_code(name):
    proc = ansible_doc("--json", name)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[name]
    assert set(doc["doc"]["options"]) == MODULES[name]["options"]
    assert set(doc["return"]) == MODULES[name]["returns"]
    assert {"check_mode", "diff_mode"} <= set(doc["doc"]["attributes"])
    for key, rv in doc["return"].items():
        assert "returned" in rv, key
        # A dict documented field by field carries its samples on the fields.
        for field, sub in (rv.get("contains") or {key: rv}).items():
            assert "sample" in sub, f"{key}.{field}"
    assert "halb.pair." in doc["examples"]


def _types_and_defaults(options):
    return {name: (spec.get("type", "str"), spec.get("default"), spec.get("choices")) for name, spec in options.items()}


def test_doc_fragment_documents_the_shared_spec():
    """The options vip_info and vrrp_failover share are declared once (_node_io.NODE_ARGUMENT_SPEC)
    and documented once (the keepalived_node doc fragment): the same names, types and defaults."""
    import yaml
    from ansible_collections.halb.pair.plugins.doc_fragments.keepalived_node import ModuleDocFragment
    from ansible_collections.halb.pair.plugins.module_utils._node_io import NODE_ARGUMENT_SPEC
    from ansible_collections.halb.pair.plugins.modules import vip_info, vrrp_failover

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert _types_and_defaults(documented) == _types_and_defaults(NODE_ARGUMENT_SPEC)
    for module in (vip_info, vrrp_failover):
        assert NODE_ARGUMENT_SPEC.items() <= module.ARGUMENT_SPEC.items(), module.__name__


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.ansible
def test_documented_types_and_defaults_are_the_argument_spec(name):
    import importlib

    module = importlib.import_module(f"ansible_collections.halb.pair.plugins.modules.{name.rsplit('.', 1)[1]}")
    proc = ansible_doc("--json", name)
    assert proc.returncode == 0, proc.stderr
    documented = json.loads(proc.stdout)[name]["doc"]["options"]
    assert _types_and_defaults(documented) == _types_and_defaults(module.ARGUMENT_SPEC)


# moved from tests/unit/plugins/modules/test_files.py
@pytest.mark.ansible
def test_files_doc_renders_every_option_and_return():
    doc_bin = tool("ansible-doc")
    if doc_bin is None:
        pytest.fail("no ansible-doc next to this Python or on PATH (run lab/bin/bootstrap)")
    proc = subprocess.run([doc_bin, "--json", "halb.pair.files"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "[WARNING]" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)["halb.pair.files"]
    assert set(doc["doc"]["options"]) == {"directories", "files", "absent", "fail_on_refusal", "secrets", "prune", "pending"}
    assert set(doc["doc"]["options"]["files"]["suboptions"]) == {
        "path", "content", "owner", "group", "mode", "seuser", "serole", "setype", "selevel", "attributes", "follow", "backup",
        "validate", "secret"}
    assert set(doc["return"]) == {"changed_paths", "refused", "backup_files"}
    for key, rv in doc["return"].items():
        for field, sub in (rv.get("contains") or {key: rv}).items():
            assert "sample" in sub, f"{key}.{field}"
