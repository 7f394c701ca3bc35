"""Every filter is documented, in the YAML file ansible-doc reads for it.

Each filter ``<name>`` of a plugins/filter/*.py FilterModule has ``plugins/filter/<name>.yml``
with DOCUMENTATION (its name, a description, every parameter of the function as an option,
in order, required exactly when the function has no default), EXAMPLES that use it and RETURN.
`ansible-doc -t filter -l kubenode.runtime_chain` lists these descriptions.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

FILTER_DIR = Path(__file__).resolve().parents[4] / "plugins" / "filter"


def collection_filters() -> dict:
    """Filter name -> function, from every filter plugin of the collection."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        module = importlib.import_module(f"ansible_collections.kubenode.runtime_chain.plugins.filter.{path.stem}")
        found.update(module.FilterModule().filters())
    return found


FILTERS = collection_filters()


def test_the_plugins_provide_filters():
    assert FILTERS


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_has_its_doc_file(name):
    path = FILTER_DIR / f"{name}.yml"
    assert path.is_file(), f"filter {name} is undocumented: add {path.name} next to its plugin (DOCUMENTATION, EXAMPLES, RETURN)"
    data = yaml.safe_load(path.read_text())
    doc = data["DOCUMENTATION"]
    assert doc["name"] == name
    assert doc["short_description"] and doc["description"]
    assert f"kubenode.runtime_chain.{name}" in data["EXAMPLES"]
    assert data["RETURN"]["_value"]["description"] and data["RETURN"]["_value"]["type"]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_doc_names_the_function_parameters(name):
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())["DOCUMENTATION"]
    params = list(inspect.signature(FILTERS[name]).parameters.values())
    names = ["_input"] + [p.name for p in params[1:]]
    assert [word.strip() for word in doc["positional"].split(",")] == names
    assert list(doc["options"]) == names
    for option, param in zip(names, params):
        assert doc["options"][option]["description"] and doc["options"][option]["type"], option
        assert bool(doc["options"][option].get("required")) == (param.default is inspect.Parameter.empty), option


def test_no_doc_file_is_left_without_its_filter():
    documented = {path.stem for path in FILTER_DIR.glob("*.yml")}
    assert documented - set(FILTERS) == set()
