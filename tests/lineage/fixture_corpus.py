"""The shared OpenLineage fixtures as a corpus of events ready to post.

Every JSON file under ``OPENLINEAGE_FIXTURES`` ends up in exactly one place:

* **literal** files hold events exactly as a producer sent them; they are posted unchanged.
* **template** files are *expected events* from producers' own test suites (dbt, Spark,
  Hive, Flink, Airflow, compatibility-tests, the Marquez seed data). Their placeholders
  (``{{ is_uuid(result) }}``, ``${json-unit.any-string}``, ``{{RUN_START_TIME}}``...) are
  replaced by concrete values of the kind they accept.
* **skipped** files, each with a reason from :data:`SKIP_REASONS`.

Templates are *match* templates: the test that owns them compares only the fields they
list against what the producer really sent. ``producer`` and ``eventTime`` are in every
event a producer sends, so when a template leaves them out they are filled in here, the
same way an ``{{ any(result) }}`` would be. Run, job and dataset identity is different: a
run id links a START to its COMPLETE and a name says what the event is about, so a
template missing one of them is skipped rather than given an invented identity.

Everything here is deterministic, so the golden-file tests can build on it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from tests.conftest import OPENLINEAGE_FIXTURES

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
FILLED_PRODUCER = "https://meshport.invalid/tests/fixture-corpus"
_UUID_NAMESPACE = uuid.UUID("6f1c1d1e-9a57-4a0e-8d2e-2f3b5f0b7c11")

# --- why a file is not posted -----------------------------------------------------------

NOT_EVENT_SCHEMA = "not an event: JSON Schema"
NOT_EVENT_API_RESPONSE = "not an event: Marquez API response"
NOT_EVENT_FACET = "not an event: facet example"
EXPRESSION_PLACEHOLDER = "template placeholder is an expression (env_var, conditional)"
NO_RUN_ID = "partial expected-event without run.runId"
NO_JOB = "partial expected-event without job namespace and name"
NO_DATASET_IDENTITY = "partial expected-event with a dataset lacking namespace or name"
NOT_AN_EVENT_SHAPE = "partial expected-event without run, job or dataset"

SKIP_REASONS = (
    NOT_EVENT_SCHEMA,
    NOT_EVENT_API_RESPONSE,
    NOT_EVENT_FACET,
    EXPRESSION_PLACEHOLDER,
    NO_RUN_ID,
    NO_JOB,
    NO_DATASET_IDENTITY,
    NOT_AN_EVENT_SHAPE,
)

# Files that are not events at all, by path (globs relative to the fixtures' openlineage dir).
NOT_EVENT_PATHS: tuple[tuple[str, str], ...] = (
    ("openlineage-spec-schemas/*", NOT_EVENT_SCHEMA),
    ("marquez-api-responses/*", NOT_EVENT_API_RESPONSE),
    ("openlineage-spec-tests/*/*.json", NOT_EVENT_FACET),
    ("openlineage-python-client-tests/nominal_time_without_end.json", NOT_EVENT_FACET),
)

# Sources whose files are expected-event templates (partial, matched field by field),
# whether or not a given file happens to contain a placeholder.
TEMPLATE_PATHS: tuple[str, ...] = (
    "airflow-provider-system-tests/*",
    "compatibility-tests/producer/*",
    "openlineage-airflow-legacy/*",
    "openlineage-dbt/*",
    "openlineage-flink/*",
    "openlineage-hive/*",
    "openlineage-spark/cli/*",
    "openlineage-spark/container/*",
    "openlineage-spark/sparksql/*",
    "marquez/docker/metadata.template.json",
)


@dataclass
class CorpusEvent:
    file: str  # relative to OPENLINEAGE_FIXTURES
    index: int | None  # position in a JSON array, None for a one-event file
    payload: Any
    template: bool

    @property
    def key(self) -> str:
        return self.file if self.index is None else f"{self.file}[{self.index}]"


@dataclass
class Corpus:
    """What the walk found: the events to post and what was left out, with why."""

    files: list[str]
    events: list[CorpusEvent] = field(default_factory=list)
    skipped_files: dict[str, str] = field(default_factory=dict)  # file -> reason
    # Events left out of a file whose other events are posted: "file[index]" -> reason.
    skipped_events: dict[str, str] = field(default_factory=dict)

    def skipped_files_by_reason(self) -> dict[str, int]:
        return dict(Counter(self.skipped_files.values()))

    def skipped_events_by_reason(self) -> dict[str, int]:
        return dict(Counter(self.skipped_events.values()))

    def by_file(self) -> dict[str, list[CorpusEvent]]:
        grouped: dict[str, list[CorpusEvent]] = {}
        for event in self.events:
            grouped.setdefault(event.file, []).append(event)
        return grouped


class Unfillable(Exception):
    """A template cannot become an honest event; ``reason`` is one of SKIP_REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# --- placeholders -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\$\{json-unit\.[a-z-]+\}.*", re.S)
