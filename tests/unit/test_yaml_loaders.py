"""libyaml's loader reads the packs and strategies exactly as the pure-Python one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arrears.domain.compliance import packs
from arrears.errors import ConfigurationError, FileFormatError
from arrears.strategy import dsl

_PACKS = sorted((Path(packs.__file__).parent / "packs").glob("*.yaml"))
_STRATEGIES = sorted((Path(dsl.__file__).parent.parent / "data" / "strategies").glob("*.yaml"))


class _PureLineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _PureLineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_PureLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def test_the_fast_loader_is_in_use_where_built() -> None:
    assert yaml.__with_libyaml__
    assert issubclass(packs._LineLoader, yaml.CSafeLoader)


@pytest.mark.parametrize("path", _PACKS, ids=lambda p: p.name)
def test_packs_read_with_the_same_values_and_lines(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert packs._load_yaml(text, path.name) == yaml.load(text, Loader=_PureLineLoader)


@pytest.mark.parametrize("path", _STRATEGIES, ids=lambda p: p.name)
def test_strategies_read_with_the_same_values_and_lines(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data, lines = dsl.read_strategy_text(text, fmt="yaml")
    assert data == yaml.safe_load(text)
    assert lines == dsl._yaml_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    assert len(lines) > 10


_BROKEN = [
    ("a: 1\nb: [\n", ":3: not valid YAML: expected the node content, but found '<stream end>'"),
    ("a: 1\n  b: 2\n", ":2: not valid YAML: mapping values are not allowed here"),
    ("a: [1, 2\nb: 3\n", ":2: not valid YAML: expected ',' or ']', but got ':'"),
    ("- a\nb: 1\n", ":2: not valid YAML: expected <block end>, but found '?'"),
]


def test_empty_strategy_document() -> None:
    assert dsl.read_strategy_text("", fmt="yaml") == (None, {})


@pytest.mark.parametrize(("text", "message"), _BROKEN)
def test_broken_documents_are_reported_in_the_pure_parsers_words(text: str, message: str) -> None:
    with pytest.raises(FileFormatError) as strategy_error:
        dsl.read_strategy_text(text, fmt="yaml")
    assert str(strategy_error.value) == "<strategy>" + message
    with pytest.raises(ConfigurationError) as pack_error:
        packs._load_yaml(text, "p.yaml")
    line, problem = message.split(": not valid YAML: ")
    assert str(pack_error.value).startswith(f"p.yaml{line}:")
    assert problem in str(pack_error.value)
