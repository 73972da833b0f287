"""An SLO's evidence in words, with links: which run, which dataset, which checks.

Evaluation stores evidence as JSON (see :mod:`governance.slo`); pages show it as short
sentences made of :class:`Words`, so that templates only draw text and links.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils import timezone

from catalog.models import Dataset

SHOWN = 5  # names listed before "and N more"


@dataclass(frozen=True)
class Words:
    text: str
    url: str = ""
    title: str = ""  # shown on hover: the exact time, the full identifier
    mono: bool = False


Line = list[Words]


@dataclass(frozen=True)
class Named:
    """A dataset that evidence names by its ``namespace:name`` label."""

    pk: int
    name: str


def dataset_labels(evidences: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ``namespace:name`` labels that evidence (and its ``latest``) names."""
    labels = set()
    for evidence in evidences:
        for part in (evidence, evidence.get("latest") or {}):
            if isinstance(part, Mapping) and isinstance(part.get("dataset"), str):
                labels.add(part["dataset"])
    return labels


def datasets_named(labels: set[str]) -> dict[str, Named]:
    """The datasets behind ``labels``, in one query. A namespace may hold ``:`` itself
    (``postgres://db:5432``), so every split of a label is a candidate name."""
    names = {label[i + 1 :] for label in labels for i, c in enumerate(label) if c == ":"}
    if not names:
        return {}
    rows = Dataset.objects.filter(name__in=names).values_list("pk", "namespace__name", "name")
    return {f"{ns}:{name}": Named(pk, name) for pk, ns, name in rows if f"{ns}:{name}" in labels}


def evidence_lines(evidence: Mapping[str, Any], datasets: Mapping[str, Named]) -> list[Line]:
    """Sentences telling what the evidence shows; a continued stretch adds its latest
    signal on a line of its own."""
    if not isinstance(evidence, Mapping) or not evidence:
        return []
    lines = []
    main = _what(evidence)
    if isinstance(label := evidence.get("dataset"), str):
        main = [*main, Words(" on " if main else "On "), _dataset(label, datasets)]
    if main:
        lines.append(main)
    latest = evidence.get("latest")
    if isinstance(latest, Mapping) and (then := _what(latest)):
        lines.append([Words("Latest: "), *then])
    return lines


def _what(evidence: Mapping[str, Any]) -> Line:
    if reason := evidence.get("reason"):
        return [Words(_sentence(str(reason)))]
    if isinstance(last := evidence.get("last_success"), Mapping):
        return _freshness(last)
    if "rows" in evidence:
        return _volume(evidence)
    if "total" in evidence:
        return _quality(evidence)
    if "runs" in evidence:
        return _pipeline(evidence)
    if "removed" in evidence or "retyped" in evidence or "findings" in evidence:
        return _schema_break(evidence)
    if "revision" in evidence:
        version = evidence.get("version") or "?"
        return [Words(f"Version {version} published (revision {evidence['revision']})")]
    if "version" in evidence:
        return [Words("Schema version "), Words(str(evidence["version"])[:8], mono=True)]
    return []


def _freshness(last: Mapping[str, Any]) -> Line:
    line = [Words("Last successful write "), *_ago(last.get("at")), Words(" by run "), _run(last)]
    if job := last.get("job"):
        line.append(Words(f" ({job})"))
    return line


def _volume(evidence: Mapping[str, Any]) -> Line:
    line = [Words("Run "), _run(evidence), Words(f" counted {_count(evidence['rows'])} rows")]
    if (median := evidence.get("median")) is not None:
        line.append(Words(f" (recent median {_count(median)})"))
    if problems := evidence.get("problems"):
        line.append(Words(": " + "; ".join(str(p) for p in problems)))
    return line


def _quality(evidence: Mapping[str, Any]) -> Line:
    passed, total = evidence.get("passed", 0), evidence["total"]
    line = [Words("Run "), _run(evidence), Words(f": {passed} of {total} checks passed")]
    failing = [
        f"{f.get('assertion', '?')}" + (f" on {f['column']}" if f.get("column") else "")
        for f in evidence.get("failing") or []
        if isinstance(f, Mapping)
    ]
    if failing:
        line.append(Words("; failing: " + _listed(failing, total - passed)))
    return line


def _pipeline(evidence: Mapping[str, Any]) -> Line:
    runs, completed = evidence["runs"], evidence.get("completed", 0)
    line = [Words(f"{completed} of {runs} runs completed")]
    if isinstance(failed := evidence.get("last_failed"), Mapping):
        line += [Words("; last failure "), *_ago(failed.get("at")), Words(", run "), _run(failed)]
    return line


def _schema_break(evidence: Mapping[str, Any]) -> Line:
    parts = []
    if removed := evidence.get("removed"):
        parts.append("removed " + _listed([str(r) for r in removed]))
    if retyped := evidence.get("retyped"):
        parts.append("changed the type of " + _listed([str(r) for r in retyped]))
    if findings := evidence.get("findings"):
        parts.append("breaking: " + "; ".join(str(f) for f in findings))
    if "revision" in evidence:
        head = f"Revision {evidence['revision']} (version {evidence.get('version') or '?'}) "
        return [Words(head + ", ".join(parts) + " without a new major version")]
    version = str(evidence.get("version", ""))
    return [
        Words("Schema version "),
        Words(version[:8], title=version, mono=True),
        Words(" " + ", ".join(parts) + " without a new major version"),
    ]


def _run(evidence: Mapping[str, Any]) -> Words:
    raw = str(evidence.get("run", ""))
    try:
        run_uuid = uuid.UUID(raw)
    except ValueError:
        return Words(raw or "?", mono=True)
    url = reverse("lineage:run-detail", args=[run_uuid])
    return Words(str(run_uuid)[:8], url=url, title=str(run_uuid), mono=True)


def _dataset(label: str, datasets: Mapping[str, Named]) -> Words:
    found = datasets.get(label)
    if found is None:
        return Words(label, mono=True)
    url = reverse("catalog:dataset-detail", args=[found.pk])
    return Words(found.name, url=url, title=label, mono=True)


def _ago(raw: Any) -> Line:
    moment = parse_time(raw)
    if moment is None:
        return [Words("at an unknown time")]
    exact = timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
    return [Words(str(naturaltime(moment)), title=exact)]


def parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else timezone.make_aware(moment)


def _count(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def _listed(names: list[str], total: int | None = None) -> str:
    more = max((total if total is not None else len(names)) - SHOWN, len(names) - SHOWN, 0)
    return ", ".join(names[:SHOWN]) + (f" and {more} more" if more else "")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
