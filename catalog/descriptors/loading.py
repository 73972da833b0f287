"""Reading descriptor text (YAML or JSON) into plain JSON-like data, safely.

- ``.json`` (and ``.avsc``) files are JSON, ``.yaml``/``.yml`` files YAML; text from
  elsewhere is JSON when it starts with ``{`` or ``[``. JSON errors are JSON's, which point
  at the right place, not YAML's reading of broken JSON.
- Dates and timestamps stay strings: YAML 1.1 would turn ``dateIn: 2023-01-15`` into a
  ``date``, which JSON Schema then rejects and a stored revision cannot hold. The
  sexagesimal numbers of YAML 1.1 (``09:30`` read as 570) stay strings for the same reason.
- YAML goes through PyYAML's safe loaders: a tag that would build a Python object
  (``!!python/object``) is an error, not an object.
- Anchors and aliases are allowed, but a document whose aliases expand past
  :data:`MAX_NODES` nodes ("billion laughs") or refer to themselves is refused, before
  anything walks the expanded data (5 MB of plain text can hold more nodes than that).
- Text over :data:`MAX_BYTES` is refused before parsing; documents nested past
  :data:`meshport.jsonlimits.MAX_DEPTH` levels, and numbers JSON cannot hold (NaN,
  infinities), are refused after it.
- YAML goes through libyaml (PyYAML's C parser, several times faster) when PyYAML has it
  and the text cannot nest deeper than :data:`C_MAX_DEPTH`; otherwise, and to word a
  syntax error, through the pure-Python parser. Both resolve scalars the same way.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

import yaml

from catalog.descriptors.errors import fail
from meshport import jsonlimits

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 1_000_000  # after alias expansion

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


# The C composer recurses without a bound (a deep enough document crashes the process:
# ~100k levels on an 8 MB stack, ~5k in a thread with 1 MB); 2k levels passed in 1 MB.
C_MAX_DEPTH = 1000


class _StringDates(yaml.resolver.BaseResolver):
    """Resolves scalars as the safe loaders do, minus timestamps and sexagesimal numbers."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        sexagesimal = tag in (_INT, _FLOAT) and _SEXAGESIMAL.match(value)
        if kind is yaml.ScalarNode and implicit[0] and sexagesimal:
            return self.DEFAULT_SCALAR_TAG
        return tag


class _Loader(_StringDates, yaml.SafeLoader):
    """The pure-Python safe loader: its recursion is bounded by Python's limit."""


_CLoader: type[Any] | None = None
if getattr(yaml, "CSafeLoader", None) is not None:

    class _CLoader(_StringDates, yaml.CSafeLoader):  # type: ignore[no-redef]
        """libyaml's parser and composer, the same constructor and resolver."""


class YAMLRefused(yaml.YAMLError):
    """YAML that parses, but is not taken: too large, nested too deeply, holding a number
    JSON cannot, or with aliases that expand too far or refer to themselves."""


def load_text(text: str, *, source: str = "") -> Any:
    """Parse a descriptor's text, JSON or YAML, into dicts, lists and scalars.

    Raises :class:`DescriptorError` (``path`` = ``source``) with the line and column of a
    syntax error, or when the text is too large, nests too deeply or expands too much.
    """
    if _too_large(text):
        raise fail(source, _TOO_LARGE, source=source)
    text = text.removeprefix("\ufeff")
    if _is_json(text, source):
        return _load_json(text, source)
    return _load_yaml(text, source)


def yaml_load(text: str) -> Any:
    """YAML text into dicts, lists and scalars, with :func:`load_text`'s safeguards, for
    YAML that is not a descriptor (scorecard definitions).

    Raises ``yaml.MarkedYAMLError`` (with the line and column) for a syntax error or an
    unknown tag, and :class:`YAMLRefused` for the rest.
    """
    if _too_large(text):
        raise YAMLRefused(_TOO_LARGE)
    text = text.removeprefix("\ufeff")
    data = _parse_yaml(text)
    try:
        jsonlimits.check_text(text, data)  # "\0", "\ud800"
    except jsonlimits.NotText as exc:
        raise YAMLRefused(str(exc)) from None
    return data


def _parse_yaml(text: str) -> Any:
    if _CLoader is not None and _depth_bound(text) <= C_MAX_DEPTH:
        try:
            return _read_yaml(_CLoader(text))
        except YAMLRefused:
            raise
        except yaml.YAMLError:
            pass  # read again below: the errors keep the pure-Python parser's wording
    return _read_yaml(_Loader(text))


_TOO_LARGE = f"file is larger than {MAX_BYTES // (1024 * 1024)} MB"


def _too_large(text: str) -> bool:
    return len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES


def _is_json(text: str, source: str) -> bool:
    """JSON by its file name, else when it starts like JSON; YAML otherwise."""
    suffix = source.lower().rpartition(".")[2] if "." in source else ""
    if suffix in ("yaml", "yml"):
        return False
    return suffix in ("json", "avsc") or text.lstrip().startswith(("{", "["))


def _load_json(text: str, source: str) -> Any:
    try:
        return _jsonable(jsonlimits.loads(text))
    except json.JSONDecodeError as exc:
        message = f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise fail(source, message, source=source) from None
    except ValueError as exc:  # nested too deeply, NaN, a number out of range
        raise fail(source, str(exc), source=source) from None


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml_load(text)
    except YAMLRefused as exc:
        raise fail(source, str(exc), source=source) from None
    except yaml.MarkedYAMLError as exc:
        raise fail(source, _yaml_message(exc), source=source) from None
    except yaml.YAMLError as exc:
        raise fail(source, f"YAML error: {exc}", source=source) from None


def _read_yaml(loader: Any) -> Any:
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        data = loader.construct_document(node)
    except RecursionError:
        raise YAMLRefused(str(jsonlimits.TooDeep())) from None
    finally:
        loader.dispose()
    try:
        jsonlimits.check_depth(data)  # before the walks below, which recurse
    except jsonlimits.TooDeep as exc:
        raise YAMLRefused(str(exc)) from None
    try:
        return _jsonable(data)
    except _NotFinite:
        where = jsonlimits.path_of(data, _not_finite) or "$"
        raise YAMLRefused(f"{where} is not a number JSON can hold (.nan, .inf)") from None


def _depth_bound(text: str) -> int:
    """At least the nesting depth of the YAML ``text``, cheaply: every flow collection
    opens with ``[`` or ``{``, and block nesting needs a column (indentation, or the
    ``- `` of a compact sequence) per level, so a line's length bounds it."""
    longest = max((len(line) for line in text.splitlines()), default=0)
    return text.count("[") + text.count("{") + longest + 1


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    what = "; ".join(part for part in (exc.context, exc.problem) if part)
    return f"YAML syntax error{where}: {what}"


def _check_expansion(root: yaml.Node) -> None:
    """Refuse alias bombs and self-referencing aliases, by counting expanded nodes."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise YAMLRefused("YAML alias refers to itself")
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_NODES:
            raise YAMLRefused(f"YAML aliases expand past {MAX_NODES} nodes")
        in_progress.discard(key)
        sizes[key] = total
        return total

    size(root)


def _jsonable(value: Any) -> Any:
    """What JSON can hold: string keys, lists, and dates written back as text."""
    if isinstance(value, dict):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date):  # only from an explicit !!timestamp tag
        return value.isoformat()
    if _not_finite(value):  # YAML's .nan and .inf
        raise _NotFinite()
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)  # !!binary, !!set: rare enough to keep as text


class _NotFinite(ValueError):
    pass


def _not_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "" if key is None else str(key)
