"""The translations are complete: every marked string is in the Spanish catalog, translated and not
fuzzy; the compiled catalog matches its source; no template holds an unmarked user-facing string."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
LANGUAGES = ["es"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "N_": None}


def _source_messages() -> set[str]:
    """Every msgid marked in the code and templates, extracted as pybabel would with babel.cfg."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    return _source_messages()


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_translates_every_marked_string(source_messages, language):
    catalog = _catalog(language)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated[key] = all(strings) and "fuzzy" not in message.flags
    missing = sorted(source_messages - translated.keys())
    assert not missing, f"{language} catalog lacks: {missing[:20]}"
    untranslated = sorted(k for k, ok in translated.items() if not ok and k in source_messages)
    assert not untranslated, f"{language} catalog has untranslated or fuzzy: {untranslated[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language):
    problems = [(message.id, [str(e) for e in errors])
                for message, errors in _catalog(language).check() if errors]
    assert not problems, problems[:10]


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_its_source(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
    source = {_key(m.id): _key(m.string) for m in _catalog(language)
              if m.id and "fuzzy" not in m.flags}
    assert compiled == source, "run: pybabel compile -d translations"


TEXT_ATTRIBUTES = re.compile(r'\b(title|aria-label|placeholder|alt)="([^"]*)"')
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<(?:[^>{]|\{\{.*?\}\}|\{%.*?%\})*>", re.S)
WORD = re.compile(r"[A-Za-z]{2,}")
TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)
BODY_CLASS = re.compile(r"\{%\s*block body_class\s*%\}.*?\{%\s*endblock\s*%\}", re.S)


def unmarked_strings(source: str) -> list[str]:
    """Text a reader would see that is not inside a Jinja expression: text between tags and the
    text of title, aria-label, placeholder and alt attributes."""
    source = TRANS_BLOCK.sub("", BODY_CLASS.sub("", source))
    found = []
    for tag in TAG.findall(source):
        for _name, value in TEXT_ATTRIBUTES.findall(tag):
            if WORD.search(JINJA.sub("", value)):
                found.append(value)
    text = TAG.sub("\n", JINJA.sub("\n", source))
    found += [line.strip() for line in text.splitlines() if WORD.search(line)]
    return found


def test_the_heuristic_finds_unmarked_text_and_attributes():
    assert unmarked_strings('<p>Hello {{ name }}</p>') == ["Hello"]
    assert unmarked_strings('<a title="Open it" href="{{ url }}">{{ _("x") }}</a>') == ["Open it"]
    assert unmarked_strings('<p>{{ _("Hello %(n)s", n=name) }} · {{ n }}</p>') == []
    assert unmarked_strings('{% if a > b %}<b class="x">{{ _("Hi") }}</b>{% endif %}') == []
    assert unmarked_strings("<p>{% trans %}Hello <b>you</b>{% endtrans %}</p>") == []


@pytest.mark.parametrize("template", sorted(p.relative_to(ROOT / "templates").as_posix()
                                            for p in (ROOT / "templates").rglob("*.html")))
def test_template_has_no_unmarked_strings(template):
    source = (ROOT / "templates" / template).read_text()
    assert unmarked_strings(source) == []
