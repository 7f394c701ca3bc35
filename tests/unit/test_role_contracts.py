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


def _private_names(text: str) -> set[str]:
    import re

    return set(re.findall(r"\b__[a-z][a-z0-9_]*", text))


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_another_roles_private_variables(role):
    """Roles talk through their contracts: a ``__<other role>_*`` name in a role is a read of
    that role's internals (a register, set_fact or vars/ value), so it fails."""
    others = sorted((r for r in ROLES if r != role), key=len, reverse=True)
    offenders = []
    for path in sorted(Path("roles", role).rglob("*")):
        if path.suffix not in (".yml", ".yaml", ".j2") or not path.is_file():
            continue
        for name in _private_names(path.read_text()):
            owner = next((r for r in others if name.startswith(f"__{r}_")), None)
            if owner and not name.startswith(f"__{role}_"):
                offenders.append(f"{path}: {name} (private to role {owner})")
    assert offenders == []


def test_playbooks_read_no_role_private_variables():
    offenders = [f"{path}: {name}" for path in sorted(Path("playbooks").rglob("*.yml"))
                 for name in _private_names(path.read_text()) if any(name.startswith(f"__{r}_") for r in ROLES)]
    assert offenders == []


def test_the_runtime_to_socket_map_is_written_once():
    """Each runtime's socket is written once, as the runtime role's default (containerd_address,
    crio_listen); roles, playbooks, module code, the test bed and the VM tests derive from it.
    (The argument specs document the same defaults and are checked against them above; module
    EXAMPLES and unit-test tables are documentation and data.)"""
    import re

    roots = ["roles", "playbooks", "plugins/module_utils", "plugins/filter", "molecule", "tools", "inventories/local",
             "tests/integration", "tests/render.py"]
    hits = []
    for root in roots:
        paths = [Path(root)] if Path(root).is_file() else Path(root).rglob("*")
        for path in paths:
            if path.is_file() and path.suffix in (".yml", ".yaml", ".py", ".j2", ".sh") and "meta" not in path.parts:
                for socket in ("/run/containerd/containerd.sock", "/run/crio/crio.sock"):
                    hits += [f"{path}: {socket}"] * len(re.findall(re.escape(socket), path.read_text()))
    assert sorted(hits) == ["roles/containerd/defaults/main.yml: /run/containerd/containerd.sock",
                            "roles/crio/defaults/main.yml: /run/crio/crio.sock"]


def _boolean_options() -> set[str]:
    names = set()
    for role in ROLES:
        for spec in (_load(Path("roles", role, "meta", "argument_specs.yml")).get("argument_specs") or {}).values():
            names |= {name for name, option in (spec.get("options") or {}).items() if option.get("type") == "bool"}
    return names


def test_booleans_are_read_as_booleans():
    """``-e name=false`` arrives as the string "false", which is true: every boolean option a
    task, template or playbook tests goes through ``| bool`` (argument validation checks the
    type but hands the string on). Exempt: assignments (``name: value``), ``name=...`` and
    ``name is ...`` in messages, and comments."""
    import re

    names = _boolean_options()
    pattern = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b(?!\s*\|\s*bool)(?!\s*:)(?!=)(?!\s+is\s)")
    offenders = []
    files = [p for p in [*Path("roles").rglob("*"), *Path("playbooks").rglob("*")]
             if p.is_file() and p.suffix in (".yml", ".yaml", ".j2") and "defaults" not in p.parts and "meta" not in p.parts]
    for path in sorted(files):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("{#") else ""
            offenders += [f"{path}:{number}: {line.strip()}" for match in pattern.finditer(code) if match]
    assert offenders == []
