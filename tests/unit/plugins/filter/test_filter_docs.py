# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`ansible-doc -t filter halb.pair.NAME` renders every filter the FilterModule classes export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import filter_docs

REPO = Path(__file__).resolve().parents[4]
COLLECTIONS = REPO / ".cache" / "collections"
NAMES = filter_docs.filter_names(COLLECTIONS)

pytestmark = pytest.mark.ansible


@pytest.fixture(scope="module")
def problems():
    if shutil.which(filter_docs.ANSIBLE_DOC) is None:
        pytest.fail(f"no {filter_docs.ANSIBLE_DOC} (run lab/bin/bootstrap)")
    return filter_docs.render(NAMES, COLLECTIONS)


def test_the_filters_are_found():
    assert {"keepalived_instances", "keepalived_host_preflight", "pair_status", "pair_drain", "nginx_preflight"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_filter_doc_renders(problems, name):
    assert problems[name] == ""


def test_every_sidecar_documents_an_exported_filter():
    # A file holding one filter may carry its DOCUMENTATION itself; a sidecar must name a filter.
    sidecars = {p.stem for p in (REPO / "plugins" / "filter").glob("*.yml")}
    assert sidecars <= set(NAMES)
    assert {"pair_status", "keepalived_instances", "nginx_preflight"} <= sidecars


def test_no_unread_documentation_variables():
    for path in (REPO / "plugins" / "filter").glob("*.py"):
        assert "DOCUMENTATION_" not in path.read_text(), path.name
