"""What users may type in a search box, parsed leniently into a :class:`ParsedText`.

- words: ``churn customer_id SalesRegion`` (every word must match, see the backend);
- phrases: ``"net revenue"`` — an unclosed quote runs to the end of the text;
- filters: ``type:dataset``, ``domain:sales``, ``tag:"gdpr"`` — the facets of
  :data:`catalog.search.base.FACETS`, combined with the other filters;
- fields: ``name:orders``, ``column:customer_id``, ``description:churn``, ``sql:join``;
- exclusion: ``-staging`` drops hits that match the word.

A token is field syntax only when the part before the colon is one of those names, so
qualified names (``postgres://db:5432``, ``dataset:ns:name``) are searched as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.search.base import FACETS, TYPES, QueryError

MAX_QUERY_LENGTH = 500
MAX_WORDS = 24
TEXT_FIELDS = {
    "name": "name",
    "column": "columns",
    "columns": "columns",
    "field": "columns",
    "description": "text",
    "sql": "sql",
}
ENUMERATED = {"type": TYPES}
_TOKEN = re.compile(r'(-?)(?:([a-z]+):)?(?:"([^"]*)(?:"|$)|(\S*))')


@dataclass
class ParsedText:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    fielded: list[tuple[str, str]] = field(default_factory=list)  # (index field, word)
    excluded: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.phrases or self.fielded)

    @property
    def whole(self) -> str:
        """The text as one name, for the exact-match clause."""
        return " ".join([*self.words, *self.phrases]).strip()


def parse(text: str) -> ParsedText:
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError("q", f"The query is {len(text)} characters; at most {MAX_QUERY_LENGTH}.")
    parsed = ParsedText()
    for match in _TOKEN.finditer(text.replace("\x00", "")):
        negate, name, quoted, bare = match.groups()
        if not (negate or name or quoted is not None or bare):
            continue  # the empty match between tokens
        value = (quoted if quoted is not None else bare or "").strip()
        if name and name not in FACETS and name not in TEXT_FIELDS:
            # Not field syntax: ``kafka:orders`` is a word with a colon in it.
            value, name = f"{name}:{value}", None
        if name:
            _add_fielded(parsed, name, value, negate=bool(negate))
        elif value:
            _add_text(parsed, value, quoted is not None, negate=bool(negate))
    if len(parsed.words) + len(parsed.phrases) + len(parsed.fielded) > MAX_WORDS:
        raise QueryError("q", f"The query has more than {MAX_WORDS} words; shorten it.")
    return parsed


def _add_fielded(parsed: ParsedText, name: str, value: str, *, negate: bool) -> None:
    if not value:
        raise QueryError("q", f"“{name}:” needs a value, for example {name}:{_example(name)}.")
    if name in FACETS:
        if negate:
            raise QueryError("q", f"“-{name}:” is not supported; filter on the values you want.")
        allowed = ENUMERATED.get(name)
        if allowed and value.lower() not in allowed:
            raise QueryError("q", f"Unknown {name} “{value}”; one of: {', '.join(allowed)}.")
        parsed.filters.setdefault(name, []).append(value.lower() if allowed else value)
    elif negate:
        parsed.excluded.append(value)
    else:
        parsed.fielded.append((TEXT_FIELDS[name], value))


def _add_text(parsed: ParsedText, value: str, quoted: bool, *, negate: bool) -> None:
    if negate:
        parsed.excluded.append(value)
    elif quoted and " " in value:
        parsed.phrases.append(value)
    else:
        parsed.words.append(value)


def _example(name: str) -> str:
    return {"type": "dataset", "tag": "pii", "domain": "sales", "column": "customer_id"}.get(
        name, "orders"
    )


def validate_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """Facet filters given as parameters: known facets, known values where enumerated."""
    clean: dict[str, list[str]] = {}
    for name, values in filters.items():
        if name not in FACETS:
            raise QueryError(name, f"Unknown filter “{name}”; one of: {', '.join(FACETS)}.")
        for value in values:
            allowed = ENUMERATED.get(name)
            if allowed and value not in allowed:
                raise QueryError(name, f"Unknown {name} “{value}”; one of: {', '.join(allowed)}.")
            if len(value) > 200:
                raise QueryError(name, f"The {name} filter is too long.")
        if values:
            clean[name] = list(dict.fromkeys(values))
    return clean
