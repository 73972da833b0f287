"""The whoosh index's schema, and how a search becomes a whoosh query and a ranking.

Ranking, in the order it decides (this is the one place it is computed):

1. **Exact name.** The whole query equal to a document's name, qualified name or alias
   (``orders``, ``postgres://db:5432/shop.public.orders``, ``dataset:ns:name``) adds a
   clause boosted ``EXACT``: far above any text score, so exact hits come first.
2. **Text score.** BM25F over fields with boosts name > columns > tags > description >
   other prose > SQL (``BOOSTS``). A typed word matches its whole form, its parts as a
   phrase (``SalesRegion`` ≈ ``sales_region``; not in SQL), its stem in prose and, weakly, name
   prefixes (``cust`` → ``customer``). A word of 5+ letters that is in no name, column or
   description is corrected: terms within 1 edit (2 from 8 letters) stand in for it with
   a low boost, so typos find something and never outrank a real match.
3. **Document rank**, a multiplier stored with each document (:func:`document_rank`) and
   applied to every match's text score (``catalog.search.arrays``):
   type (products > datasets > jobs at equal text score), popularity (downstream
   consumers, successful runs in the last 30 days, both log-damped), scorecard level, and
   demotion of deprecated, retired and dropped things.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh import columns as wcolumns
from whoosh import fields as wfields
from whoosh import formats
from whoosh import query as wq
from whoosh.analysis import RegexTokenizer
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.automata.lev import levenshtein_automaton
from whoosh.codec.base import Automata
from whoosh.reading import IndexReader

from catalog.search.analysis import (
    PAIR,
    PREFIX_MAX,
    identifier_analyzer,
    identifier_parts,
    is_stop_word,
    keyword_analyzer,
    pair_terms,
    prefix_analyzer,
    prose_analyzer,
    stem,
)
from catalog.search.base import FACETS, SearchDocument
from catalog.search.query import ParsedText

# Bumped with any change to the schema or the analysis: an index written in another
# version is rebuilt by the outbox writer when it starts (``search_upgrade``).
SCHEMA_VERSION = 2
SEP = "\x1f"  # between values
KV = "\x1e"  # between a facet's name and a value


def facet_term(name: str, value: str) -> str:
    return f"{name}{KV}{value}"


EXACT = 60.0
BOOSTS = {
    "name": 8.0,
    "columns": 4.0,
    "tags": 3.0,
    "description": 2.0,
    "text": 1.0,
    "sql": 0.5,
    "prefix": 0.8,
}
# BM25's length normalisation (0: none, 1: full; 0.75 elsewhere) where length says little:
# a table with more columns is hardly less about each, and ``text`` gathers every other
# piece of prose, long by nature for data products.
FIELD_B = {"columns": 0.5, "text": 0.5}
FUZZY_BOOST = 0.25
PART_BOOST = 0.25
TYPE_RANK = {"product": 1.3, "domain": 1.2, "dataset": 1.15, "team": 1.05}
LEVEL_RANK = {"gold": 1.2, "silver": 1.12, "bronze": 1.05}
STATUS_RANK = {"deprecated": 0.5, "retired": 0.25, "dropped": 0.35, "draft": 0.9}
IDENTIFIER_FIELDS = ("name", "columns", "tags", "sql")
PROSE_FIELDS = ("description", "text")
PAIRED_FIELDS = ("name", "columns", "tags", *PROSE_FIELDS)  # indexed with pair terms
SCORED_FIELDS = (*IDENTIFIER_FIELDS, *PROSE_FIELDS, "exact", "prefix")


class PairlessLength(formats.Frequency):
    """Term frequencies where pair terms do not count in a field's length: a pair repeats
    two words already counted, and BM25 would find every text with pairs twice as long."""

    def word_values(self, value: object, analyzer: object, **kwargs: object) -> Iterator[Any]:
        for word, freq, weight, encoded in super().word_values(value, analyzer, **kwargs):
            yield word, 0 if PAIR in word else freq, weight, encoded


def _paired(analyzer: CompositeAnalyzer, stored: bool = False) -> wfields.TEXT:
    field = wfields.TEXT(analyzer=analyzer, stored=stored, phrase=False)
    field.format = PairlessLength()
    return field


def schema() -> wfields.Schema:
    # No positions anywhere: phrases are pair terms (``catalog.search.analysis``).
    ident, prose = identifier_analyzer(), prose_analyzer()
    facet = RegexTokenizer(r"[^\x1f]+")  # facet values as they are, one term each
    return wfields.Schema(
        id=wfields.ID(unique=True, stored=True),
        type=wfields.ID(stored=True),
        exact=wfields.TEXT(analyzer=keyword_analyzer(), phrase=False),
        name=_paired(ident, stored=True),
        columns=_paired(ident, stored=True),
        tags=_paired(ident),
        description=_paired(prose, stored=True),
        text=_paired(prose),
        sql=wfields.TEXT(analyzer=identifier_analyzer(pairs=False), phrase=False),
        prefix=wfields.TEXT(analyzer=prefix_analyzer(), phrase=False),
        facet=wfields.TEXT(analyzer=facet, phrase=False),  # "<facet>\x1e<value>" terms
        c_facets=wfields.COLUMN(wcolumns.VarBytesColumn()),  # the same, for counting
        c_labels=wfields.COLUMN(wcolumns.VarBytesColumn()),
        rank=wfields.COLUMN(wcolumns.NumericColumn("f")),
        sort_name=wfields.COLUMN(wcolumns.VarBytesColumn()),
        updated=wfields.COLUMN(wcolumns.NumericColumn("Q")),
        url=wfields.STORED(),
        subtitle=wfields.STORED(),
        facets=wfields.STORED(),
        labels=wfields.STORED(),
        updated_at=wfields.STORED(),
        consumers=wfields.STORED(),
        fp=wfields.STORED(),
    )


def document_rank(doc: SearchDocument) -> float:
    popularity = 1 + 0.12 * math.log1p(doc.consumers) + 0.06 * math.log1p(doc.recent_runs)
    level = next(iter(doc.facets.get("level", [])), "")
    status = next(iter(doc.facets.get("status", [])), "")
    return (
        TYPE_RANK.get(doc.type, 1.0)
        * popularity
        * LEVEL_RANK.get(level, 1.0)
        * STATUS_RANK.get(status, 1.0)
    )


def document_fields(doc: SearchDocument) -> dict[str, object]:
    """The whoosh fields of one document."""
    facets = {name: doc.facet_values(name) for name in FACETS}
    packed = SEP.join(facet_term(name, v) for name, values in facets.items() for v in values)
    return {
        "id": doc.id,
        "type": doc.type,
        "exact": "\n".join(exact_terms(doc)),
        "name": doc.name,
        "columns": "\n".join(doc.columns),
        "tags": "\n".join(doc.tags),
        "description": doc.description,
        "text": "\n".join([doc.subtitle, doc.text]),
        "sql": doc.sql,
        "prefix": doc.name,
        "facet": packed,
        "c_facets": packed.encode(),
        "c_labels": SEP.join(f"{k}{KV}{v}" for k, v in doc.labels.items()).encode(),
        "rank": document_rank(doc),
        "sort_name": doc.name.lower().encode(),
        "updated": int(doc.updated_at.timestamp()) if doc.updated_at else 0,
        "url": doc.url,
        "subtitle": doc.subtitle,
        "facets": {k: v for k, v in facets.items() if v},
        "labels": doc.labels,
        "updated_at": doc.updated_at.isoformat() if doc.updated_at else "",
        "consumers": doc.consumers,
        "fp": doc.fingerprint(),
    }


def exact_terms(doc: SearchDocument) -> list[str]:
    return list(dict.fromkeys(v.strip().lower() for v in [doc.name, *doc.exact] if v.strip()))


# --- building queries ------------------------------------------------------------------


class TextQuery:
    """A parsed text turned into whoosh queries, knowing the index's lexicon for typos."""

    def __init__(self, parsed: ParsedText, reader: IndexReader) -> None:
        self.parsed = parsed
        self.reader = reader
        self.corrected: dict[str, list[str]] = {}

    def build(self, *, every_word: bool = True) -> wq.Query | None:
        # Stop words are in no prose: requiring them would turn "cost of goods" into nothing.
        words = [w for w in self.parsed.words if not is_stop_word(w.lower())]
        clauses = [self._word(word) for word in words or self.parsed.words]
        clauses += [self._phrase(text) for text in self.parsed.phrases]
        clauses += [self._fielded(name, word) for name, word in self.parsed.fielded]
        if not clauses:
            return None
        joined: wq.Query = wq.And(clauses) if every_word else wq.Or(clauses)
        if whole := self.parsed.whole.lower():
            joined = wq.Or([joined, wq.Term("exact", whole, boost=EXACT)])
        if self.parsed.excluded:
            excluded = wq.Or([self._word(w, fuzzy=False) for w in self.parsed.excluded])
            joined = wq.AndNot(joined, excluded)
        return joined

    def _word(self, word: str, *, fuzzy: bool = True) -> wq.Query:
        whole = word.lower()
        parts = identifier_parts(word)
        clauses: list[wq.Query] = []
        for field in IDENTIFIER_FIELDS:
            clauses.append(wq.Term(field, whole, boost=BOOSTS[field]))
            if len(parts) > 1 and (phrase := _phrase(field, parts)) not in clauses:
                clauses.append(phrase)  # not in SQL when typed as SQL spells it
        for field in PROSE_FIELDS:
            clauses.append(wq.Term(field, stem(whole), boost=BOOSTS[field]))
            if len(parts) > 1:
                clauses.append(_phrase(field, _prose_words(parts)))
        if len(whole) >= 2:
            clauses.append(wq.Term("prefix", whole[:PREFIX_MAX], boost=BOOSTS["prefix"]))
        if fuzzy:
            clauses.extend(self._typo(whole))
        if len(parts) < 2:
            return wq.Or(clauses)
        # A name or columns about the parts (``customer`` of ``customer_key``) adds to the
        # score of what matches, without matching more. Parts in more than a tenth of the
        # documents would add next to nothing (BM25's idf) for reading long postings.
        common = self.reader.doc_count_all() / 10
        about = [
            wq.Term(field, part, boost=BOOSTS[field] * PART_BOOST)
            for field in ("name", "columns")
            for part in dict.fromkeys(parts)
            if not is_stop_word(part) and 0 < self.reader.doc_frequency(field, part) <= common
        ]
        return wq.AndMaybe(wq.Or(clauses), wq.Or(about)) if about else wq.Or(clauses)

    def _typo(self, word: str) -> list[wq.Query]:
        """Stand-ins for a word of 5+ letters that the index does not hold anywhere."""
        if len(word) < 5 or not word.isalpha() or self._known(word):
            return []
        maxdist = 2 if len(word) >= 8 else 1
        found: list[wq.Query] = []
        for field in ("name", "columns"):
            terms = sorted(_terms_within(self.reader, field, word, maxdist))[:8]
            self.corrected.setdefault(word, [])
            self.corrected[word] = sorted({*self.corrected[word], *terms})
            found += [wq.Term(field, t, boost=BOOSTS[field] * FUZZY_BOOST) for t in terms]
        # The corrected words in prose too: they match there, and the snippet marks them.
        found += [
            wq.Term("description", stem(t), boost=BOOSTS["description"] * FUZZY_BOOST)
            for t in self.corrected[word]
        ]
        return found

    def _known(self, word: str) -> bool:
        return (
            any((field, word) in self.reader for field in ("name", "columns", "tags"))
            or ("text", stem(word)) in self.reader
            or ("description", stem(word)) in self.reader
        )

    def _phrase(self, text: str) -> wq.Query:
        words = [w for part in text.split() for w in identifier_parts(part)]
        if len(words) == 1:
            return self._word(words[0])
        clauses = [_phrase(field, words) for field in IDENTIFIER_FIELDS]
        # Prose drops stop words when indexed, and pairs the words around them: so does
        # the phrase (``cost of goods`` → ``cost good``).
        clauses += [_phrase(field, _prose_words(words)) for field in PROSE_FIELDS]
        return wq.Or(clauses)

    def _fielded(self, field: str, word: str) -> wq.Query:
        whole, parts = word.lower(), identifier_parts(word)
        if field in PROSE_FIELDS:
            whole, parts = stem(whole), _prose_words(parts)
        clauses: list[wq.Query] = [wq.Term(field, whole, boost=BOOSTS[field])]
        if len(parts) > 1 and (phrase := _phrase(field, parts)) not in clauses:
            clauses.append(phrase)
        if field == "text":  # ``description:`` means any prose
            clauses += self._fielded("description", word).subqueries  # type: ignore[attr-defined]
        return wq.Or(clauses)


