"""Every role's contract is machine-checked: defaults <-> meta/argument_specs.yml.

Also the naming rules: public variables carry the role prefix, internal ones ``__<role>_``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p.parent.parent.name for p in Path("roles").glob("*/meta/argument_specs.yml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def test_every_role_has_an_argument_spec():
    assert set(ROLES) == {p.name for p in Path("roles").iterdir() if p.is_dir()}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_spec_list_the_same_variables(role):
    defaults = set(_load(Path("roles", role, "defaults", "main.yml")))
    spec = set(_load(Path("roles", role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"])
    assert defaults - spec == set(), "defaults without a spec entry"
    assert spec - defaults == set(), "spec entries without a default"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_type_and_a_description(role):
    options = _load(Path("roles", role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]
    for name, option in options.items():
        assert option.get("type"), f"{role}: {name} has no type"
        assert option.get("description"), f"{role}: {name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    for name in _load(Path("roles", role, "defaults", "main.yml")):
        assert name.startswith(f"{role}_"), f"{role}: {name} lacks the {role}_ prefix"


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_carry_the_double_underscore_prefix(role):
    for path in Path("roles", role, "vars").glob("*.yml"):
        for name in _load(path):
            assert name.startswith(f"__{role}_"), f"{path}: {name} should be __{role}_*"
