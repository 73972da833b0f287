"""Free text of descriptors and lineage facets, shown as Markdown that cannot hurt the page.

Descriptions come from whoever publishes a descriptor or posts a lineage event, so they are
untrusted. ``markdown-it-py`` renders them as CommonMark (with tables and strikethrough) and
raw HTML stays text; ``nh3`` then cuts the result to an allow-list of tags, so even a
renderer bug cannot let a script, an event handler or a ``javascript:`` link through.

- Headings are demoted to ``h3``–``h6``: a description sits under the page's own ``h1``/``h2``.
- Images become their alt text: a remote ``src`` would report every reader to its host (and
  the page's Content-Security-Policy refuses it anyway).
- Links keep only ``http``, ``https``, ``mailto`` and in-page ``#fragments``, and get
  ``rel="noopener noreferrer nofollow"``.
- Column alignment in tables becomes an ``align-*`` class: the page's CSP refuses ``style``
  attributes.

Nothing is cached: the parser and the cleaners are built once, and a description of 1 KB
renders in about 2 ms. The time grows with the text (up to some 10 ms per KB on contrived
input), so a text beyond ``MAX_CHARS`` is shown as plain, escaped text instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import nh3
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

INLINE_TAGS = frozenset({"a", "em", "strong", "code", "s", "del", "br"})
BLOCK_TAGS = INLINE_TAGS | {
    "p", "hr", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
ALIGN_CLASSES = frozenset({"align-left", "align-center", "align-right"})
MAX_CHARS = 20_000  # some 3,000 words: longer is a document, not a description


def _fragment_only(url: str) -> str | None:
    """Relative links would point into the portal, not where the author meant: only an
    in-page ``#fragment`` is kept."""
    return url if url.startswith("#") else None


def _cleaner(tags: Iterable[str]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(tags),
        clean_content_tags={"script", "style"},
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        allowed_classes={"th": set(ALIGN_CLASSES), "td": set(ALIGN_CLASSES)},
        url_schemes=set(LINK_SCHEMES),
        url_relative=_fragment_only,
        link_rel=LINK_REL,
    )


_BLOCK_CLEANER = _cleaner(BLOCK_TAGS)
_INLINE_CLEANER = _cleaner(INLINE_TAGS)


def render_markdown(text: object) -> SafeString:
    """``text`` as sanitized HTML blocks (paragraphs, lists, tables…); ``""`` for nothing."""
    source = "" if text is None else str(text)
    if not source.strip():
        return mark_safe("")
    if len(source) > MAX_CHARS:
        return mark_safe(linebreaks(source, autoescape=True))
    tokens = _adjust(_PARSER.parse(source))
    html = _PARSER.renderer.render(tokens, _PARSER.options, {})
    return mark_safe(_BLOCK_CLEANER.clean(html))


def render_markdown_inline(text: object) -> SafeString:
    """``text`` as sanitized inline HTML (emphasis, code, links) for a table cell or a
    one-line summary: block syntax (lists, headings) stays as written."""
    source = "" if text is None else str(text)
    if not source.strip():
        return mark_safe("")
    if len(source) > MAX_CHARS:
        return escape(source)
    tokens = _adjust(_PARSER.parseInline(source))
    html = _PARSER.renderer.render(tokens, _PARSER.options, {})
    return mark_safe(_INLINE_CLEANER.clean(html))


def _adjust(tokens: list[Token]) -> list[Token]:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _demoted(token.tag)
        elif token.type in ("th_open", "td_open"):
            _align_class(token)
        if token.children:
            token.children = _adjust(_inline(token.children))
    return tokens


def _demoted(tag: str) -> str:
    return f"h{min(int(tag[1:]) + 2, 6)}"


def _align_class(token: Token) -> None:
    style = str(token.attrs.pop("style", ""))
    side = style.removeprefix("text-align:")
    if f"align-{side}" in ALIGN_CLASSES:
        token.attrs["class"] = f"align-{side}"


def _inline(children: Sequence[Token]) -> list[Token]:
    """Images as their alt text, and links the sanitizer would disarm as plain text (an
    ``<a>`` without ``href`` would still look like a link)."""
    kept: list[Token] = []
    dropped: list[bool] = []  # per open link: was it left out?
    for child in children:
        if child.type == "image":
            kept.append(Token("text", "", 0, content=_alt(child)))
        elif child.type == "link_open":
            dropped.append(not _allowed_href(str(child.attrGet("href") or "")))
            if not dropped[-1]:
                kept.append(child)
        elif child.type == "link_close":
            if not (dropped and dropped.pop()):
                kept.append(child)
        else:
            kept.append(child)
    return kept


def _alt(image: Token) -> str:
    """The alt text as plain text: ``![the *schema*](…)`` → ``the schema``."""
    return "".join(
        _alt(child) if child.type == "image" else child.content for child in image.children or []
    )


def _allowed_href(href: str) -> bool:
    return href.startswith("#") or urlsplit(href).scheme.lower() in LINK_SCHEMES