def _prose_words(words: list[str]) -> list[str]:
    """Words as prose indexes them: stop words dropped, the rest stemmed."""
    return [stem(w) for w in words if not is_stop_word(w)] or [stem(w) for w in words]


def _phrase(field: str, words: list[str]) -> wq.Query:
    """Words next to each other in a field: all their pair terms (one word: the word).
    SQL has no pairs: there, the words as its identifiers spell them (``sales_region``)."""
    if len(words) == 1:
        return wq.Term(field, words[0], boost=BOOSTS[field])
    if field not in PAIRED_FIELDS:
        return wq.Term(field, "_".join(words), boost=BOOSTS[field])
    return wq.And([wq.Term(field, pair, boost=BOOSTS[field]) for pair in pair_terms(words)])


def _terms_within(reader: IndexReader, field: str, word: str, maxdist: int) -> set[str]:
    """Terms within ``maxdist`` edits, counting a swap of two letters as one edit.

    One automaton (Levenshtein: a swap is two edits there) walks each segment's lexicon;
    a multi-segment reader would compute the distance to every term in Python instead.
    The swaps are looked up as terms of their own.
    """
    automaton = _automaton(word, maxdist)
    found = {
        term
        for leaf, _ in reader.leaf_readers()
        if leaf.segment() is not None
        for term in Automata.find_matches(automaton, leaf.cursor(field))
    }
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    found |= {term for term in swaps - {word} if (field, term) in reader}
    return {term for term in found if PAIR not in term}


@functools.lru_cache(maxsize=256)
def _automaton(word: str, maxdist: int) -> Any:
    """The automaton of the words within ``maxdist`` edits sharing the first letter."""
    return levenshtein_automaton(word, maxdist, prefix=1).to_dfa()


def facet_filter(name: str, values: Iterable[str]) -> wq.Query:
    """Documents with any of these values of a facet (facets then AND together)."""
    return wq.Or([wq.Term("facet", facet_term(name, value)) for value in values])


def type_filter(types: Iterable[str]) -> wq.Query:
    return wq.Or([wq.Term("type", t) for t in types])