_ANY = re.compile(r"^\{\{\s*(any\(result\)|result is string)\s*\}\}$|^\$\{json-unit\.any-string\}$")
_NUMBER = re.compile(r"^\{\{\s*result is number\s*\}\}$|^\$\{json-unit\.any-number\}$")
_UUID = re.compile(r"^\{\{\s*is_uuid\(result\)\s*\}\}$")
_DATETIME = re.compile(r"^\{\{\s*is_datetime\(result\)\s*\}\}$")
_TRUE = re.compile(r"^\{\{\s*result == true\s*\}\}$")
_REGEX = re.compile(
    r"""^\{\{\s*(?:regex_)?match\(result,\s*(?P<q>['"])(?P<rx>.*)(?P=q)\s*\)\s*\}\}$"""
    r"|^\$\{json-unit\.regex\}(?P<jrx>.*)$",
    re.S,
)
_ENDSWITH = re.compile(r"""^\{\{\s*result\.endswith\((?P<q>['"])(?P<suffix>.*)(?P=q)\)\s*\}\}$""")
_NOT_MATCH = re.compile(r"""^\{\{\s*not_match\(result,\s*(['"]).*\1\s*\)\s*\}\}$""")
# Marquez seed data: {{RUN_START_TIME}}, {{RUN_END_TIME_AFTER_5_MINUTES}}.
_SEED_TIME = re.compile(r"^\{\{RUN_(?:START_TIME|END_TIME_AFTER_(?P<minutes>\d+)_MINUTES)\}\}$")

# What a bare "any value" stands for, by the key that holds it.
_OBJECT_KEYS = {"facets", "inputFacets", "outputFacets"}
_NUMBER_KEYS = {"rowCount", "size", "fileCount", "bytes"}
_TIME_KEYS = {"eventTime", "nominalStartTime", "nominalEndTime"}


def has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(has_placeholder(v) for v in value)
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


def example_for_regex(pattern: str) -> str:
    """A string that fully matches a *simple* regex: literals, escapes, ``\\d``, ``.``,
    one-character classes and quantifiers. Anything else raises :class:`Unfillable`."""
    out: list[str] = []
    i = 0
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            atom, i = {"d": "0", "w": "a", "s": " "}.get(nxt, nxt), i + 2
        elif char == "[":
            end = body.index("]", i)
            members = body[i + 1 : end]
            atom = "0" if members.startswith("\\d") else members.lstrip("\\")[:1]
            i = end + 1
        elif char in "()|^$":
            raise Unfillable(EXPRESSION_PLACEHOLDER, f"regex too complex: {pattern}")
        else:
            atom, i = char, i + 1
        count = 1
        if i < len(body) and body[i] in "*+?{":
            if body[i] == "{":
                end = body.index("}", i)
                count = int(body[i + 1 : end].split(",")[0])
                i = end + 1
            else:
                count = 1 if body[i] == "+" else 0
                i += 1
            atom = "x" if atom == "." else atom
        out.append(atom * count)
    result = "".join(out)
    if not re.fullmatch(pattern, result):
        raise Unfillable(EXPRESSION_PLACEHOLDER, f"no simple example for {pattern}")
    return result


class _Filler:
    """Replaces the placeholders of one template file by deterministic values."""

    def __init__(self, file: str):
        self.file = file

    def uuid(self, seed: str) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.file}|{seed}"))

    def fill(self, value: Any, key: str, seed: str, time: datetime) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v, k, self._seed(value, k, seed), time) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v, key, seed, time) for v in value]
        if isinstance(value, str) and _PLACEHOLDER.search(value):
            return self.concrete(value.strip(), key, seed, time)
        return value

    def _seed(self, parent: dict[str, Any], key: str, seed: str) -> str:
        # A run id is seeded by the job beside it, so the START and COMPLETE of one job
        # in one file share their run, and a parent facet names the parent's own run.
        if key == "run" and isinstance(parent.get("job"), dict):
            job = parent["job"]
            return f"run:{job.get('namespace')}:{job.get('name')}"
        return f"{seed}.{key}"

    def concrete(self, text: str, key: str, seed: str, time: datetime) -> Any:
        if _UUID.match(text) or (key == "runId" and _ANY.match(text)):
            return self.uuid(seed)
        if _DATETIME.match(text) or (key in _TIME_KEYS and _ANY.match(text)):
            return time.isoformat().replace("+00:00", "Z")
        if match := _SEED_TIME.match(text):
            minutes = int(match["minutes"] or 0)
            return (BASE_TIME + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        if _NUMBER.match(text) or (key in _NUMBER_KEYS and _ANY.match(text)):
            return 1
        if _ANY.match(text):
            return {} if key in _OBJECT_KEYS else f"any-{key}"
        if _TRUE.match(text):
            return True
        if match := _ENDSWITH.match(text):
            return match["suffix"]
        if _NOT_MATCH.match(text):
            return "***"
        if match := _REGEX.match(text):
            return example_for_regex(match["rx"] if match["rx"] is not None else match["jrx"])
        raise Unfillable(EXPRESSION_PLACEHOLDER, text[:80])


# --- identity checks for templates ------------------------------------------------------


def _named(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("namespace"), str)
        and isinstance(value.get("name"), str)
        and bool(value["namespace"].strip())
        and bool(value["name"].strip())
    )


