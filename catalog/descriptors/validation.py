"""Validating a loaded descriptor against the official JSON Schema of its declared version.

The schemas are vendored under ``schemas/<format>/<version>.json`` (see
``schemas/SOURCES.md``). When the declared version has no schema here, the newest one of
the format is used and a warning says so; errors about the version key itself are then
dropped, as the warning already covers them.

Each schema error comes back as a :class:`SchemaIssue`; ``fatal`` marks those that leave the
descriptor without a usable identity (see :data:`IDENTITY`), which the caller rejects
whatever the mode. What happens to the others is the caller's policy.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from catalog.descriptors.formats import TITLES, VERSION_KEYS
from catalog.descriptors.model import Issue

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
MAX_ERRORS = 50

# Per format: (regex over the JSON path of an object, keys that identify it). A missing or
# mistyped identity key makes the document unusable; any other schema error does not.
_PROPERTY = r"schema/\d+(?:/properties/\d+|/items)*/properties/\d+"
IDENTITY: dict[str, list[tuple[str, frozenset[str]]]] = {
    "odps": [
        (r"", frozenset({"id", "apiVersion", "kind"})),
        (r"(?:input|output)Ports/\d+", frozenset({"name"})),
    ],
    "odcs": [
        (r"", frozenset({"id", "apiVersion", "kind"})),
        (r"schema/\d+", frozenset({"name"})),
        (_PROPERTY, frozenset({"name"})),
    ],
    "dcs": [
        (r"", frozenset({"id", "info", "dataContractSpecification"})),
        (r"info", frozenset({"title"})),
    ],
    "dpds": [
        (r"", frozenset({"dataProductDescriptor", "info"})),
        (r"info", frozenset({"name", "fullyQualifiedName"})),
    ],
    "dps": [
        (r"", frozenset({"id", "info"})),
        (r"info", frozenset({"title"})),
        (r"(?:input|output)Ports/\d+", frozenset({"id"})),
    ],
}


@dataclass
class SchemaIssue:
    path: str
    message: str
    fatal: bool = False


@dataclass
class Validation:
    schema_version: str  # the version whose schema was used
    errors: list[SchemaIssue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)  # e.g. the fallback to the newest


@functools.cache
def versions(fmt: str) -> tuple[str, ...]:
    """The schema versions bundled for ``fmt``, oldest first."""
    return tuple(sorted((p.stem for p in (SCHEMA_DIR / fmt).glob("*.json")), key=_version_order))


def validate(doc: dict[str, Any], fmt: str, declared: str) -> Validation:
    available = versions(fmt)
    wanted = _normalized(declared)
    match = next((v for v in available if v.lower() == wanted.lower()), None)
    result = Validation(match or available[-1])
    if match is None:
        said = f"version {declared!r}" if declared else "no version"
        message = (
            f"{said} declared and no {TITLES[fmt]} schema for it is bundled: "
            f"validated against the newest, {available[-1]}"
        )
        result.warnings.append(Issue(VERSION_KEYS[fmt], message))
    if _fast_validator(fmt, result.schema_version).is_valid(doc):
        return result
    errors = sorted(_validator(fmt, result.schema_version).iter_errors(doc), key=_sort_key)
    for error in errors:
        path = _path(error)
        if match is None and path == VERSION_KEYS[fmt] and error.validator in ("enum", "const"):
            continue
        result.errors.append(SchemaIssue(path, _message(error), _is_fatal(fmt, path, error)))
    return result


@functools.cache
def _schema(fmt: str, version: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / fmt / f"{version}.json").read_text(encoding="utf-8")
    )
    return schema


@functools.cache
def _validator(fmt: str, version: str) -> Validator:
    """The reference validator: it explains what is wrong, with paths and messages."""
    schema = _schema(fmt, version)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.cache
def _fast_validator(fmt: str, version: str) -> Any:
    """A compiled validator that only says whether a document is valid, ~200 times faster
    on ODCS 3.1's ``unevaluatedProperties``; the reference one runs only when it is not."""
    return jsonschema_rs.validator_for(_schema(fmt, version))


def _normalized(declared: str) -> str:
    version = declared.strip().removeprefix("v").removeprefix("V")
    if re.fullmatch(r"\d+\.\d+", version):
        version += ".0"
    return version


def _version_order(version: str) -> tuple[tuple[int, ...], int]:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0]))
    return numbers, 0 if "-" in version else 1  # 1.0.0-DRAFT before 1.0.0


def _path(error: exceptions.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path)


def _sort_key(error: exceptions.ValidationError) -> tuple[str, str]:
    return _path(error), error.message


def _is_fatal(fmt: str, path: str, error: exceptions.ValidationError) -> bool:
    if error.validator == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        return bool(missing) and _is_identity(fmt, path, missing.group(1) if missing else "")
    if error.validator == "type":
        parent, _, key = path.rpartition("/")
        return path == "" or _is_identity(fmt, parent, key)
    return False


def _is_identity(fmt: str, parent: str, key: str) -> bool:
    return any(
        re.fullmatch(pattern, parent) and key in keys for pattern, keys in IDENTITY.get(fmt, [])
    )


def _message(error: exceptions.ValidationError) -> str:
    message = _shortened(error.message, error.instance)
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = exceptions.best_match(error.context)
        where = "/".join(str(p) for p in best.relative_path)
        detail = _shortened(best.message, best.instance)
        message += f" (closest: {where + ': ' if where else ''}{detail})"
    return message


def _shortened(message: str, instance: Any) -> str:
    """The message with a long value replaced by a summary of it."""
    written = repr(instance)
    if len(written) <= 60 or written not in message:
        return message
    if isinstance(instance, dict):
        summary = "an object"
    elif isinstance(instance, list):
        summary = f"a list of {len(instance)}"
    else:
        summary = written[:40] + "…"
    return message.replace(written, summary)
