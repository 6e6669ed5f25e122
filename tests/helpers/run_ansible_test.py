# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ansible-test on this working tree (scripts/test's ansible-test stages; python -m tests.helpers.run_ansible_test sanity|units).

    python tests/helpers/run_ansible_test.py sanity|units [ansible-test options...]

ansible-test wants the collection at .../ansible_collections/halb/pair: the files git
knows of (tracked, and new ones not ignored) are copied to
.cache/ansible-test/ansible_collections/halb/pair, a git repository of its own so that
ansible-test sees exactly those files. HOME is .cache/ansible-test/home, so that the
virtual environments ansible-test makes for its sanity tests are kept here (and reused)
rather than in the user's ~/.ansible; the get-pip script it would download from an
unreachable host is tests/helpers/get_pip.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / ".cache" / "ansible-test"
HOME = ROOT / "home"


def tree(command: str) -> Path:
    """The copy one command runs on (sanity and units may run at once)."""
    return ROOT / command / "ansible_collections" / "halb" / "pair"


def tool(name: str) -> str:
    """A command of this Python's environment first (the .venv scripts/test runs), then PATH."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else (shutil.which(name) or name)


def pip_version() -> str:
    """The pip ansible-test bootstraps into its environments (its bootstrap script is named after it)."""
    from types import SimpleNamespace

    from ansible_test._internal.python_requirements import get_venv_packages

    return get_venv_packages(SimpleNamespace(version=f"{sys.version_info.major}.{sys.version_info.minor}"))["pip"]


def copy_tree(root: Path) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    files = sorted({f for f in listed.split("\0") if f and (REPO / f).is_file() and not (REPO / f).is_symlink()})
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for f in files:
        dest = root / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dest)
    git = ["git", "-c", "user.name=ansible-test", "-c", "user.email=ansible-test@localhost"]
    subprocess.run([*git, "init", "-q", "."], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tree under test"], cwd=root, check=True)
    # the collection as the tests' ansible.cfg finds it (collections_path = .cache/collections,
    # ignored by git, so not a file ansible-test checks), as lab/bin/bootstrap links it
    link = root / ".cache" / "collections" / "ansible_collections" / "halb" / "pair"
    link.parent.mkdir(parents=True)
    link.symlink_to(root)
    return files


# Besides what the collection ships, sanity checks the unit tests of its plugins (what
# ansible-test units runs) and its own ignore file. The lab, Molecule, the scripts and
# the other tests are not part of the collection: ruff, yamllint and shellcheck-free
# bash in scripts/test check them.
SANITY_EXTRA = ("tests/unit/plugins/", "tests/sanity/")


def shipped(files: list[str]) -> list[str]:
    """The top-level files and directories ansible-galaxy build puts in the tarball
    (galaxy.yml's build_ignore left out), as ansible-test sanity targets."""
    import fnmatch

    import yaml

    ignore = yaml.safe_load((REPO / "galaxy.yml").read_text()).get("build_ignore") or []
    tops = sorted({f.split("/", 1)[0] + ("/" if "/" in f else "") for f in files})
    return [t for t in tops if not any(fnmatch.fnmatch(t.rstrip("/"), pattern) for pattern in ignore)]


# ansible-test units runs the collection's unit tests (the lab's own, lab/tests, are not
# under tests/unit); tests/unit/monitoring runs the promtool that lab/bin/bootstrap keeps in this
# checkout's .cache/tools (not in the copy): both run in scripts/test's pytest stage.
UNITS_LEFT_OUT = ("tests/unit/monitoring/",)


def units_targets(files: list[str]) -> list[str]:
    """The unit test files ansible-test units runs."""
    return sorted(f for f in files if f.startswith("tests/unit/") and f.rsplit("/", 1)[-1].startswith("test_")
                  and f.endswith(".py") and not f.startswith(UNITS_LEFT_OUT))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("sanity", "units"):
        print(__doc__, file=sys.stderr)
        return 2
    root = tree(argv[0])
    files = copy_tree(root)
    targets: list[str] = []
    if not any(not a.startswith("-") for a in argv[1:]):  # no targets given: the default ones
        targets = [*shipped(files), *SANITY_EXTRA] if argv[0] == "sanity" else units_targets(files)
    cache = HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "tests" / "helpers" / "get_pip.py", cache / f"get_pip_{pip_version().replace('.', '_')}.py")
    # pip's user configuration (index, certificates) and cache stay the user's own:
    # ansible-test passes HOME and PATH to pip, no other variable
    for own in (".config/pip", ".pip", ".cache/pip"):
        real, link = Path.home() / own, HOME / own
        if real.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(real)
    env = dict(os.environ, HOME=str(HOME), ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    cmd = [tool("ansible-test"), argv[0], "--python", python, "--venv", "--color", "no", *argv[1:], *targets]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=root, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
