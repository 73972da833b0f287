"""Parse and validate OpenLineage events at the boundary.

Identity is validated strictly (an event we cannot place is rejected with the path of each
problem); description is accepted leniently: every facet is kept as JSON, and a known facet
of the wrong shape becomes a warning on the event and is left out of the projection.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RUN_EVENT_TYPES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
NAME_LENGTH = 1024  # of the namespace, job and dataset name columns
URL_LENGTH = 2048  # of the producer and schemaURL columns

_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d+))?(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


class EventInvalid(Exception):
    """The event cannot be accepted; ``errors`` name the path of each problem."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class DatasetRef:
    namespace: str
    name: str
    facets: dict[str, Any]
    io_facets: dict[str, Any]
    path: str  # where it sits in the event, for warnings


@dataclass
class ParsedEvent:
    """A validated event: identity fields typed, facets still raw JSON."""

    kind: str  # "run" | "dataset" | "job"
    payload: dict[str, Any]
    hash: str
    event_time: datetime
    producer: str
    schema_url: str
    event_type: str = ""
    run_id: uuid.UUID | None = None
    run_facets: dict[str, Any] = field(default_factory=dict)
    job_namespace: str = ""
    job_name: str = ""
    job_facets: dict[str, Any] = field(default_factory=dict)
    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    dataset: DatasetRef | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    canonical: str = ""  # canonical_json(payload)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append({"path": path, "message": message})


