"""Every filter the collection's FilterModule classes export must render with ansible-doc.

Used by tests/unit/plugins/filter/test_filter_docs.py (against the working tree) and by
scripts/test's build stage (against the built and installed collection):

    python -m tests.helpers.filter_docs COLLECTIONS_PATH

prints one line per filter and exits 1 when one does not render (no DOCUMENTATION,
EXAMPLES or RETURN, or a name that is not the filter's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.tools import tool

NAMESPACE = "halb.pair"
ANSIBLE_DOC = tool("ansible-doc") or "ansible-doc"


#: run in a Python of its own with the collections path asked about first on its path (no
#: change to this process's sys.path; ansible-test's own PYTHONPATH kept after it): each
#: FilterModule's names, as JSON
_NAMES = """
import importlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1]) / "ansible_collections" / "halb" / "pair" / "plugins" / "filter"
names = []
for path in sorted(root.glob("*.py")):
    if path.name != "__init__.py":
        module = importlib.import_module(f"ansible_collections.halb.pair.plugins.filter.{path.stem}")
        names += sorted(module.FilterModule().filters())
print(json.dumps(names))
"""


def filter_names(collections_path: Path) -> list[str]:
    """The names the FilterModule of every plugins/filter/*.py exports."""
    proc = subprocess.run([sys.executable, "-c", _NAMES, str(collections_path)], capture_output=True, text=True, timeout=120,
                          check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                              p for p in (str(collections_path), os.environ.get("PYTHONPATH", "")) if p)))
    return json.loads(proc.stdout)


def _doc(names: list[str], collections_path: Path) -> tuple[dict, str, int]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ANSIBLE_DOC), "-t", "filter", "--json", *(f"{NAMESPACE}.{n}" for n in names)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    try:
        docs = json.loads(proc.stdout or "{}")
    except ValueError:
        docs = {}
    return docs, proc.stderr, proc.returncode


def render(names: list[str], collections_path: Path) -> dict[str, str]:
    """name -> the problem with its documentation ('' when it renders)."""
    docs, stderr, rc = _doc(names, collections_path)
    problems: dict[str, str] = {}
    stderrs: dict[str, str] = {}
    if rc != 0:  # one filter without docs fails the whole call: ask for each on its own
        docs = {}
        for name in names:
            one, stderrs[name], _rc = _doc([name], collections_path)
            docs.update(one)
    for name in names:
        entry = docs.get(f"{NAMESPACE}.{name}") or {}
        doc = entry.get("doc") or {}
        missing = [part for part, ok in (
            ("DOCUMENTATION", bool(doc.get("short_description")) and bool(doc.get("description"))),
            ("name", doc.get("name") == name),
            ("_input", "_input" in (doc.get("options") or {})),
            ("EXAMPLES", f"{NAMESPACE}.{name}" in (entry.get("examples") or "")),
            ("RETURN", "_value" in (entry.get("return") or {})),
        ) if not ok]
        problems[name] = f"missing or wrong: {', '.join(missing)}" if missing else ""
        why = stderrs.get(name, "") if rc != 0 else stderr
        if missing and why:
            problems[name] += f" ({' '.join(why.split())[:300]})"
    return problems


def main(argv: list[str]) -> int:
    collections_path = Path(argv[1]).resolve()
    names = filter_names(collections_path)
    if not names:
        print("no filters found", file=sys.stderr)
        return 1
    problems = render(names, collections_path)
    for name in names:
        print(f"{'FAILED' if problems[name] else 'ok    '} {NAMESPACE}.{name} {problems[name]}".rstrip())
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
