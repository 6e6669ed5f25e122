# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 12, item 5: every role has its variables for each OS family it claims, each OS
file defines exactly the keys of the role's Debian.yml (the tested one), and a file
for an untested family says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES_DIR = REPO / "roles"
#: each role's folder: the collection's, and the lab's own web backend
ROLE_DIRS = {"keepalived": ROLES_DIR / "keepalived", "nginx": ROLES_DIR / "nginx", "web_backend": REPO / "lab" / "roles" / "web_backend",
             "lvs_real_server": ROLES_DIR / "lvs_real_server"}
# The roles that install something: their vars/ must have the OS files below.
OS_ROLES = ["keepalived", "lvs_real_server", "nginx", "web_backend"]
# Tested in the lab and CI (Debian.yml) and claimed but untested (the rest): per role.
# nginx and web_backend install with apt: Debian only (an EL host is refused by name).
FAMILIES = {"keepalived": ["Debian", "RedHat"], "nginx": ["Debian"], "web_backend": ["Debian"], "lvs_real_server": ["Debian", "RedHat"]}
# Roles run on hosts only in the VM lab (scripts/lab vm, a stage of scripts/test), on Debian 12
# containers: their README says so, and that Debian 13 is not run yet.
VM_LAB_ONLY = {"lvs_real_server"}
UNTESTED = "# untested: no EL image in the lab or CI."


def _os_files(role: str) -> list[Path]:
    return sorted(p for p in (ROLE_DIRS[role] / "vars").glob("*.yml") if p.name != "main.yml")


def test_every_role_with_os_files_is_listed():
    found = sorted(p.parent.parent.name for d in (ROLES_DIR, REPO / "lab" / "roles") for p in d.glob("*/vars/Debian.yml"))
    assert found == OS_ROLES


@pytest.mark.parametrize("role", OS_ROLES)
def test_each_role_has_a_vars_file_per_family_and_no_other(role):
    assert [p.stem for p in _os_files(role)] == sorted(FAMILIES[role])


@pytest.mark.parametrize("path", [p for r in OS_ROLES for p in _os_files(r)], ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_each_os_file_defines_the_keys_of_debian(path):
    debian = yaml.safe_load((path.parent / "Debian.yml").read_text())
    found = yaml.safe_load(path.read_text()) or {}
    assert sorted(found) == sorted(debian), {"missing": sorted(set(debian) - set(found)), "extra": sorted(set(found) - set(debian))}
    for key, value in debian.items():
        assert type(found[key]) is type(value), (key, found[key])


@pytest.mark.parametrize("path", [p for r in OS_ROLES for p in _os_files(r) if p.name != "Debian.yml"],
                         ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_each_untested_os_file_says_so(path):
    assert UNTESTED in path.read_text().splitlines()[:3]


# Galaxy's platform names for the vars files' OS families.
GALAXY_NAMES = {"Debian": "Debian", "RedHat": "EL"}


@pytest.mark.parametrize("role", OS_ROLES)
def test_meta_claims_the_platforms_of_the_vars_files_and_marks_el_untested(role):
    text = (ROLE_DIRS[role] / "meta" / "main.yml").read_text()
    platforms = yaml.safe_load(text)["galaxy_info"]["platforms"]
    assert sorted(p["name"] for p in platforms) == sorted(GALAXY_NAMES[p.stem] for p in _os_files(role))
    if "RedHat" not in FAMILIES[role]:
        return
    assert next(p["versions"] for p in platforms if p["name"] == "EL") == ["9"]
    # the comment just above the EL entry says it is untested (Galaxy's meta has no field for it)
    lines = text.splitlines()
    el = lines.index("    - name: EL")
    comment = []
    for line in reversed(lines[:el]):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    assert "untested" in " ".join(comment), comment


@pytest.mark.parametrize("readme", [ROLES_DIR.parent / "README.md", *(ROLE_DIRS[r] / "README.md" for r in OS_ROLES)],
                         ids=lambda p: p.parent.name)
def test_readme_states_the_tested_platforms(readme):
    text = readme.read_text()
    section = text.split("## Platforms\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in section.splitlines() if line.startswith("| ") and "---" not in line}
    if readme.parent.name in VM_LAB_ONLY:
        assert rows["Debian 12 (bookworm)"].startswith("tested in CI by the VM lab"), rows
        assert rows["Debian 13 (trixie)"].startswith("not yet run on a host"), rows
        assert rows["EL 9 (RHEL, Rocky, AlmaLinux)"].startswith("untested"), rows
        return
    assert rows["Debian 12 (bookworm)"].startswith("tested in CI")
    assert rows["Debian 13 (trixie)"] == "tested in CI by the `fast` scenario"
    el = rows["EL 9 (RHEL, Rocky, AlmaLinux)"]
    role = readme.parent.name
    if role in FAMILIES and "RedHat" not in FAMILIES[role]:
        assert el.startswith("not supported: the role installs with apt"), el
    else:
        assert el.startswith("untested"), el
