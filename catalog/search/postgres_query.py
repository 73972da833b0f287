"""How documents become rows of the PostgreSQL index, and searches become SQL.

**Terms.** A document's terms are exactly the whoosh index's: each field of
:func:`~catalog.search.whoosh_query.document_fields` run through that field's analyzer of
:func:`~catalog.search.whoosh_query.schema`. Each term is tagged with its field's code
(``n:customer``, ``c:customer_id``, ``d:custom``, ``p:cust``, ``e:shop.public.orders``)
and the document's terms are one ``tsvector``, so one GIN index answers every field.
Pairs (``n:sales region``) stand for phrases, as in whoosh. A term's frequency in its
field (BM25's ``tf``) is written in the weight labels of its positions: one position
per bit of a 4-bit step number (A = 8 … D = 1), so that ``terms @@ 'x:churn':A`` tests
one bit; the steps (:data:`TF_STEPS`) are exact up to 8, then coarser, as BM25 saturates.

**Queries.** A search is built by whoosh's own :class:`~catalog.search.whoosh_query.TextQuery`
(same clauses, boosts, parts, stems, typo rules), over a :class:`Lexicon` that answers its
questions about the index from ``SearchTerm`` rows; the whoosh query tree is then
compiled to SQL: a ``tsquery`` that selects the matches through the GIN index, and a
score that is whoosh's BM25F clause by clause (``idf × boost × tf and length norm``,
summed over the clauses a document matches). What differs: a ``tf`` above 8 is rounded
down to a step; a misspelt word is corrected to names' and columns' words of letters
only (whoosh also considers ``orders1``); equal scores are ordered by type then name
(whoosh: by position in the index); a value given twice to one facet counts once.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from whoosh import query as wq
from whoosh.util.numeric import byte_to_length, length_to_byte

from catalog.search.analysis import PAIR
from catalog.search.arrays import K1, B
from catalog.search.base import FACETS, SearchDocument
from catalog.search.query import ParsedText
from catalog.search.whoosh_query import (
    BOOSTS,
    FIELD_B,
    FUZZY_BOOST,
    PAIRED_FIELDS,
    TextQuery,
    document_fields,
    facet_term,
    schema,
    stem,
)

#: Scored fields and their codes, in the order of ``SearchEntry.lengths``.
CODES = {
    "exact": "e",
    "name": "n",
    "columns": "c",
    "tags": "t",
    "description": "d",
    "text": "x",
    "sql": "s",
    "prefix": "p",
}
FIELD_OF = {code: name for name, code in CODES.items()}
PAIRED_CODES = "".join(CODES[name] for name in PAIRED_FIELDS)
ALL_DOCUMENTS = "*:"  # SearchTerm row: every document
FORMAT_TERM = "*:format"
FACET_CODE = "f"
# tsvector's limit is 2047 bytes a lexeme: longer terms (a huge token) stay unsearchable.
MAX_LEXEME_BYTES = 2040
# And 1 MB a tsvector: past this, a document's least useful terms are left out.
MAX_VECTOR_BYTES = 900_000
TF_STEPS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 28, 40, 64)  # step n (1–15) → tf
TF_BITS = (("A", 8), ("B", 4), ("C", 2), ("D", 1))


def lexeme(field_name: str, text: str) -> str:
    return f"{CODES[field_name]}:{text}"


FIELD_MARK = "#"  # not ":": a field's empty term (``c:`` of a column ``_``) is a term too


def field_row(code: str) -> str:
    """The ``SearchTerm`` row of a field (``n#``): its documents and their summed length."""
    return f"{code}{FIELD_MARK}"


def is_pair(term: str) -> bool:
    return term[:1] in PAIRED_CODES and PAIR in term


def tsquery_lexeme(term: str) -> str:
    """A lexeme as ``tsquery`` (and ``tsvector``) input reads it whatever it holds."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _positions(step: int) -> str:
    """``1B,2C`` for step 6: one position per bit, labelled with the bit's weight."""
    labels = [label for label, bit in TF_BITS if step & bit]
    return ",".join(f"{i}{label}" for i, label in enumerate(labels, 1))


# Made once: a rebuild writes ~100 lexemes a document.
_POSITIONS_OF_TF = [_positions(bisect_right(TF_STEPS, tf) or 1) for tf in range(TF_STEPS[-1] + 1)]


# --- documents ----------------------------------------------------------------------------


@dataclass
class Row:
    """A document as the index stores it (``SearchEntry`` and its PostgreSQL columns)."""

    id: str
    type: str
    name: str
    sort_name: str
    document: str  # JSON
    fingerprint: str
    rank: float
    updated: int
    terms: dict[str, int]  # lexeme → tf
    vector: str  # the terms as tsvector input
    facet_terms: list[str]
    lengths: list[float]
    labels: dict[str, str]

    def copied(self) -> tuple[Any, ...]:
        """The row as ``COPY`` writes it into the staging table (``STAGE_COLUMNS``)."""
        return (
            self.id,
            self.type,
            self.name,
            self.sort_name,
            self.document,
            self.fingerprint,
            self.rank,
            self.updated,
            self.vector,
            self.facet_terms,
            self.lengths,
        )


class Analyzer:
    """Turns documents into rows, with the whoosh schema's analyzers (made once)."""

    def __init__(self) -> None:
        self.fields = {name: schema()[name] for name in CODES}

    def row(self, doc: SearchDocument) -> Row:
        values = document_fields(doc)
        terms: dict[str, int] = {}
        lengths: list[float] = []
        for name, code in CODES.items():
            found, length = self._terms(name, values[name])
            terms.update((f"{code}:{term}", tf) for term, tf in found.items())
            # As whoosh keeps it: in one byte, exact up to 12 and within ~4% above.
            lengths.append(float(byte_to_length(length_to_byte(length))))
        facets = [facet_term(n, v) for n in FACETS for v in doc.facet_values(n)]
        shown = {
            "url": doc.url,
            "subtitle": doc.subtitle,
            "description": doc.description,
            "columns": values["columns"],
            "facets": values["facets"],
            "labels": doc.labels,
            "updated_at": values["updated_at"],
            "consumers": doc.consumers,
        }
        terms = _bounded(terms)
        return Row(
            id=doc.id,
            type=doc.type,
            name=doc.name,
            sort_name=doc.name.lower(),
            document=json.dumps(shown, ensure_ascii=False),
            fingerprint=str(values["fp"]),
            rank=float(values["rank"]),  # type: ignore[arg-type]
            updated=int(values["updated"]),  # type: ignore[call-overload]
            terms=terms,
            vector=tsvector_text(terms),
            facet_terms=list(dict.fromkeys(facets)),
            lengths=lengths,
            labels=dict(doc.labels),
        )

    def _terms(self, name: str, value: Any) -> tuple[dict[str, int], int]:
        """A field's terms with their frequencies (whoosh's posting weights), and its
        length as whoosh counts it (pairs excluded)."""
        if not value:
            return {}, 0
        field_ = self.fields[name]
        terms, length = {}, 0
        for text, freq, weight, _value in field_.format.word_values(
            value, field_.analyzer, mode="index"
        ):
            length += freq
            if len(text.encode()) + 2 <= MAX_LEXEME_BYTES:
                terms[text] = round(weight)
        return terms, length


_analyzer: Analyzer | None = None  # of a process analysing for a rebuild


def analysed(documents: list[SearchDocument]) -> list[Row]:
    """The rows of some documents, in a process of a rebuild's pool (one analyzer each)."""
    global _analyzer
    if _analyzer is None:
        _analyzer = Analyzer()
    return [_analyzer.row(doc) for doc in documents]


def _bounded(terms: dict[str, int]) -> dict[str, int]:
    """The terms, cut so that their tsvector stays under its size limit (SQL, then
    prose pairs, are the first to go: they weigh least)."""
    size = sum(len(term.encode()) + 16 for term in terms)
    if size <= MAX_VECTOR_BYTES:
        return terms
    order = {"s": 0, "x": 1, "d": 2}
    kept = sorted(terms, key=lambda term: (order.get(term[0], 3), not is_pair(term)))
    while size > MAX_VECTOR_BYTES and kept:
        size -= len(kept.pop(0).encode()) + 16
    return {term: terms[term] for term in kept}


def tsvector_text(terms: Mapping[str, int]) -> str:
    """The ``tsvector`` input of a row's terms, with their frequencies (``'x:churn':1B,2C``)."""
    last = len(_POSITIONS_OF_TF) - 1
    return " ".join(
        f"{tsquery_lexeme(term)}:{_POSITIONS_OF_TF[min(tf, last)]}" for term, tf in terms.items()
    )


class TermCounts:
    """What ``SearchTerm`` holds for some rows, counted as the rows are made (a rebuild):
    each term's documents, facet values', fields' documents and summed lengths, all."""

    def __init__(self) -> None:
        self.docs: Counter[str] = Counter()
        self.lengths: Counter[str] = Counter()

    def add(self, row: Row) -> None:
        self.docs.update(row.terms.keys())
        self.docs.update(f"{FACET_CODE}:{value}" for value in row.facet_terms)
        for code, length in zip(CODES.values(), row.lengths, strict=True):
            if length > 0:
                self.docs[field_row(code)] += 1
                self.lengths[field_row(code)] += int(length)
        self.docs[ALL_DOCUMENTS] += 1

    def rows(self) -> Iterator[tuple[str, int, int]]:
        for term, docs in self.docs.items():
            yield term, docs, self.lengths.get(term, 0)


# --- what a search asks the index ---------------------------------------------------------


Frequencies = Callable[[Collection[str]], dict[str, int]]
Neighbours = Callable[[str, Collection[str]], dict[str, int]]


class Lexicon:
    """The index's terms as :class:`TextQuery` asks about them (a whoosh reader's
    ``doc_count_all``, ``doc_frequency`` and ``in``), read from ``SearchTerm`` rows.

    A search first builds its query *recording* what it asks (every answer "absent, but
    frequent"): :func:`planned` then reads all of it in one query and builds it again.
    A question nobody foresaw is read on its own when asked.
    """

    def __init__(self, frequencies: Frequencies, neighbours: Neighbours) -> None:
        self.docs: dict[str, int] = {}
        self._frequencies = frequencies
        self._neighbours = neighbours
        self._near: dict[str, dict[str, int]] = {}
        self._swaps: dict[str, set[str]] = {}
        self.recording = False
        self.asked: set[str] = set()

    @contextmanager
    def record(self) -> Iterator[None]:
        self.recording, self.asked = True, set()
        try:
            yield
        finally:
            self.recording = False

    def load(self, terms: Collection[str]) -> None:
        """Reads the document frequencies of the terms not read yet, in one query."""
        missing = {term for term in terms if term not in self.docs}
        if missing:
            found = self._frequencies(missing)
            self.docs.update(dict.fromkeys(missing, 0))
            self.docs.update(found)

    def frequency(self, term: str) -> int:
        if self.recording:
            self.asked.add(term)
            return 1
        if term not in self.docs:
            self.load([term])
        return self.docs[term]

    @property
    def documents(self) -> int:
        return self.frequency(ALL_DOCUMENTS)

    # --- what whoosh's TextQuery calls on its reader ---

    def doc_count_all(self) -> int:
        return 1 << 40 if self.recording else self.documents

    def doc_frequency(self, field_name: str, text: str) -> int:
        return self.frequency(lexeme(field_name, text))

    def __contains__(self, key: tuple[str, str]) -> bool:
        found = self.frequency(lexeme(*key)) > 0
        return False if self.recording else found

    # --- typos ---

    def terms_within(self, field_name: str, word: str, maxdist: int) -> set[str]:
        """Terms of a field within ``maxdist`` edits of ``word`` sharing its first letter,
        or one swap of two letters away: whoosh's rule (``_terms_within``), over the
        candidates that trigram similarity finds and the swaps looked up as terms."""
        if word not in self._near:
            swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
            swapped = {lexeme(f, s) for f in ("name", "columns") for s in swaps - {word}}
            self._near[word] = self._neighbours(word, swapped)
            self.docs.update(self._near[word])
            self._swaps[word] = swapped
        code = CODES[field_name]
        return {
            term[2:]
            for term, docs in self._near[word].items()
            if docs > 0
            and term[0] == code
            and not is_pair(term)
            and (
                term in self._swaps[word]
                or (term[2:3] == word[:1] and edits(word, term[2:], maxdist) <= maxdist)
            )
        }


def edits(a: str, b: str, limit: int) -> int:
    """The Levenshtein distance of two words, or ``limit + 1`` once it is past ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class LexiconTextQuery(TextQuery):
    """whoosh's query building over a :class:`Lexicon`: only typo candidates are found
    another way (trigram similarity rather than a Levenshtein automaton over segments)."""

    reader: Lexicon

    def __init__(self, parsed: ParsedText, lexicon: Lexicon) -> None:
        super().__init__(parsed, lexicon)  # type: ignore[arg-type]

    def _typo(self, word: str) -> list[wq.Query]:
        if len(word) < 5 or not word.isalpha() or self._known(word) or self.reader.recording:
            return []
        maxdist = 2 if len(word) >= 8 else 1
        found: list[wq.Query] = []
        for name in ("name", "columns"):
            terms = sorted(self.reader.terms_within(name, word, maxdist))[:8]
            self.corrected[word] = sorted({*self.corrected.get(word, []), *terms})
            found += [wq.Term(name, t, boost=BOOSTS[name] * FUZZY_BOOST) for t in terms]
        found += [
            wq.Term("description", stem(t), boost=BOOSTS["description"] * FUZZY_BOOST)
            for t in self.corrected[word]
        ]
        return found


def planned(lexicon: Lexicon, build: Callable[[], wq.Query | None]) -> wq.Query | None:
    """``build()``'s query, with every frequency it and its scoring need read first (in one
    query, or two after a typo)."""
    with lexicon.record():
        draft = build()
    lexicon.load({*lexicon.asked, *needed_terms(draft)})
    final = build()
    lexicon.load(needed_terms(final))
    return final


def needed_terms(query: wq.Query | None) -> set[str]:
    """The ``SearchTerm`` rows a query's scoring reads: its terms, the fields they are
    in, and the number of documents."""
    found = {ALL_DOCUMENTS}
    for term in leaves(query):
        text = lexeme(term.fieldname, term.text)
        found |= {text, field_row(text[0])}
    return found


def leaves(query: wq.Query | None) -> Iterator[wq.Term]:
    if query is None:
        return
    if isinstance(query, wq.Term):
        yield query
    elif isinstance(query, wq.CompoundQuery):
        for sub in query.subqueries:
            yield from leaves(sub)
    elif isinstance(query, wq.AndMaybe | wq.AndNot):
        yield from leaves(query.a)
        yield from leaves(query.b)


# --- compiling a query to SQL ---------------------------------------------------------------


def tsquery(query: wq.Query) -> str:
    """The ``tsquery`` that a document's terms match exactly when whoosh's query would."""
    if isinstance(query, wq.Term):
        return tsquery_lexeme(lexeme(query.fieldname, query.text))
    if isinstance(query, wq.Or):
        return "(" + " | ".join(tsquery(sub) for sub in query.subqueries) + ")"
    if isinstance(query, wq.And):
        return "(" + " & ".join(tsquery(sub) for sub in query.subqueries) + ")"
    if isinstance(query, wq.AndMaybe):
        return tsquery(query.a)
    if isinstance(query, wq.AndNot):
        return f"({tsquery(query.a)} & !{tsquery(query.b)})"
    raise TypeError(f"No tsquery for {type(query).__name__} queries.")


@dataclass
class Unit:
    """Part of a score: ``weight`` times BM25's tf and length factor of ``term`` (a
    lexeme), for a document that matches every tsquery of ``requires``."""

    requires: tuple[str, ...]
    term: str
    weight: float

    @property
    def code(self) -> str:
        return self.term[0]


@dataclass
class Scoring:
    """A query's score as units; ``contexts`` are tsqueries that several units require,
    evaluated once per document."""

    units: list[Unit] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)


def scoring(query: wq.Query, weight: Callable[[wq.Term], float]) -> Scoring:
    """whoosh's score of ``query`` as a sum of units, for the documents that match it.

    An OR scores the clauses a document matches; an AND scores all of its clauses when
    it matches, nothing otherwise; AND MAYBE scores its second part when its first
    matches. A clause that every match matches needs no test of its own.
    """
    found = Scoring()
    merged: dict[tuple[tuple[str, ...], str], float] = {}
    for requires, term, value in _units(query, True, (), 1.0, weight, found):
        merged[requires, term] = merged.get((requires, term), 0.0) + value
    found.units = [Unit(requires, term, value) for (requires, term), value in merged.items()]
    return found


def _units(
    query: wq.Query,
    certain: bool,
    requires: tuple[str, ...],
    boost: float,
    weight: Callable[[wq.Term], float],
    out: Scoring,
) -> Iterator[tuple[tuple[str, ...], str, float]]:
    if isinstance(query, wq.Term):
        own = () if certain else (tsquery(query),)
        yield requires + own, lexeme(query.fieldname, query.text), boost * weight(query)
    elif isinstance(query, wq.CompoundQuery) and len(query.subqueries) == 1:
        yield from _units(query.subqueries[0], certain, requires, boost * query.boost, weight, out)
    elif isinstance(query, wq.Or):
        for sub in query.subqueries:
            yield from _units(sub, False, requires, boost * query.boost, weight, out)
    elif isinstance(query, wq.And):
        inner = requires if certain else (*requires, _context(out, query))
        for sub in query.subqueries:
            yield from _units(sub, True, inner, boost * query.boost, weight, out)
    elif isinstance(query, wq.AndMaybe):
        yield from _units(query.a, certain, requires, boost, weight, out)
        inner = requires if certain else (*requires, _context(out, query.a))
        yield from _units(query.b, False, inner, boost, weight, out)
    elif isinstance(query, wq.AndNot):
        yield from _units(query.a, certain, requires, boost, weight, out)
    else:
        raise TypeError(f"No scoring for {type(query).__name__} queries.")


def _context(out: Scoring, query: wq.Query) -> str:
    text = tsquery(query)
    if text not in out.contexts:
        out.contexts.append(text)
    return text


class Weights:
    """BM25F's parts that do not depend on the document: idf and each field's average
    length, from the lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    @property
    def documents(self) -> int:
        return max(1, self.lexicon.documents)

    def __call__(self, term: wq.Term) -> float:
        return float(term.boost) * self.idf(lexeme(term.fieldname, term.text))

    def idf(self, term: str) -> float:
        return math.log(self.documents / (self.lexicon.frequency(term) + 1)) + 1

    def length_factor(self, code: str, length_sql: str) -> str:
        """The SQL of BM25's length part (``K1 × ((1 - b) + b × length / average)``) of
        a field of a document."""
        row = self.lexicon.docs.get(field_row(code), 0)
        total = self.lexicon.docs.get(f"{field_row(code)} length", 0)
        average = total / row if row and total else 1.0
        b = FIELD_B.get(FIELD_OF[code], B)
        return f"{K1!r} * ({1 - b!r} + {b!r} * {length_sql} / {average!r})"


