"""What every backend makes of a stored document for a page of results: the hit, its
description with the query's words marked, the columns the query matched, and the
words it matched on; and a facet's values as the page lists them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from whoosh import highlight
from whoosh.analysis import Analyzer

from catalog.search.analysis import identifier_forms, identifier_parts
from catalog.search.base import FacetValue, Hit
from catalog.search.query import ParsedText

SNIPPET_CHARS = 220
MAX_MATCHED_COLUMNS = 8


class Snippets:
    """Descriptions with some description words marked, as whoosh's highlighter marks
    them for a hit; ``words`` are index terms, as ``analyzer`` makes them."""

    def __init__(self, words: frozenset[str], analyzer: Analyzer) -> None:
        self.words = words
        self.analyzer = analyzer
        self.highlighter = highlight.Highlighter(
            fragmenter=highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60),
            formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
        )

    def __call__(self, text: str) -> str:
        if not text or not self.words:
            return ""
        tokens = self.analyzer(text, positions=True, chars=True, mode="index", removestops=False)
        tokens = self.highlighter._merge_matched_tokens(
            highlight.set_matched_filter(tokens, self.words)
        )
        fragments = self.highlighter.fragmenter.fragment_tokens(text, tokens)
        top = highlight.top_fragments(fragments, 2, self.highlighter.scorer, self.highlighter.order)
        return self.highlighter.formatter.format(top)  # type: ignore[no-any-return]


def stored_hit(
    stored: Mapping[str, Any],
    *,
    doc_id: str,
    doc_type: str,
    name: str,
    score: float,
    snippets: Snippets | None,
    words: set[str],
) -> Hit:
    """A hit from a document's stored fields: its description marked (or shortened when
    nothing in it matched), and the columns the query's words name."""
    description = stored.get("description", "")
    updated = stored.get("updated_at")
    return Hit(
        id=doc_id,
        type=doc_type,
        name=name,
        url=stored["url"],
        subtitle=stored.get("subtitle", ""),
        score=round(score, 4),
        snippet=(snippets(description) if snippets else "") or plain(description),
        columns=matched_columns(stored.get("columns", ""), words),
        facets=stored.get("facets", {}),
        labels=stored.get("labels", {}),
        updated_at=datetime.fromisoformat(updated) if updated else None,
        consumers=stored.get("consumers", 0),
    )


def match_words(parsed: ParsedText, corrected: Mapping[str, Iterable[str]]) -> set[str]:
    """The words a hit's columns are matched against: what was typed (and its
    identifier parts) and the corrections of its typos."""
    typed = [*parsed.words, *(w for _, w in parsed.fielded)]
    typed += [w for phrase in parsed.phrases for w in phrase.split()]
    words = {w.lower() for w in typed} | {p for w in typed for p in identifier_parts(w)}
    return words | {t for terms in corrected.values() for t in terms}


def facet_values(
    chosen: Sequence[str], counts: dict[str, int], labels: Mapping[str, str]
) -> list[FacetValue]:
    """A facet's values, most found first; a chosen value stays listed with none found."""
    for value in chosen:
        counts.setdefault(value, 0)
    return [
        FacetValue(value, labels.get(value, value), count, value in chosen)
        for value, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def plain(description: str) -> str:
    return highlight.htmlescape(_shorten(description), quote=False) if description else ""


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


def matched_columns(columns: str, words: set[str]) -> list[str]:
    if not columns or not words:
        return []
    matched = []
    for column in columns.split("\n"):
        forms = {form for form, _ in identifier_forms(column)}
        if forms & words or any(f.startswith(w) for f in forms for w in words if len(w) >= 3):
            matched.append(column)
            if len(matched) == MAX_MATCHED_COLUMNS:
                break
    return matched
