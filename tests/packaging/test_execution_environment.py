# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml gives an ansible-builder build context that installs this
collection from its tarball, and the installed collection's meta/execution-environment.yml
gives ansible-builder its system dependencies. (Building the image needs the base image's
registry: not here.) This is the check of `ansible-builder create` that scripts/test runs
(its pytest stage, with --quick too). The image definition names the tarball without a
version: galaxy.yml is the only place that holds it, the built tarball is copied to the
name the definition expects."""

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
EE = yaml.safe_load((REPO / "execution-environment.yml").read_text())
VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


def _ee_tarball() -> str:
    """The one tarball the definition copies into the build context (additional_build_files)."""
    [entry] = [f for f in EE["additional_build_files"] if f["src"].endswith(".tar.gz")]
    return entry["src"]


def test_the_definition_holds_no_version():
    # galaxy.yml is the one source of the version: not in the tarball's name, nor in a comment
    assert VERSION not in (REPO / "execution-environment.yml").read_text()
    assert _ee_tarball() == "halb-pair.tar.gz"
    assert EE["dependencies"]["galaxy"]["collections"] == [{"name": f"collections/{_ee_tarball()}", "type": "file"}]


@pytest.fixture(scope="module")
def context(tarball, tmp_path_factory) -> Path:
    builder = tool("ansible-builder")
    if builder is None:
        pytest.fail("no ansible-builder next to this Python or on PATH (run lab/bin/bootstrap)")
    d = tmp_path_factory.mktemp("ee")
    shutil.copy2(REPO / "execution-environment.yml", d)
    # `ansible-galaxy collection build` leaves halb-pair-<version>.tar.gz in a checkout; the
    # definition's comment copies it to the version-less name, as here
    shutil.copy2(tarball, d / _ee_tarball())
    proc = subprocess.run([builder, "create", "-f", "execution-environment.yml", "-c", "context"],
                          cwd=d, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return d / "context"


def test_the_containerfile_installs_the_collection_from_its_tarball(context, tarball):
    assert (context / "Containerfile").is_file(), sorted(p.name for p in context.iterdir())
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "ansible-core" in containerfile and "introspect" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = [c["name"] for c in requirements["collections"]]
    assert names == [f"collections/{_ee_tarball()}"]
    # the file that entry names is in the build context, and is this build's tarball
    assert (context / "_build" / "collections" / _ee_tarball()).read_bytes() == tarball.read_bytes()


def test_the_collection_declares_its_dependencies_for_the_builder(context, installed):
    # the script the image build runs over its installed collections, run over ours
    proc = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(installed)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = yaml.safe_load(proc.stdout)
    assert found["python"] == []  # nothing beyond ansible-core (meta/ee-requirements.txt)
    system = [line.split("#")[0].strip() for line in found["system"] if "from collection halb.pair" in line]
    assert system == ["openssh-clients [platform:rpm]", "openssh-client [platform:dpkg]"]
    # and they are what meta/execution-environment.yml names, read here from its files
    meta = yaml.safe_load((installed / "ansible_collections" / "halb" / "pair" / "meta" / "execution-environment.yml").read_text())
    root = installed / "ansible_collections" / "halb" / "pair"

    def entries(name: str) -> list[str]:
        lines = (root / meta["dependencies"][name]).read_text().splitlines()
        return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]

    assert system == entries("system")
    assert [line.split("#")[0].strip() for line in found["python"]] == entries("python")
