"""The one way user text becomes HTML: markdown-it-py renders, bleach keeps an allow-list.

Nothing else in the code base imports bleach. Stored HTML produced here is the only HTML a
template may mark `|safe`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import partial

import bleach
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr", "li", "ol",
        "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"], "ol": ["start"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _set_link_rel(attrs: dict, new: bool = False) -> dict:
    attrs[(None, "rel")] = LINK_REL
    attrs.pop((None, "target"), None)
    return attrs


_cleaner = bleach.sanitizer.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_set_link_rel], skip_tags={"pre", "code"})],
)


def clean_html(html: str) -> str:
    """Reduce HTML to the allow-list: no script, no event handlers, only http(s) and mailto links.

    Cleaning is idempotent: clean_html(clean_html(x)) == clean_html(x).
    """
    return _cleaner.clean(html)


def render_markdown(text: str) -> str:
    """Render a resident's markdown to safe HTML, ready to store beside the source."""
    return clean_html(_markdown.render(clean_text(text, multiline=True)))


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Normalise plain text from users: NFC, no control or direction-override characters.

    Plain text is escaped by the templates, never turned into HTML here.
    """
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return _CONTROL.sub("", text)
    return _CONTROL.sub("", text.replace("\n", " ").replace("\r", " ").replace("\t", " "))