def check_template_identity(event: Any) -> None:
    """Raise :class:`Unfillable` when a partial template does not say which run, job or
    dataset it is about."""
    if not isinstance(event, dict):
        raise Unfillable(NOT_AN_EVENT_SHAPE)
    is_run = "run" in event or "eventType" in event
    if not (is_run or "job" in event or "dataset" in event):
        raise Unfillable(NOT_AN_EVENT_SHAPE)
    if is_run and not (isinstance(event.get("run"), dict) and event["run"].get("runId")):
        raise Unfillable(NO_RUN_ID)
    if (is_run or "job" in event) and not _named(event.get("job")):
        raise Unfillable(NO_JOB)
    datasets = [event["dataset"]] if "dataset" in event else []
    for key in ("inputs", "outputs"):
        datasets.extend(event.get(key) or [])
    if not all(_named(d) for d in datasets):
        raise Unfillable(NO_DATASET_IDENTITY)


def fill_template(file: str, events: list[Any]) -> list[Any | Unfillable]:
    """Concrete events for one template file, or why each one cannot be made concrete.

    eventTime follows the order in the file, one second apart.
    """
    filler = _Filler(file)
    filled: list[Any | Unfillable] = []
    for index, raw in enumerate(events):
        time = BASE_TIME + timedelta(seconds=index)
        try:
            event = filler.fill(raw, "", "", time)
            check_template_identity(event)
        except Unfillable as exc:
            filled.append(exc)
            continue
        event.setdefault("producer", FILLED_PRODUCER)
        event.setdefault("eventTime", time.isoformat().replace("+00:00", "Z"))
        filled.append(event)
    return filled


# --- the walk ---------------------------------------------------------------------------


def _not_event_reason(relative: str) -> str | None:
    for pattern, reason in NOT_EVENT_PATHS:
        if fnmatch(relative, pattern):
            return reason
    return None


def is_template(relative: str, content: Any) -> bool:
    return any(fnmatch(relative, p) for p in TEMPLATE_PATHS) or has_placeholder(content)


def _read(relative: str, root: Path) -> tuple[list[Any], list[int | None]]:
    content = load_json(relative, root)
    if isinstance(content, list):
        return content, list(range(len(content)))
    return [content], [None]


def load_corpus(root: Path = OPENLINEAGE_FIXTURES) -> Corpus:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
    corpus = Corpus(files=files)
    for relative in files:
        if reason := _not_event_reason(relative):
            corpus.skipped_files[relative] = reason
            continue
        raw, positions = _read(relative, root)
        template = is_template(relative, raw)
        events = fill_template(relative, raw) if template else raw
        posted = [
            (i, e) for i, e in zip(positions, events, strict=True) if not isinstance(e, Unfillable)
        ]
        left_out = [
            (i, e) for i, e in zip(positions, events, strict=True) if isinstance(e, Unfillable)
        ]
        if not posted:
            corpus.skipped_files[relative] = left_out[0][1].reason
            continue
        for i, e in left_out:
            corpus.skipped_events[f"{relative}[{i}]"] = e.reason
        corpus.events.extend(CorpusEvent(relative, i, e, template) for i, e in posted)
    return corpus


def template_events(relative: str) -> list[Any]:
    """The concrete events of one template file (for golden tests)."""
    raw, _ = _read(relative, OPENLINEAGE_FIXTURES)
    events = fill_template(relative, raw)
    for event in events:
        if isinstance(event, Unfillable):
            raise event
    return events


def load_json(relative: str, root: Path = OPENLINEAGE_FIXTURES) -> Any:
    return json.loads((root / relative).read_text(encoding="utf-8"))
