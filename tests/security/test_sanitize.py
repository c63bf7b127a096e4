"""What the sanitizer keeps and adds, beyond the XSS corpus (tests/forums/test_xss.py)."""

from __future__ import annotations

import re

import pytest

from participation.security.sanitize import clean_html, render_markdown


@pytest.mark.parametrize(("text", "links"), [
    ("see https://example.org/a?b=1 and www.example.org.", [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("http://www.example.org", "www.example.org")]),
    ("(at https://example.org/x), then", [("https://example.org/x", "https://example.org/x")]),
    ("`https://example.org/code` and\n\n    https://example.org/indented\n", []),
    ("```\nhttps://example.org/fenced\n```", []),
    ("[named](https://example.org/n) <https://example.org/auto>", [
        ("https://example.org/n", "named"), ("https://example.org/auto", "https://example.org/auto")]),
    ("javascript:alert(1) and data:text/html,x and vbscript:x", []),
    ("no link in xhttps://example.org or a@www.example.org", []),
])
def test_bare_web_addresses_become_links_outside_code(text, links):
    rendered = render_markdown(text)
    found = re.findall(r'<a href="([^"]*)" rel="nofollow ugc noopener">([^<]*)</a>', rendered)
    assert found == links, rendered
    assert rendered.count("<a ") == len(links)
    assert clean_html(rendered) == rendered


def test_every_link_gets_the_same_rel_and_nothing_else():
    cleaned = clean_html('<a href="https://x.example" rel="opener" target="_blank" '
                         'onclick="x()" title="t">x</a>')
    assert cleaned == ('<a href="https://x.example" title="t" rel="nofollow ugc noopener">x</a>')


def test_script_and_style_are_dropped_with_their_content():
    assert clean_html("<p>a<script>alert(1)</script><style>p{}</style>b</p>") == "<p>ab</p>"


def test_direction_and_invisible_characters_leave_html_too():
    cleaned = clean_html('<a href="\u202ejavascript:alert(1)">x</a>')
    assert cleaned == '<a rel="nofollow ugc noopener">x</a>'
    assert clean_html("a\u200bb\u2066c") == "abc"


def test_allowed_markdown_survives():
    rendered = render_markdown("# no\n\n### Heading\n\n1. one\n\n> quote\n\n~~gone~~ `code`\n\n"
                               "|a|b|\n|:-|-:|\n|1|2|\n\n---")
    for part in ("<h3>Heading</h3>", "<ol>", "<blockquote>", "<s>gone</s>",
                 "<code>code</code>", "<table>", "<td>1</td>", "<hr>"):
        assert part in rendered
    assert "<h1>" not in rendered and "style" not in rendered
