"""Descriptions as Markdown (catalog.markdown): rendered, and harmless whatever they hold."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils.safestring import SafeString

from catalog.markdown import MAX_CHARS, render_markdown, render_markdown_inline
from catalog.models import Dataset
from lineage.models import Job
from lineage.services import lineage_event_ingest
from tests.conftest import run_event

REL = 'rel="noopener noreferrer nofollow"'


def test_it_renders_commonmark_with_tables_and_strikethrough() -> None:
    html = render_markdown(
        "Some **bold** and *emphasis*, `code` and ~~gone~~.\n\n- one\n- two\n\n"
        "1. first\n\n> quoted\n\n```\nselect 1\n```\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n"
    )
    assert isinstance(html, SafeString)
    assert "<strong>bold</strong>" in html and "<em>emphasis</em>" in html
    assert "<code>code</code>" in html and "<s>gone</s>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html and "<ol>" in html
    assert "<blockquote>" in html and "<pre><code>select 1\n</code></pre>" in html
    assert "<table>" in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html  # the page's CSP refuses style attributes


def test_it_drops_script_and_shows_raw_html_as_text() -> None:
    html = render_markdown("Hi <script>alert(1)</script>\n\n<script>\nalert(2)\n</script>\n")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_it_strips_event_handlers() -> None:
    html = render_markdown('<img src=x onerror="alert(1)"> <b onclick="alert(2)">b</b>')
    assert "<img" not in html and "<b" not in html  # shown as text, never as tags
    assert '&lt;img src=x onerror="alert(1)"&gt;' in html
    link = render_markdown('[x](<https://example.com/" onmouseover="alert(1)>)')
    assert '<a href="https://example.com/%22%20onmouseover=%22alert(1)"' in link  # one URL


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "<javascript:alert(1)>",
        "[x](//evil.example.com/)",
        "[x](/admin/)",
        "[x](ftp://files.example.com/)",
    ],
)
def test_it_drops_links_that_are_not_http_https_mailto(link: str) -> None:
    html = render_markdown(link)
    assert "<a" not in html
    assert "href" not in html


def test_links_get_rel_and_keep_safe_schemes() -> None:
    html = render_markdown(
        "[web](https://example.com/a?b=1&c=2) [mail](mailto:team@example.com) [here](#usage)"
    )
    assert f'<a href="https://example.com/a?b=1&amp;c=2" {REL}>web</a>' in html
    assert f'<a href="mailto:team@example.com" {REL}>mail</a>' in html
    assert f'<a href="#usage" {REL}>here</a>' in html


def test_headings_are_demoted_under_the_pages_own() -> None:
    html = render_markdown("# One\n\n## Two\n\n#### Four\n\n###### Six")
    assert "<h3>One</h3>" in html and "<h4>Two</h4>" in html
    assert "<h6>Four</h6>" in html and "<h6>Six</h6>" in html
    assert "<h1" not in html and "<h2" not in html


def test_images_become_their_alt_text() -> None:
    html = render_markdown("![the *schema* diagram](https://tracker.example.com/pixel.png)")
    assert "<img" not in html and "tracker" not in html
    assert "the schema diagram" in html


def test_nothing_renders_as_nothing() -> None:
    assert render_markdown("") == "" and render_markdown(None) == ""
    assert render_markdown("   \n") == "" and render_markdown_inline(None) == ""


def test_inline_rendering_keeps_to_inline_tags() -> None:
    html = render_markdown_inline(
        "*a* [b](https://example.com)\n# not a heading <script>x</script>"
    )
    assert html.startswith("<em>a</em> <a href=")
    assert REL in html
    assert "<h" not in html and "<p>" not in html and "<script" not in html
    assert "# not a heading" in html


def test_the_template_filters_render_and_sanitize() -> None:
    template = Template("{% load markdown %}{{ text|markdown }}|{{ text|markdown_inline }}")
    html = template.render(Context({"text": "**x** [y](javascript:alert(1))"}))
    block, inline = html.split("|")
    assert block == "<p><strong>x</strong> [y](javascript:alert(1))</p>\n"
    assert inline == "<strong>x</strong> [y](javascript:alert(1))"


def test_a_text_too_long_for_markdown_is_shown_as_plain_text() -> None:
    text = "**not bold** <script>x</script>\n" + "word " * MAX_CHARS
    block, inline = render_markdown(text), render_markdown_inline(text)
    for html in (block, inline):
        assert "**not bold** &lt;script&gt;x&lt;/script&gt;" in html
        assert "<strong>" not in html and "<script" not in html
    assert block.startswith("<p>**not bold**")


HOSTILE = (
    "**Nightly** load.\n\n- <script>alert(1)</script>\n- [x](javascript:alert(2))\n"
    '- <img src=x onerror="alert(3)">\n'
)


@pytest.mark.django_db
def test_lineage_documentation_renders_as_markdown_on_dataset_and_job_pages(
    client: Client,
) -> None:
    documentation = {"documentation": {"description": HOSTILE}}
    output = {"namespace": "postgres://db:5432", "name": "shop.orders", "facets": documentation}
    event = run_event(job=("airflow", "load_orders"), job_facets=documentation, outputs=[output])
    lineage_event_ingest(payload=event)

    for url in (
        f"/datasets/{Dataset.objects.get(name='shop.orders').pk}/",
        f"/lineage/jobs/{Job.objects.get(name='load_orders').pk}/",
    ):
        html = client.get(url).content.decode()
        assert '<div class="lead prose"><p><strong>Nightly</strong> load.</p>' in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "javascript:" not in html.replace("[x](javascript:alert(2))", "")
        assert "<img" not in html
