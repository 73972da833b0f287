"""How text becomes index terms.

Names in a data catalog are identifiers (``analytics.public.daily_orders``, ``SalesRegion``,
``customer-id``), so one token is indexed several ways: whole (``daily_orders``), by its
dotted segments, and by its parts split on ``_ . - / :`` and camelCase (``daily``,
``orders``; ``sales``, ``region``). Prose (descriptions, purpose) is split the same way
and then stemmed, and an edge n-gram field holds every prefix of every name part, so that
as-you-type and prefix queries are plain term lookups (a wildcard over a large lexicon is
what makes other engines slow).

Phrases are pairs: each two words that follow each other are also indexed as one term
(``sales region``), so that the phrase ``sales region`` finds ``SalesRegion`` and
``sales_region`` alike by term lookups, with no positions stored or compared. A longer
phrase is all of its pairs (``a b c`` = ``a b`` and ``b c``), which is exact but for a
text holding both pairs apart. Pairs never cross a line: lines are separate identifiers
(columns) or paragraphs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from itertools import pairwise

from whoosh.analysis import (
    STOP_WORDS,
    Filter,
    LowercaseFilter,
    NgramFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.analysis.analyzers import CompositeAnalyzer

# An identifier keeps its inner dots, dashes, slashes and colons: a qualified table name,
# an S3 path or a URN is one token first, and its parts after.
TOKEN = re.compile(r"[\w$#@]+(?:[.\-/:]+[\w$#@]+)*", re.UNICODE)
SEGMENT_SPLIT = re.compile(r"[.\-/:]+")
PART_SPLIT = re.compile(r"[_$#@]+")
MAX_TOKEN = 120  # longer tokens (hashes, base64) are kept whole but not split
PREFIX_MIN = 2
PREFIX_MAX = 20
PAIR = " "  # between the words of a pair term: no indexed word holds a space


def pair_term(first: str, second: str) -> str:
    return f"{first}{PAIR}{second}"


def pair_terms(words: list[str]) -> list[str]:
    """The pair terms of consecutive words: ``a, b, c`` → ``a b``, ``b c``."""
    return [pair_term(first, second) for first, second in pairwise(words)]


def camel_words(piece: str) -> list[str]:
    """``SalesRegion`` → Sales, Region; ``HTTPServer`` → HTTP, Server; ``Café2Go`` → Café2, Go.

    Digits stay with the word they follow (``v2``, ``s3``); any script with case works.
    """
    if not any(c.isupper() for c in piece):
        return [piece]  # snake_case and plain words: nothing to split
    words: list[str] = []
    start = 0
    for i in range(1, len(piece)):
        prev, char = piece[i - 1], piece[i]
        upper_after_lower = char.isupper() and (prev.islower() or prev.isdigit())
        acronym_end = (
            char.isupper()
            and prev.isupper()
            and i + 1 < len(piece)
            and piece[i + 1].islower()
            and piece[i + 1 :] != "s"  # a plural acronym (``KPIs``) stays one word
        )
        letter_after_digit_run = char.isalpha() and prev.isdigit() and not piece[start].isdigit()
        if upper_after_lower or acronym_end or (letter_after_digit_run and char.isupper()):
            words.append(piece[start:i])
            start = i
    if piece:
        words.append(piece[start:])
    return words


def identifier_parts(text: str) -> list[str]:
    """The lowercased words of one identifier, in order: ``SalesRegion_v2`` → sales, region, v2."""
    return [
        word.lower()
        for segment in SEGMENT_SPLIT.split(text)
        for piece in PART_SPLIT.split(segment)
        for word in camel_words(piece)
    ]


@functools.lru_cache(maxsize=65536)
def identifier_forms(text: str) -> tuple[tuple[str, int], ...]:
    """Every form one token is indexed under, with its offset from the token's position.

    The whole token and its first word share offset 0, each word takes the next offset,
    and a dotted segment made of several words sits at the offset of its first word:
    ``analytics.public.daily_orders`` → (whole, 0), (analytics, 0), (public, 1),
    (daily_orders, 2), (daily, 2), (orders, 3).
    """
    forms = [(text.lower(), 0)]
    if len(text) > MAX_TOKEN:
        return tuple(forms)
    offset = 0
    for segment in SEGMENT_SPLIT.split(text):
        words = [w.lower() for piece in PART_SPLIT.split(segment) for w in camel_words(piece)]
        if len(words) > 1:
            forms.append((segment.lower(), offset))
        for word in words:
            forms.append((word, offset))
            offset += 1
    first: dict[str, int] = {}
    for form, at in forms:
        first.setdefault(form, at)
    return tuple(first.items())


@functools.lru_cache(maxsize=65536)
def identifier_words(text: str) -> tuple[tuple[str, int], ...]:
    """The forms of ``text`` that are single words (whole tokens and segments are mostly
    unique to one document: as prefixes they would multiply the lexicon for nobody)."""
    forms = identifier_forms(text)
    if len(forms) == 1:
        return forms
    words = set(identifier_parts(text))
    return tuple((f, at) for f, at in forms if f in words)


class IdentifierTokenizer(Tokenizer):
    """Yields identifier-shaped tokens (``TOKEN``) with positions and character ranges."""

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        end = 0
        for match in TOKEN.finditer(value):
            token.text = match.group()
            token.boost = 1.0
            token.stopped = False
            token.new_line = "\n" in value[end : match.start()]
            end = match.end()
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = pos
                pos += 1
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


class IdentifierFilter(Filter):
    """Expands each token into its whole form and its parts (at index time only).

    Positions, when asked for (the index stores none): the whole token and its first part
    share a position and the later parts follow, and the next token comes after the last
    part. Each part is marked a ``word`` for :class:`PairFilter`. At query time the token
    is only lowercased: the query builder decides how a typed identifier matches (whole,
    or its parts as a phrase).
    """

    is_morph = False

    def __init__(self, words_only: bool = False) -> None:
        self.words_only = words_only

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # type: ignore[override]
        shift = 0
        for token in tokens:
            if token.mode == "query":
                token.text = token.text.lower()
                yield token
                continue
            base = getattr(token, "pos", 0) + shift
            last = 0
            words = identifier_words(token.text)
            forms = words if self.words_only else identifier_forms(token.text)
            word_forms = {form for form, _ in words}
            for form, offset in forms:
                token.text = form
                token.word = form in word_forms
                if token.positions:
                    token.pos = base + offset
                last = max(last, offset)
                yield token
                token.new_line = False  # the token's first form began the line
            shift += last


class PairFilter(Filter):
    """Adds a pair term for each two words that follow each other (at index time only),
    spanning both words' characters so that a highlight marks the two as one."""

    is_morph = False

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # type: ignore[override]
        previous: tuple[str, int] | None = None  # the last word and where it starts
        for token in tokens:
            yield token
            if token.mode == "query":
                continue
            if getattr(token, "new_line", False):
                previous = None
            if not getattr(token, "word", False) or token.stopped:
                continue
            start = token.startchar if token.chars else 0
            if previous is not None:
                both = token.copy()
                both.text = pair_term(previous[0], token.text)
                both.word = False
                both.startchar = previous[1]
                yield both
            previous = (token.text, start)


