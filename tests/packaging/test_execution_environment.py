# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml gives an ansible-builder build context that installs this
collection from its tarball, and the installed collection's meta/execution-environment.yml
gives ansible-builder its system dependencies. (Building the image needs the base image's
registry: not here.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.tools import tool

pytestmark = pytest.mark.ansible

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def context(tarball, tmp_path_factory) -> Path:
    builder = tool("ansible-builder")
    if builder is None:
        pytest.fail("no ansible-builder next to this Python or on PATH (run scripts/bootstrap)")
    d = tmp_path_factory.mktemp("ee")
    shutil.copy2(REPO / "execution-environment.yml", d)
    shutil.copy2(tarball, d)  # where `ansible-galaxy collection build` leaves it in a checkout
    proc = subprocess.run([builder, "create", "-f", "execution-environment.yml", "-c", "context"],
                          cwd=d, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return d / "context"


def test_the_containerfile_installs_the_collection_from_its_tarball(context, tarball):
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "ansible-core" in containerfile and "introspect" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = [c["name"] for c in requirements["collections"]]
    assert names == [f"collections/{tarball.name}"]
    # the file that entry names is in the build context, and is this build's tarball
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()


def test_the_collection_declares_its_dependencies_for_the_builder(context, installed):
    # the script the image build runs over its installed collections, run over ours
    proc = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(installed)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = yaml.safe_load(proc.stdout)
    assert found["python"] == []  # nothing beyond ansible-core (meta/ee-requirements.txt)
    system = [line.split("#")[0].strip() for line in found["system"] if "from collection halb.pair" in line]
    assert system == ["openssh-clients [platform:rpm]", "openssh-client [platform:dpkg]"]
