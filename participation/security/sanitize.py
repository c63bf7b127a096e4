"""The one way user text becomes HTML: markdown-it-py renders, nh3 (ammonia) keeps an allow-list.

Nothing else in the code base imports nh3. Stored HTML produced here is the only HTML a template
may mark `|safe`.

Rendering is bounded, because it runs on the one event loop that also serves every live town
hall: a text may produce at most MAX_TABLE_CELLS table cells, MAX_EMPHASIS_MARKS emphasis marks
and MAX_HTML_CHARS characters of HTML, and markdown may spend at most RENDER_CPU_SECONDS of CPU
parsing and rendering it. Past a bound the text is refused with TextTooComplex (the author keeps
their text and sees why), never cut short. While it parses, a render lets other green threads run
every TURN_SECONDS, so a long one does not stall /healthz or the live sockets: call
render_markdown before the transaction writes anything, as every service does, so that no
database lock is held while others run.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import nh3
from flask_babel import format_number
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from participation.errors import TextTooComplex

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

# A 20,000-character post of one-character rows under a ten-column header was padded to 99,000
# cells (807 KiB of HTML, seconds of work); real tables here are a few hundred cells.
MAX_TABLE_CELLS = 1_000
# Each marker is a token to pair up; 2,000 is a thousand emphasised words.
MAX_EMPHASIS_MARKS = 2_000
# Four times the longest text a form takes; what a resident wrote rarely doubles in HTML.
MAX_HTML_CHARS = 80_000
# Ordinary 20,000-character posts parse in 2-30 ms, the densest markdown in 40; pathological
# ones took seconds. Only the render's own CPU time counts, not other green threads'.
RENDER_CPU_SECONDS = 0.05
# markdown-it-py is pure Python: between turns a render holds the event loop.
TURN_SECONDS = 0.005

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Bare web addresses outside links and code; the last character is not trailing punctuation.
_BARE_URL = re.compile(
    r"(?<![\w@/.:-])(?:https?://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,:;!?)\]}*_~]", re.IGNORECASE)
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7f))
_BUDGET = "participation.render_budget"
_CHECK_EVERY = 64


class _RenderBudget:
    """CPU time, table cells and emphasis marks left to one render, in markdown-it's env."""

    __slots__ = ("calls", "cells", "deadline", "marks", "turn_ends")

    def __init__(self) -> None:
        now = time.thread_time()
        self.deadline = now + RENDER_CPU_SECONDS
        self.turn_ends = now + TURN_SECONDS
        self.cells = MAX_TABLE_CELLS
        self.marks = MAX_EMPHASIS_MARKS
        self.calls = 0

    def take_turn(self) -> None:
        """Let the other green threads run (under eventlet's monkey patching; without it, this
        only releases the GIL for a moment)."""
        paused = time.thread_time()
        time.sleep(0)
        resumed = time.thread_time()
        self.deadline += resumed - paused  # the CPU time the others took is not this render's
        self.turn_ends = resumed + TURN_SECONDS

    def check_time(self) -> None:
        """Refuse the text once its time is spent; between turns, let others run."""
        if time.thread_time() > self.turn_ends:
            self.take_turn()
        if time.thread_time() > self.deadline:
            raise TextTooComplex(_(
                "This text has too much formatting to show (such as very many links, emphasis "
                "marks, nested quotes or lists, or short lines); simplify it or split it into "
                "parts."))


def _budget_checkpoint(state: Any, *args: Any) -> bool:
    """A rule that matches nothing: it runs between the others and stops a render out of time."""
    budget: _RenderBudget = state.env[_BUDGET]
    budget.calls += 1
    if budget.calls % _CHECK_EVERY == 0:
        budget.check_time()
    return False