def identifier_analyzer(pairs: bool = True) -> CompositeAnalyzer:
    """Names, columns and tags: identifiers whole and split, not stemmed, with pairs.
    Without pairs: SQL, where a phrase is no use and pairs would double the lexicon."""
    if not pairs:
        return CompositeAnalyzer(IdentifierTokenizer(), IdentifierFilter())
    return CompositeAnalyzer(IdentifierTokenizer(), IdentifierFilter(), PairFilter())


def prose_analyzer() -> CompositeAnalyzer:
    """Descriptions: identifiers split like names, then stop words dropped and stemmed;
    pairs of the stems (``cost of goods`` → ``cost good``)."""
    return CompositeAnalyzer(
        IdentifierTokenizer(),
        IdentifierFilter(),
        StopFilter(minsize=1, renumber=False),
        StemFilter(),
        PairFilter(),
    )


def prefix_analyzer() -> CompositeAnalyzer:
    """Every leading 2–20 characters of every word of a name (``cus``, ``cust``…)."""
    return CompositeAnalyzer(
        IdentifierTokenizer(),
        IdentifierFilter(words_only=True),
        NgramFilter(PREFIX_MIN, PREFIX_MAX, at="start"),
    )


def keyword_analyzer() -> CompositeAnalyzer:
    """Whole names for the exact-match clause: each line one term, lowercased and trimmed."""
    return CompositeAnalyzer(RegexTokenizer(r"[^\n]+"), StripFilter(), LowercaseFilter())


class StripFilter(Filter):
    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # type: ignore[override]
        for token in tokens:
            token.text = token.text.strip()
            if token.text:
                yield token


def is_stop_word(word: str) -> bool:
    return word in STOP_WORDS


def stem(word: str) -> str:
    """The term ``prose_analyzer`` indexes for one lowercased word."""
    from whoosh.lang.porter import stem as porter

    return porter(word)
