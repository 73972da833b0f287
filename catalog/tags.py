"""Tags as they arrive: bare words from descriptors, ``{"key", "value", "source"}`` objects
from OpenLineage's tags facet. One reading of them for every page and the search."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FALSE_WORDS = {"false", "no", "0"}


def says_pii(tags: Iterable[Any]) -> bool:
    """A ``pii`` tag (``{"key": "pii", "value": "true"}`` or the bare word) marks personal
    data, unless its value says otherwise."""
    for tag in tags or ():
        if isinstance(tag, str) and tag.lower() == "pii":
            return True
        if isinstance(tag, dict) and str(tag.get("key", "")).lower() == "pii":
            return str(tag.get("value", "true")).lower() not in FALSE_WORDS
    return False


def tag_words(tags: Iterable[Any]) -> list[str]:
    """Each tag as one lowercase word: ``pii``, ``gdpr``, or ``key:value`` for a tag whose
    value says more than yes (``domain:sales``). A tag whose value says no is left out."""
    words = []
    for tag in tags or ():
        if isinstance(tag, str):
            word = tag
        elif isinstance(tag, dict) and tag.get("key"):
            key, value = str(tag["key"]), str(tag.get("value", "")).strip()
            if value.lower() in FALSE_WORDS:
                continue
            word = key if value.lower() in {"", "true", "yes", key.lower()} else f"{key}:{value}"
        else:
            continue
        if word := word.strip().lower():
            words.append(word)
    return list(dict.fromkeys(words))


def tag_value(tags: Iterable[Any], key: str) -> str:
    """The value of the first ``key`` tag (``domain`` → ``sales``), or ``""``."""
    for tag in tags or ():
        if isinstance(tag, dict) and str(tag.get("key", "")).lower() == key:
            return str(tag.get("value", "")).strip()
    return ""