def tf_sql(term: str, vector: str) -> tuple[str, list[str]]:
    """The SQL (and its parameters) of a present term's frequency in ``vector``: one test
    for the usual tf of 1 (no A, B or C weight), four otherwise."""
    quoted = tsquery_lexeme(term)
    bits = " + ".join(f"{bit} * ({vector} @@ %s::tsquery)::int" for _, bit in TF_BITS)
    steps = ", ".join(map(str, TF_STEPS))
    sql = f"CASE WHEN {vector} @@ %s::tsquery THEN (ARRAY[{steps}])[{bits}] ELSE 1 END"
    return sql, [f"{quoted}:ABC"] + [f"{quoted}:{label}" for label, _ in TF_BITS]


def pruned(query: wq.Query | None, lexicon: Lexicon) -> wq.Query | None:
    """``query`` without the terms no document holds (``None``: nothing can match it):
    they cannot change a match or a score, and each would be tested on every match."""
    if query is None:
        return None
    if isinstance(query, wq.Term):
        return query if lexicon.frequency(lexeme(query.fieldname, query.text)) else None
    if isinstance(query, wq.Or | wq.And):
        subs = [pruned(sub, lexicon) for sub in query.subqueries]
        kept = [sub for sub in subs if sub is not None]
        if not kept or (isinstance(query, wq.And) and len(kept) < len(subs)):
            return None
        return type(query)(kept, boost=query.boost)
    if isinstance(query, wq.AndMaybe | wq.AndNot):
        a, b = pruned(query.a, lexicon), pruned(query.b, lexicon)
        return type(query)(a, b) if a is not None and b is not None else a
    raise TypeError(f"No pruning of {type(query).__name__} queries.")


def field_lengths(rows: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """``SearchTerm`` rows as lexicon entries: a term → its documents; and for a field's
    row (``n#``) also ``n# length`` → the field's summed length."""
    found = {}
    for term, (docs, length) in rows.items():
        found[term] = docs
        if term[1:] == FIELD_MARK:
            found[f"{term} length"] = length
    return found
