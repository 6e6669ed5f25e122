# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a user gets it: the tarball ansible-galaxy builds from this tree,
and that tarball installed into an empty collections path (nothing else on it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.tools import tool

REPO = Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


def _galaxy() -> str:
    galaxy = tool("ansible-galaxy")
    if galaxy is None:
        pytest.fail("no ansible-galaxy next to this Python or on PATH (run lab/bin/bootstrap)")
    return galaxy


@pytest.fixture(scope="session")
def tarball(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("built")
    subprocess.run([_galaxy(), "collection", "build", "--force", "--output-path", str(d), str(REPO)],
                   check=True, capture_output=True, text=True, timeout=300)
    path = d / f"halb-pair-{VERSION}.tar.gz"
    assert path.is_file(), sorted(p.name for p in d.iterdir())
    return path


@pytest.fixture(scope="session")
def installed(tarball, tmp_path_factory) -> Path:
    """A collections path holding only halb.pair, installed from the tarball."""
    d = tmp_path_factory.mktemp("installed")
    # only this path: a halb.pair in ~/.ansible/collections must not count as installed
    subprocess.run([_galaxy(), "collection", "install", "--force", "-p", str(d), str(tarball)],
                   check=True, capture_output=True, text=True, timeout=300,
                   env=dict(os.environ, ANSIBLE_CONFIG=str(d / "none.cfg"), ANSIBLE_COLLECTIONS_PATH=str(d),
                            ANSIBLE_HOME=str(d / "ansible-home")))
    assert (d / "ansible_collections" / "halb" / "pair" / "MANIFEST.json").is_file()
    return d
