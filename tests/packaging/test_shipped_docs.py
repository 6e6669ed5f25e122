# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README and the docs shipped in the tarball point only at files the tarball holds:
every relative link of an installed *.md resolves inside the installed collection."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.ansible

LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    return [t.split("#", 1)[0] for t in LINK.findall(text)
            if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_the_links_are_found():
    assert relative_links("[a](docs/lab.md) [b](https://x.invalid/) [c](#ops) [d](../README.md#operations)") == [
        "docs/lab.md", "../README.md"]


def test_every_link_of_the_shipped_docs_is_in_the_tarball(installed):
    root = installed / "ansible_collections" / "halb" / "pair"
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted(root.glob("roles/*/README.md"))]
    assert (root / "README.md").is_file() and (root / "docs" / "lab.md").is_file()
    missing = [f"{page.relative_to(root)} -> {link}" for page in pages for link in relative_links(page.read_text())
               if not (page.parent / link).resolve().is_relative_to(root.resolve()) or not (page.parent / link).exists()]
    assert missing == []
