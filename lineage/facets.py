"""Read known facets into plain facts, without touching the database.

Each reader takes a facet as posted and returns what the projection needs, or ``None``
with a warning when the facet has the wrong shape. Unknown facets are only kept as JSON.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from lineage.events import NAME_LENGTH, DatasetRef, ParsedEvent, parse_datetime


@dataclass
class FieldFact:
    name: str  # dotted path for nested fields
    type: str
    description: str
    ordinal: int
    parent: str | None


@dataclass
class ColumnEdgeFact:
    output_field: str  # "" for a dataset-wide dependency
    input_namespace: str
    input_name: str
    input_field: str
    type: str
    subtype: str
    description: str
    masking: bool


@dataclass
class AssertionFact:
    assertion: str
    success: bool
    column: str
    severity: str


@dataclass
class StatsFact:
    row_count: int | None = None
    bytes: int | None = None
    file_count: int | None = None
    column_metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class DatasetFacts:
    namespace: str
    name: str
    direction: str  # "input" | "output" | "" (DatasetEvent)
    facets: dict[str, Any]
    io_facets: dict[str, Any]
    fields: list[FieldFact] | None = None
    schema_hash: str = ""
    description: str | None = None
    owners: list[dict[str, str]] | None = None
    tags: list[dict[str, str]] | None = None
    source_name: str | None = None
    source_uri: str | None = None
    physical_name: str | None = None
    subtype: str | None = None
    is_stream: bool = False
    symlinks: list[dict[str, str]] = field(default_factory=list)
    lifecycle_state: str = ""
    previous_namespace: str = ""
    previous_name: str = ""
    column_edges: list[ColumnEdgeFact] = field(default_factory=list)
    assertions: list[AssertionFact] = field(default_factory=list)
    stats: StatsFact | None = None


@dataclass
class JobFacts:
    namespace: str
    name: str
    facets: dict[str, Any]
    description: str | None = None
    sql: str | None = None
    processing_type: str | None = None
    integration: str | None = None
    job_type: str | None = None
    source_code_location: dict[str, Any] | None = None
    owners: list[dict[str, str]] | None = None
    tags: list[dict[str, str]] | None = None


@dataclass
class ParentFact:
    run_id: uuid.UUID
    job_namespace: str
    job_name: str
    root_run_id: uuid.UUID | None = None
    root_job_namespace: str = ""
    root_job_name: str = ""


@dataclass
class RunFacts:
    run_id: uuid.UUID
    facets: dict[str, Any]
    nominal_start: datetime | None = None
    nominal_end: datetime | None = None
    error_message: str | None = None
    error_language: str = ""
    stack_trace: str = ""
    parent: ParentFact | None = None


@dataclass
class EventFacts:
    """Everything one event says, ready to project."""

    event: ParsedEvent
    job: JobFacts | None
    run: RunFacts | None
    datasets: list[DatasetFacts]


# --- helpers ----------------------------------------------------------------------------


class _Reader:
    def __init__(self, event: ParsedEvent):
        self.event = event

    def bad(self, path: str, message: str) -> None:
        self.event.warn(path, message)

    def facet(self, facets: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = facets.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(f"{path}.{key}", "facet must be an object; ignored")
            return None
        if value.get("_deleted") is True:
            return None
        return value

    def text(self, facet: dict[str, Any], key: str, path: str, required: bool = True) -> str | None:
        value = facet.get(key)
        if value is None:
            if required:
                self.bad(f"{path}.{key}", "is required by the facet; facet ignored")
            return None
        if not isinstance(value, str):
            self.bad(f"{path}.{key}", "must be a string; facet ignored")
            return None
        return value

    def number(self, facet: dict[str, Any], key: str, path: str) -> int | None:
        value = facet.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(f"{path}.{key}", "must be a number; ignored")
            return None
        count = int(value)
        if not -(2**63) <= count < 2**63:  # a 64-bit column (1e30 was a 500)
            self.bad(f"{path}.{key}", "is past what a 64-bit count holds; ignored")
            return None
        return count

    def owners(self, facets: dict[str, Any], path: str) -> list[dict[str, str]] | None:
        facet = self.facet(facets, "ownership", path)
        if facet is None:
            return None
        owners = facet.get("owners")
        fpath = f"{path}.ownership.owners"
        if not isinstance(owners, list):
            self.bad(fpath, "must be an array; facet ignored")
            return None
        result = []
        for i, owner in enumerate(owners):
            if not isinstance(owner, dict) or not isinstance(owner.get("name"), str):
                self.bad(f"{fpath}[{i}].name", "is required and must be a string; owner ignored")
                continue
            kind = owner.get("type")
            result.append({"name": owner["name"], "type": kind if isinstance(kind, str) else ""})
        return result

    def tags(self, facets: dict[str, Any], path: str) -> list[dict[str, str]] | None:
        facet = self.facet(facets, "tags", path)
        if facet is None:
            return None
        tags = facet.get("tags")
        if not isinstance(tags, list):
            self.bad(f"{path}.tags.tags", "must be an array; facet ignored")
            return None
        result = []
        for i, tag in enumerate(tags):
            if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
                self.bad(f"{path}.tags.tags[{i}].key", "is required; tag ignored")
                continue
            value = tag.get("value")
            kept = {
                "key": tag["key"],
                "value": "" if value is None else str(value),
                "source": str(tag.get("source") or ""),
            }
            # A dataset's tag may name one of its columns (TagsDatasetFacet ``field``).
            if isinstance(tag.get("field"), str) and tag["field"]:
                kept["field"] = tag["field"]
            result.append(kept)
        return result

    def description(self, facets: dict[str, Any], path: str) -> str | None:
        facet = self.facet(facets, "documentation", path)
        if facet is None:
            return None
        return self.text(facet, "description", f"{path}.documentation")


def schema_hash(fields: list[FieldFact]) -> str:
    shape = [[f.name, f.type, f.description] for f in fields]
    # orjson's text is json.dumps's byte for byte when it is ASCII without DEL (json
    # escapes the rest); the hash must not change, it is stored.
    text = orjson.dumps(shape)
    if not text.isascii() or b"\x7f" in text:
        text = json.dumps(shape, separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest()


# --- job and run ------------------------------------------------------------------------


def read_job(event: ParsedEvent) -> JobFacts:
    r = _Reader(event)
    facets = event.job_facets
    job = JobFacts(namespace=event.job_namespace, name=event.job_name, facets=facets)
    job.description = r.description(facets, "job.facets")
    if (sql := r.facet(facets, "sql", "job.facets")) is not None:
        job.sql = r.text(sql, "query", "job.facets.sql")
    if (jt := r.facet(facets, "jobType", "job.facets")) is not None:
        job.processing_type = r.text(jt, "processingType", "job.facets.jobType", required=False)
        job.integration = r.text(jt, "integration", "job.facets.jobType", required=False)
        job.job_type = r.text(jt, "jobType", "job.facets.jobType", required=False)
    if (loc := r.facet(facets, "sourceCodeLocation", "job.facets")) is not None:
        keys = ("type", "url", "repoUrl", "path", "version", "tag", "branch")
        job.source_code_location = {k: loc[k] for k in keys if isinstance(loc.get(k), str)}
    job.owners = r.owners(facets, "job.facets")
    job.tags = r.tags(facets, "job.facets")
    return job


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def read_run(event: ParsedEvent) -> RunFacts:
    assert event.run_id is not None
    r = _Reader(event)
    facets = event.run_facets
    run = RunFacts(run_id=event.run_id, facets=facets)
    if (nominal := r.facet(facets, "nominalTime", "run.facets")) is not None:
        run.nominal_start, _ = parse_datetime(nominal.get("nominalStartTime"))
        if run.nominal_start is None:
            r.bad("run.facets.nominalTime.nominalStartTime", "must be a date-time; ignored")
        if nominal.get("nominalEndTime") is not None:
            run.nominal_end, _ = parse_datetime(nominal.get("nominalEndTime"))
            if run.nominal_end is None:
                r.bad("run.facets.nominalTime.nominalEndTime", "must be a date-time; ignored")
    if (error := r.facet(facets, "errorMessage", "run.facets")) is not None:
        run.error_message = r.text(error, "message", "run.facets.errorMessage")
        run.error_language = str(error.get("programmingLanguage") or "")
        run.stack_trace = str(error.get("stackTrace") or "")
    if (parent := r.facet(facets, "parent", "run.facets")) is not None:
        run.parent = _read_parent(r, parent)
    return run


def _read_parent(r: _Reader, parent: dict[str, Any]) -> ParentFact | None:
    path = "run.facets.parent"
    prun, pjob = parent.get("run"), parent.get("job")
    run_id = _uuid(prun.get("runId")) if isinstance(prun, dict) else None
    if run_id is None:
        r.bad(f"{path}.run.runId", "is required and must be a UUID; facet ignored")
        return None
    if not (
        isinstance(pjob, dict)
        and isinstance(pjob.get("namespace"), str)
        and isinstance(pjob.get("name"), str)
        and pjob["namespace"]
        and pjob["name"]
    ):
        r.bad(f"{path}.job", "namespace and name are required; facet ignored")
        return None
    if not _names_fit(pjob["namespace"], pjob["name"]):
        r.bad(f"{path}.job", f"namespace and name hold {NAME_LENGTH} characters; facet ignored")
        return None
    fact = ParentFact(run_id=run_id, job_namespace=pjob["namespace"], job_name=pjob["name"])
    root = parent.get("root")
    if isinstance(root, dict):
        rrun, rjob = root.get("run"), root.get("job")
        fact.root_run_id = _uuid(rrun.get("runId")) if isinstance(rrun, dict) else None
        if isinstance(rjob, dict) and _names_fit(rjob.get("namespace"), rjob.get("name")):
            fact.root_job_namespace = str(rjob.get("namespace") or "")
            fact.root_job_name = str(rjob.get("name") or "")
    return fact


def _names_fit(*names: Any) -> bool:
    """Names a facet gives (of a parent job, a symlink, a column's input) are identities:
    past their columns they are left out with a warning, never cut into another name."""
    return all(len(str(name or "")) <= NAME_LENGTH for name in names)


# --- datasets ---------------------------------------------------------------------------


def read_dataset(event: ParsedEvent, ref: DatasetRef, direction: str) -> DatasetFacts:
    r = _Reader(event)
    path = f"{ref.path}.facets"
    facets = ref.facets
    ds = DatasetFacts(
        namespace=ref.namespace,
        name=ref.name,
        direction=direction,
        facets=facets,
        io_facets=ref.io_facets,
    )
    if (schema := r.facet(facets, "schema", path)) is not None:
        ds.fields = _read_fields(r, schema.get("fields"), f"{path}.schema.fields")
        if ds.fields is not None:
            ds.schema_hash = schema_hash(ds.fields)
    ds.description = r.description(facets, path)
    ds.owners = r.owners(facets, path)
    ds.tags = r.tags(facets, path)
    if (source := r.facet(facets, "dataSource", path)) is not None:
        ds.source_name = r.text(source, "name", f"{path}.dataSource", required=False)
        ds.source_uri = r.text(source, "uri", f"{path}.dataSource", required=False)
    if (dtype := r.facet(facets, "datasetType", path)) is not None:
        ds.subtype = r.text(dtype, "datasetType", f"{path}.datasetType")
        ds.is_stream = (ds.subtype or "").upper() in {"STREAM", "TOPIC"}
    if (storage := r.facet(facets, "storage", path)) is not None:
        r.text(storage, "storageLayer", f"{path}.storage")
    _read_symlinks(r, ds, facets, path)
    _read_lifecycle(r, ds, facets, path)
    _read_column_lineage(r, ds, facets, path)
    # Assertions may come as a dataset facet or an input facet.
    for container, cpath in ((facets, path), (ref.io_facets, f"{ref.path}.inputFacets")):
        if (dqa := r.facet(container, "dataQualityAssertions", cpath)) is not None:
            ds.assertions.extend(_read_assertions(r, dqa, f"{cpath}.dataQualityAssertions"))
    ds.stats = _read_stats(r, ref, direction)
    return ds


def _read_fields(
    r: _Reader,
    fields: Any,
    path: str,
    parent: str | None = None,
    out: list[FieldFact] | None = None,
) -> list[FieldFact] | None:
    out = [] if out is None else out
    if not isinstance(fields, list):
        r.bad(path, "must be an array; schema ignored")
        return None
    for i, item in enumerate(fields):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            r.bad(f"{path}[{i}].name", "is required and must be a string; field ignored")
            continue
        name = f"{parent}.{item['name']}" if parent else item["name"]
        if not _names_fit(name):
            r.bad(f"{path}[{i}].name", f"a field's path holds {NAME_LENGTH} characters; ignored")
            continue
        out.append(
            FieldFact(
                name=name,
                type=str(item.get("type") or ""),
                description=str(item.get("description") or ""),
                ordinal=len(out),
                parent=parent,
            )
        )
        if item.get("fields"):
            _read_fields(r, item["fields"], f"{path}[{i}].fields", name, out)
    return out


def _read_symlinks(r: _Reader, ds: DatasetFacts, facets: dict[str, Any], path: str) -> None:
    if (symlinks := r.facet(facets, "symlinks", path)) is None:
        return
    identifiers = symlinks.get("identifiers")
    if not isinstance(identifiers, list):
        r.bad(f"{path}.symlinks.identifiers", "must be an array; facet ignored")
        return
    for i, ident in enumerate(identifiers):
        if not (
            isinstance(ident, dict)
            and isinstance(ident.get("namespace"), str)
            and isinstance(ident.get("name"), str)
            and _names_fit(ident["namespace"], ident["name"])
        ):
            r.bad(
                f"{path}.symlinks.identifiers[{i}]",
                f"namespace and name are required, of {NAME_LENGTH} characters at most",
            )
            continue
        if (ident["namespace"], ident["name"]) != (ds.namespace, ds.name):
            ds.symlinks.append(
                {
                    "namespace": ident["namespace"],
                    "name": ident["name"],
                    "type": str(ident.get("type") or ""),
                }
            )


def _read_lifecycle(r: _Reader, ds: DatasetFacts, facets: dict[str, Any], path: str) -> None:
    if (change := r.facet(facets, "lifecycleStateChange", path)) is None:
        return
    state = r.text(change, "lifecycleStateChange", f"{path}.lifecycleStateChange")
    if state is None:
        return
    ds.lifecycle_state = state.upper()
    previous = change.get("previousIdentifier")
    if isinstance(previous, dict) and _names_fit(previous.get("namespace"), previous.get("name")):
        ds.previous_namespace = str(previous.get("namespace") or "")
        ds.previous_name = str(previous.get("name") or "")


def _read_transformations(item: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    transformations = item.get("transformations")
    result = []
    if isinstance(transformations, list):
        for t in transformations:
            if isinstance(t, dict):
                result.append(
                    (
                        str(t.get("type") or ""),
                        str(t.get("subtype") or ""),
                        str(t.get("description") or ""),
                        t.get("masking") is True,
                    )
                )
    return result or [("", "", "", False)]


def _read_input_fields(
    r: _Reader,
    ds: DatasetFacts,
    output_field: str,
    inputs: Any,
    path: str,
    legacy: tuple[str, str] = ("", ""),
) -> None:
    if not isinstance(inputs, list):
        r.bad(path, "must be an array; ignored")
        return
    for i, item in enumerate(inputs):
        keys = ("namespace", "name", "field")
        if (
            not isinstance(item, dict)
            or not all(isinstance(item.get(k), str) for k in keys)
            or not _names_fit(output_field, *(item[k] for k in keys))
        ):
            r.bad(
                f"{path}[{i}]",
                f"namespace, name and field are required, of {NAME_LENGTH} characters at "
                "most; ignored",
            )
            continue
        for ttype, subtype, desc, masking in _read_transformations(item):
            ds.column_edges.append(
                ColumnEdgeFact(
                    output_field=output_field,
                    input_namespace=item["namespace"],
                    input_name=item["name"],
                    input_field=item["field"],
                    type=ttype or legacy[0],
                    subtype=subtype,
                    description=desc or legacy[1],
                    masking=masking,
                )
            )


def _read_column_lineage(r: _Reader, ds: DatasetFacts, facets: dict[str, Any], path: str) -> None:
    if (cl := r.facet(facets, "columnLineage", path)) is None:
        return
    cpath = f"{path}.columnLineage"
    fields = cl.get("fields", {})
    if not isinstance(fields, dict):
        r.bad(f"{cpath}.fields", "must be an object; ignored")
        fields = {}
    for out_field, spec in fields.items():
        if not isinstance(spec, dict):
            r.bad(f"{cpath}.fields.{out_field}", "must be an object; ignored")
            continue
        legacy = (
            str(spec.get("transformationType") or ""),
            str(spec.get("transformationDescription") or ""),
        )
        _read_input_fields(
            r,
            ds,
            out_field,
            spec.get("inputFields"),
            f"{cpath}.fields.{out_field}.inputFields",
            legacy,
        )
    if "dataset" in cl:
        _read_input_fields(r, ds, "", cl["dataset"], f"{cpath}.dataset")


def _read_assertions(r: _Reader, facet: dict[str, Any], path: str) -> list[AssertionFact]:
    assertions = facet.get("assertions")
    if not isinstance(assertions, list):
        r.bad(f"{path}.assertions", "must be an array; facet ignored")
        return []
    result = []
    for i, item in enumerate(assertions):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("assertion"), str)
            and isinstance(item.get("success"), bool)
        ):
            r.bad(f"{path}.assertions[{i}]", "assertion (string) and success (boolean) required")
            continue
        result.append(
            AssertionFact(
                assertion=item["assertion"],
                success=item["success"],
                column=str(item.get("column") or ""),
                severity=str(item.get("severity") or ""),
            )
        )
    return result


def _read_stats(r: _Reader, ref: DatasetRef, direction: str) -> StatsFact | None:
    io_path = f"{ref.path}.{'inputFacets' if direction == 'input' else 'outputFacets'}"
    stats = StatsFact()
    found = False
    key = "inputStatistics" if direction == "input" else "outputStatistics"
    if (facet := r.facet(ref.io_facets, key, io_path)) is not None:
        found = True
        stats.row_count = r.number(facet, "rowCount", f"{io_path}.{key}")
        stats.bytes = r.number(facet, "size", f"{io_path}.{key}")
        stats.file_count = r.number(facet, "fileCount", f"{io_path}.{key}")
    for container, cpath in ((ref.io_facets, io_path), (ref.facets, f"{ref.path}.facets")):
        if (dqm := r.facet(container, "dataQualityMetrics", cpath)) is None:
            continue
        found = True
        mpath = f"{cpath}.dataQualityMetrics"
        stats.row_count = stats.row_count or r.number(dqm, "rowCount", mpath)
        stats.bytes = stats.bytes or r.number(dqm, "bytes", mpath)
        stats.file_count = stats.file_count or r.number(dqm, "fileCount", mpath)
        metrics = dqm.get("columnMetrics")
        if isinstance(metrics, dict):
            stats.column_metrics = metrics
        elif metrics is None:
            r.bad(f"{mpath}.columnMetrics", "is required by the facet; row counts kept")
        else:
            r.bad(f"{mpath}.columnMetrics", "must be an object; ignored")
    return stats if found else None


def read_event(event: ParsedEvent) -> EventFacts:
    """All facts of one validated event; warnings are appended to ``event.warnings``."""
    job = read_job(event) if event.kind in ("run", "job") else None
    run = read_run(event) if event.kind == "run" else None
    datasets: list[DatasetFacts] = []
    if event.dataset is not None:
        datasets.append(read_dataset(event, event.dataset, ""))
    datasets.extend(read_dataset(event, ref, "input") for ref in event.inputs)
    datasets.extend(read_dataset(event, ref, "output") for ref in event.outputs)
    return EventFacts(event=event, job=job, run=run, datasets=datasets)