def canonical_json(event: Any) -> str:
    """The event as compact JSON with sorted keys: key order and whitespace do not make a
    new event. It is also the text stored in the raw log."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(event: Any, text: str | None = None) -> str:
    """SHA-256 of the canonical JSON (pass ``text`` when it is already serialized)."""
    return hashlib.sha256((text or canonical_json(event)).encode()).hexdigest()


def parse_datetime(value: Any) -> tuple[datetime | None, str | None]:
    """Parse an ISO-8601 timestamp; returns (value, warning) or (None, None) when invalid.

    Nanoseconds are truncated to microseconds; a missing offset is read as UTC with a
    warning (Marquez accepts such events too).
    """
    if not isinstance(value, str):
        return None, None
    match = _DATETIME.match(value.strip())
    if not match:
        return None, None
    time = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"]
    warning = None
    if tz is None:
        tz, warning = "+00:00", "no time zone offset; read as UTC"
    elif tz in ("Z", "z"):
        tz = "+00:00"
    elif ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:] or '00'}"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{time}.{frac}{tz}")
        # In UTC, 0001-01-01T00:00+05:00 and 9999-12-31T23:59-05:00 fall outside the years
        # a datetime holds.
        return parsed.astimezone(UTC), warning
    except (ValueError, OverflowError):
        return None, None


def _is_nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _facets(container: dict[str, Any], key: str, path: str, event: ParsedEvent) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        event.warn(f"{path}.{key}", "facets must be an object; ignored")
        return {}
    return value


class _Identity:
    """Collects identity errors so that one 400 lists every problem at once."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append({"path": path, "message": message})

    def obj(self, data: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = data.get(key)
        if value is None:
            self.error(path, "is required")
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be an object, not {type(value).__name__}")
            return None
        return value

    def string(
        self, data: dict[str, Any], key: str, path: str, max_length: int = NAME_LENGTH
    ) -> str:
        """A required string, no longer than its column."""
        value = data.get(key)
        if value is None:
            self.error(path, "is required")
        elif not isinstance(value, str):
            self.error(path, f"must be a string, not {type(value).__name__}")
        elif not value.strip():
            self.error(path, "must not be empty")
        elif len(value) > max_length:
            self.error(path, f"must be at most {max_length} characters, not {len(value)}")
        else:
            return value
        return ""


def detect_kind(event: dict[str, Any]) -> str | None:
    """Tell RunEvent, DatasetEvent and JobEvent apart by shape, never by schemaURL."""
    if "run" in event:
        return "run"
    if "dataset" in event and "job" not in event:
        return "dataset"
    if "job" in event:
        return "job"
    return None


def parse_event(raw: Any) -> ParsedEvent:
    """Validate one decoded JSON value as an OpenLineage event, or raise EventInvalid."""
    if not isinstance(raw, dict):
        raise EventInvalid(
            [{"path": "$", "message": f"an event must be a JSON object, not {_json_type(raw)}"}]
        )
    ident = _Identity()
    kind = detect_kind(raw)
    if kind is None:
        raise EventInvalid(
            [
                {
                    "path": "$",
                    "message": "not an OpenLineage event: expected run+job (RunEvent), "
                    "dataset (DatasetEvent) or job (JobEvent)",
                }
            ]
        )
    event_time, time_warning = parse_datetime(raw.get("eventTime"))
    if "eventTime" not in raw:
        ident.error("eventTime", "is required")
    elif event_time is None:
        ident.error("eventTime", "must be an ISO-8601 date-time, e.g. 2024-01-01T12:00:00Z")
    producer = ident.string(raw, "producer", "producer", max_length=URL_LENGTH)
    schema_url = raw.get("schemaURL")
    if schema_url is not None and not isinstance(schema_url, str):
        ident.error("schemaURL", "must be a string")
    elif schema_url is not None and len(schema_url) > URL_LENGTH:
        ident.error("schemaURL", f"must be at most {URL_LENGTH} characters")

    event = ParsedEvent(
        kind=kind,
        payload=raw,
        hash="",
        event_time=event_time or datetime.now(UTC),
        producer=producer,
        schema_url=schema_url or "",
    )
    if time_warning:
        event.warn("eventTime", time_warning)
    if not schema_url:
        event.warn("schemaURL", "missing; accepted")

    if kind == "run":
        _parse_run_event(raw, event, ident)
    elif kind == "dataset":
        _parse_dataset_event(raw, event, ident)
    else:
        _parse_job(raw, event, ident)
        _parse_io(raw, event, ident)

    if ident.errors:
        raise EventInvalid(ident.errors)
    event.canonical = canonical_json(raw)
    event.hash = canonical_hash(raw, event.canonical)
    return event


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _parse_run_event(raw: dict[str, Any], event: ParsedEvent, ident: _Identity) -> None:
    event_type = raw.get("eventType")
    if event_type is not None:
        if not isinstance(event_type, str) or event_type.upper() not in RUN_EVENT_TYPES:
            ident.error("eventType", f"must be one of {', '.join(sorted(RUN_EVENT_TYPES))}")
        else:
            event.event_type = event_type.upper()
    run = ident.obj(raw, "run", "run")
    if run is not None:
        run_id = run.get("runId")
        if run_id is None:
            ident.error("run.runId", "is required")
        else:
            try:
                event.run_id = uuid.UUID(str(run_id)) if isinstance(run_id, str) else None
            except ValueError:
                event.run_id = None
            if event.run_id is None:
                ident.error("run.runId", "must be a UUID")
        event.run_facets = _facets(run, "facets", "run", event)
    _parse_job(raw, event, ident)
    _parse_io(raw, event, ident)


def _parse_job(raw: dict[str, Any], event: ParsedEvent, ident: _Identity) -> None:
    job = ident.obj(raw, "job", "job")
    if job is None:
        return
    event.job_namespace = ident.string(job, "namespace", "job.namespace")
    event.job_name = ident.string(job, "name", "job.name")
    event.job_facets = _facets(job, "facets", "job", event)


def _parse_dataset_event(raw: dict[str, Any], event: ParsedEvent, ident: _Identity) -> None:
    dataset = ident.obj(raw, "dataset", "dataset")
    if dataset is not None:
        event.dataset = _dataset_ref(dataset, "dataset", "", event, ident)


def _parse_io(raw: dict[str, Any], event: ParsedEvent, ident: _Identity) -> None:
    for key, io_key, target in (
        ("inputs", "inputFacets", event.inputs),
        ("outputs", "outputFacets", event.outputs),
    ):
        items = raw.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            ident.error(key, f"must be an array, not {_json_type(items)}")
            continue
        for index, item in enumerate(items):
            path = f"{key}[{index}]"
            if not isinstance(item, dict):
                ident.error(path, f"must be an object, not {_json_type(item)}")
                continue
            ref = _dataset_ref(item, path, io_key, event, ident)
            if ref is not None:
                target.append(ref)


def _dataset_ref(
    data: dict[str, Any], path: str, io_key: str, event: ParsedEvent, ident: _Identity
) -> DatasetRef | None:
    namespace = ident.string(data, "namespace", f"{path}.namespace")
    name = ident.string(data, "name", f"{path}.name")
    if not (namespace and name):
        return None
    return DatasetRef(
        namespace=namespace,
        name=name,
        facets=_facets(data, "facets", path, event),
        io_facets=_facets(data, io_key, path, event) if io_key else {},
        path=path,
    )
