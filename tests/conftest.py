# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarations every test run needs, pytest's own (pyproject.toml) and ansible-test
units' (which brings its own pytest configuration but loads this file) alike."""

from __future__ import annotations

MARKERS = {
    "ansible": "runs the real ansible-playbook (slower)",
}


def pytest_configure(config):
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
