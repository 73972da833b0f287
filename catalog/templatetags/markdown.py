"""``{{ text|markdown }}`` and ``{{ text|markdown_inline }}``: descriptions as sanitized
Markdown (:mod:`catalog.markdown`)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from catalog.markdown import render_markdown, render_markdown_inline

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: object) -> SafeString:
    """Blocks: wrap in an element of class ``prose``."""
    return render_markdown(text)


@register.filter(name="markdown_inline")
def markdown_inline_filter(text: object) -> SafeString:
    """Inline only: for table cells and one-line summaries."""
    return render_markdown_inline(text)
