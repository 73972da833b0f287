"""Golden files: every upstream descriptor example in, the normalized product (or the
issues it is rejected with) out.

Each case parses one file of ``../shared/fixtures/descriptors`` with ``parse_path`` and
compares ``to_dict(product)``, warnings included, with
``tests/catalog/descriptors/golden/<fixture path, "/" → "__">.json``. Regenerate after an
intended change with::

    UPDATE_GOLDEN=1 pytest tests/catalog/descriptors/test_parse_golden.py

and read the diff before committing it.

Left out: the JSON Schemas (``<standard>/schema/``), the opendataproducts.org documents
(refused, see ``test_parse.py``) and the files a DPDS example splits its product into
(``apps/``, ``infra/``, ``ports/``), which its own case reads through ``$ref``, except the
one that is a whole DPDS descriptor itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from catalog.descriptors import DescriptorError, parse_path
from catalog.descriptors.model import product_from_dict, to_dict
from tests.conftest import FIXTURES

DESCRIPTORS = FIXTURES / "descriptors"
GOLDEN_DIR = Path(__file__).parent / "golden"
DPDS_COMPONENTS = (
    "dpds/tripexecution/apps/",
    "dpds/tripexecution/infra/",
    "dpds/tripexecution/ports/",
)
STANDALONE_COMPONENTS = {"dpds/tripexecution/ports/trip-events-oport.json"}


def _is_case(relative: str) -> bool:
    parts = relative.split("/")
    if len(parts) > 1 and parts[1] == "schema":
        return False
    if parts[0] == "odps-opendataproducts":
        return False
    return not relative.startswith(DPDS_COMPONENTS) or relative in STANDALONE_COMPONENTS


def cases() -> list[str]:
    files = (p for p in DESCRIPTORS.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    relative = (p.relative_to(DESCRIPTORS).as_posix() for p in files)
    return sorted(r for r in relative if _is_case(r))


def snapshot(relative: str) -> dict[str, Any]:
    try:
        product = parse_path(DESCRIPTORS / relative)
    except DescriptorError as error:
        return {"error": [to_dict(issue) for issue in error.issues]}
    assert product_from_dict(to_dict(product)) == product  # what a revision stores reads back
    return to_dict(product)


def test_there_are_cases_for_every_format() -> None:
    top = {case.split("/")[0] for case in cases()}
    assert top == {
        "datacontract-specification",
        "dataproduct-specification",
        "dpds",
        "odcs",
        "odps-bitol",
    }


@pytest.mark.parametrize("relative", cases())
def test_normalized_descriptor_matches_golden_file(relative: str) -> None:
    actual = json.dumps(snapshot(relative), indent=1, ensure_ascii=False) + "\n"
    golden = GOLDEN_DIR / f"{relative.replace('/', '__')}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
