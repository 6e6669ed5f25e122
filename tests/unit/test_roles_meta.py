"""Static rules every role keeps: argument_specs and defaults name the same
variables with the same defaults, and every template starts with ansible_managed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if (p / "meta").is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options), "every default documented, every option defaulted"
    for name, spec in options.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], f"{name}: argument_specs default differs from defaults/main.yml"
        else:
            assert defaults[name] in (None, [], {}, ""), f"{name}: has a default but argument_specs names none"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_have_descriptions(role):
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    missing = [n for n, s in options.items() if not s.get("description")]
    assert missing == []


TEMPLATES = sorted(p for role in ROLES for p in (role / "templates").rglob("*.j2") if "macros" not in p.parts)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_template_has_ansible_managed_header(template):
    assert template.read_text().lstrip().startswith("{{ ansible_managed | comment }}")
