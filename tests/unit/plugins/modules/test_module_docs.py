"""Every module documents itself in valid YAML, and its documented options match its argument_spec."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_is_yaml_and_matches_the_argument_spec(name):
    module = importlib.import_module(f"ansible_collections.kubenode.runtime_chain.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    yaml.safe_load(module.EXAMPLES)
    returns = yaml.safe_load(module.RETURN)
    assert doc["module"] == name and doc["short_description"] and returns
    assert set(doc["options"]) == set(module.ARGUMENT_SPEC)
    for option, spec in module.ARGUMENT_SPEC.items():
        assert doc["options"][option]["type"] == spec["type"], option
        assert doc["options"][option].get("default") == spec.get("default"), option
        assert doc["options"][option]["description"], option
