# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tarball holds the collection and nothing of its proving ground: no lab, no web
backend, no test or tool state a checkout accumulates (built after the tests have run, as
scripts/test builds it)."""

from __future__ import annotations

import tarfile

#: the top-level entries a user's installed collection has
SHIPPED = {"README.md", "LICENSE", "CHANGELOG.rst", "MANIFEST.json", "FILES.json", "changelogs", "docs", "meta", "playbooks",
           "plugins", "roles"}


def _names(tarball) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [m.name.lstrip("./") for m in tar.getmembers()]


def test_only_the_collection_is_shipped(tarball):
    tops = {n.split("/", 1)[0] for n in _names(tarball)}
    assert tops <= SHIPPED, sorted(tops - SHIPPED)


def test_no_lab_fixture_is_shipped(tarball):
    names = _names(tarball)
    assert not [n for n in names if "web_backend" in n or n.startswith(("lab/", "molecule/", "scripts/", "inventories/"))]
    assert any(n.startswith("roles/keepalived/") for n in names) and any(n.startswith("plugins/plugin_utils/") for n in names)
