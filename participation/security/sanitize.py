"""The one way user text becomes HTML: markdown-it-py renders, nh3 (ammonia) keeps an allow-list.

Nothing else in the code base imports nh3. Stored HTML produced here is the only HTML a template
may mark `|safe`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr", "li", "ol",
        "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)
# `rel` is not listed: the sanitizer sets it on every link.
ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "title"}), "ol": frozenset({"start"})}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Bare web addresses outside links and code; the last character is not trailing punctuation.
_BARE_URL = re.compile(
    r"(?<![\w@/.:-])(?:https?://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,:;!?)\]}*_~]", re.IGNORECASE)
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7f))


def _link_bare_urls(state: StateCore) -> None:
    """Turn bare web addresses in text into links (never inside a link, code or raw text)."""
    for block in state.tokens:
        if block.type != "inline" or not block.children or not _BARE_URL.search(block.content):
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or not _BARE_URL.search(token.content):
                children.append(token)
                continue
            children.extend(_split_bare_urls(token))
        block.children = children


def _split_bare_urls(token: Token) -> list[Token]:
    pieces: list[Token] = []
    position = 0
    for match in _BARE_URL.finditer(token.content):
        url = match.group()
        # The match holds no space, quote or angle bracket: escaping what is not ASCII is
        # all the normalising it needs (markdown-it's normalizeLink cost 90 us a link).
        href = quote(url if "://" in url else "http://" + url, safe=_URL_SAFE)
        if match.start() > position:
            pieces.append(_text(token, token.content[position:match.start()]))
        link_open = Token("link_open", "a", 1, attrs={"href": href}, level=token.level,
                          markup="linkify", info="auto")
        text = _text(token, url)
        text.level = token.level + 1
        pieces += [link_open, text, Token("link_close", "a", -1, level=token.level,
                                          markup="linkify", info="auto")]
        position = match.end()
    if position < len(token.content):
        pieces.append(_text(token, token.content[position:]))
    return pieces


def _text(like: Token, content: str) -> Token:
    return Token("text", "", 0, content=content, level=like.level)


def _make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("link_bare_urls", _link_bare_urls)
    return md


_markdown = _make_markdown()
_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_PROTOCOLS),
    link_rel=LINK_REL,
    strip_comments=True,
)


def clean_html(html: str) -> str:
    """Reduce HTML to the allow-list: no script, no event handlers, only http(s) and mailto links.

    Cleaning is idempotent: clean_html(clean_html(x)) == clean_html(x).
    """
    return _cleaner.clean(_CONTROL.sub("", html))


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
