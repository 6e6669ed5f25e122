"""The watcher's package on the node (roles/keepalived/vars/main.yml __keepalived_watch_modules)
holds every module_utils file the watcher imports, directly or through another: a module
missing there fails the watcher's validator on every node (ImportError) only once deployed."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "plugins" / "module_utils"
WATCH = REPO / "roles" / "keepalived" / "files" / "libexec" / "watch"


def _imports(tree: ast.AST, package: str | None) -> set[str]:
    """Names of module_utils modules imported: `from halb_pair import X` (the node's package)
    in the script, `from . import X` / `from .X import y` in a module."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if package and node.module == package:
            out |= {a.name for a in node.names}
        elif node.level == 1 and node.module is None:
            out |= {a.name for a in node.names}
        elif node.level == 1 and node.module:
            out.add(node.module.split(".")[0])
    return {m for m in out if (MODULE_UTILS / f"{m}.py").exists()}


def closure() -> set[str]:
    todo = _imports(ast.parse(WATCH.read_text()), "halb_pair")
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo |= _imports(ast.parse((MODULE_UTILS / f"{m}.py").read_text()), None) - seen
    return seen


def test_the_watchers_package_holds_every_module_it_imports():
    listed = set(yaml.safe_load((REPO / "roles" / "keepalived" / "vars" / "main.yml").read_text())["__keepalived_watch_modules"])
    needed = closure()
    assert needed - listed == set(), f"imported by the watcher but not copied to the node: {sorted(needed - listed)}"


def test_the_closure_follows_imports_through_modules():
    # guards the scan: _node_io (imported by the script) imports _ipvs, which the script does not name
    assert {"_node_io", "_ipvs", "_placement", "_watch_metrics"} <= closure()
