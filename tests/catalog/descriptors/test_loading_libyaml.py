"""YAML through libyaml when it is safe: the same data as the pure-Python loader, syntax
errors in its words, and no crash on deeply nested input (libyaml's composer recurses
without bound)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.descriptors import DescriptorError, load_text, loading
from tests.conftest import FIXTURES

YAML_FILES = sorted(
    [
        *(FIXTURES / "descriptors").rglob("*.yaml"),
        *(FIXTURES / "descriptors").rglob("*.yml"),
        *(Path(__file__).resolve().parents[3] / "catalog" / "demo_products").rglob("*.yaml"),
    ]
)


def read_with(loader_class: Any, text: str) -> tuple[str, Any]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return "data", loading._jsonable(loader.construct_document(node)) if node else None
    except yaml.MarkedYAMLError as error:
        return "error", loading._yaml_message(error)
    finally:
        loader.dispose()


def test_libyaml_is_there_and_takes_ordinary_descriptors() -> None:
    text = (YAML_FILES[0]).read_text(encoding="utf-8")

    assert loading._CLoader is not None
    assert loading._depth_bound(text) <= loading.C_MAX_DEPTH


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_both_loaders_read_every_fixture_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace").removeprefix("\ufeff")

    assert read_with(loading._CLoader, text) == read_with(loading._Loader, text)


@pytest.mark.parametrize(
    "text",
    [
        "dateIn: 2023-01-15\nat: 09:30\nlong: 1:30:00\nhex: 0x1F\nyes: yes\nnull: ~\n",
        "a: &a [1]\nb: *a\nc: !!binary aGVsbG8=\n",
    ],
)
def test_both_loaders_resolve_scalars_alike(text: str) -> None:
    assert read_with(loading._CLoader, text) == read_with(loading._Loader, text)


def test_a_syntax_error_is_worded_by_the_pure_python_parser() -> None:
    text = "id: x\nschema:\n  - name: a\n   bad: [1, 2\n"
    _, expected = read_with(loading._Loader, text)

    with pytest.raises(DescriptorError) as error:
        load_text(text, source="broken.yaml")

    assert error.value.issues[0].message == expected
    assert "expected <block end>, but found '<block mapping start>'" in expected


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "".join(" " * i + f"k{i}:\n" for i in range(3_000)) + " " * 3_000 + "v\n",
        "- " * 50_000 + "x\n",
    ],
    ids=["flow", "block", "compact-sequence"],
)
def test_deeply_nested_yaml_is_refused_without_crashing(text: str) -> None:
    assert loading._depth_bound(text) > loading.C_MAX_DEPTH

    with pytest.raises(DescriptorError, match="nested too deeply"):
        load_text(text, source="deep.yaml")