def _count_emphasis_marks(state: StateInline, silent: bool) -> bool:
    """A rule that matches nothing: it counts runs of *, _ and ~ before emphasis pairs them."""
    marker = state.src[state.pos]
    if silent or marker not in "*_~":
        return False
    end = state.pos
    while end < state.posMax and state.src[end] == marker:
        end += 1
    budget: _RenderBudget = state.env[_BUDGET]
    budget.marks -= end - state.pos
    if budget.marks < 0:
        raise TextTooComplex(_(
            "Use at most %(limit)s emphasis marks (*, _ and ~) in one text; put code between "
            "backticks, or split the text into parts.", limit=format_number(MAX_EMPHASIS_MARKS)))
    return False


def _too_many_cells() -> TextTooComplex:
    return TextTooComplex(_(
        "Tables can have at most %(limit)s cells in all (rows times columns, the header row "
        "included); split the table or shorten it.", limit=format_number(MAX_TABLE_CELLS)))


def _bounded_table(table_rule: Callable[..., bool]) -> Callable[..., bool]:
    """markdown-it's table rule, made to stop at the cells left instead of padding every row."""

    def table(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        if not table_rule(state, start_line, end_line, True):  # header and delimiter rows only
            return False
        if silent:
            return True
        budget: _RenderBudget = state.env[_BUDGET]
        delimiter = state.src[state.bMarks[start_line + 1] + state.tShift[start_line + 1]:
                              state.eMarks[start_line + 1]]
        columns = max(len(delimiter.strip().strip("|").split("|")), 1)
        rows_left = budget.cells // columns - 1  # the header row takes its share first
        if rows_left < 0:
            raise _too_many_cells()
        stop = min(end_line, start_line + 2 + rows_left)
        if not table_rule(state, start_line, stop, False):
            return False
        if state.line >= stop and stop < end_line and not state.isEmpty(stop):
            raise _too_many_cells()  # the table goes on past what is left
        budget.cells -= columns * (state.line - start_line - 1)
        return True

    return table


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
    table = next(rule for rule in md.block.ruler.__rules__ if rule.name == "table")
    md.block.ruler.at("table", _bounded_table(table.fn), {"alt": list(table.alt)})
    md.block.ruler.before("table", "render_budget", _budget_checkpoint,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    md.inline.ruler.before("text", "render_budget", _budget_checkpoint)
    md.inline.ruler.before("strikethrough", "emphasis_marks", _count_emphasis_marks)
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


def _check_size(html: str) -> None:
    if len(html) > MAX_HTML_CHARS:
        raise TextTooComplex(_(
            "Formatted, this text would make too long a page (more than %(limit)s characters "
            "of HTML); shorten it or use less formatting.", limit=format_number(MAX_HTML_CHARS)))


def clean_html(html: str) -> str:
    """Reduce HTML to the allow-list: no script, no event handlers, only http(s) and mailto links.

    Cleaning is idempotent: clean_html(clean_html(x)) == clean_html(x). HTML longer than
    MAX_HTML_CHARS is refused with TextTooComplex.
    """
    _check_size(html)
    return _cleaner.clean(_CONTROL.sub("", html))


def render_markdown(text: str, *, field: str | None = None) -> str:
    """Render a resident's markdown to safe HTML, ready to store beside the source.

    Raises TextTooComplex (naming `field`, the form field the text came from) for a text past
    the bounds in the module docstring. Call it before writing to the database: other green
    threads run while it works.
    """
    try:
        budget = _RenderBudget()
        budget.take_turn()  # what the request did before is one turn, the render the next ones
        env = {_BUDGET: budget}
        tokens = _markdown.parse(clean_text(text, multiline=True), env)
        budget.check_time()
        html = _markdown.renderer.render(tokens, _markdown.options, env)
        budget.check_time()
        html = clean_html(html)
        _check_size(html)  # the sanitizer adds `rel` to every link
        budget.take_turn()
        return html
    except TextTooComplex as error:
        error.field = field
        raise


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Normalise plain text from users: NFC, no control or direction-override characters.

    Plain text is escaped by the templates, never turned into HTML here.
    """
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return _CONTROL.sub("", text)
    return _CONTROL.sub("", text.replace("\n", " ").replace("\r", " ").replace("\t", " "))
