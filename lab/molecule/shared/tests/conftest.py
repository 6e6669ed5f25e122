"""Verify helpers: the scenario's inventory and fast podman:// (or docker://) hosts (no ansible per command)."""

from __future__ import annotations

import functools
import json
import os
import subprocess

import pytest
import testinfra


@functools.lru_cache(maxsize=1)
def inventory() -> dict:
    inv = os.environ["MOLECULE_INVENTORY_FILE"]
    # not into the run's log (ANSIBLE_LOG_PATH): it holds every variable, secrets too
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_LOG_PATH"}
    out = subprocess.run(
        ["ansible-inventory", "-i", os.path.dirname(inv), "--list"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(out)


def group(name: str) -> list[str]:
    return inventory().get(name, {}).get("hosts", [])


def hostvars(name: str) -> dict:
    return inventory()["_meta"]["hostvars"].get(name, {})


def container(name: str) -> str:
    # the container is named after the inventory host (ansible_host is the node's address
    # when the scenario connects over SSH)
    return name


@functools.cache
def node(name: str):
    # as root through the engine, whatever the scenario's own connection: verify observes
    engine = os.environ.get("HALB_ENGINE") or "podman"
    return testinfra.get_host(f"{engine}://{container(name)}")


def lab_vips() -> list[dict]:
    return hostvars(group("lb")[0])["lab_vips"]


def pytest_generate_tests(metafunc):
    if "lb" in metafunc.fixturenames:
        metafunc.parametrize("lb", group("lb"))
    if "vip" in metafunc.fixturenames:
        metafunc.parametrize("vip", lab_vips(), ids=[v["address"] for v in lab_vips()])


@pytest.fixture(scope="session")
def client():
    return node(group("client")[0])
