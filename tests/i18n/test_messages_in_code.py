"""What the code says to people goes through the catalog: every flash and every domain error is
given a translated message (never a bare string, nor an `N_` constant passed on untranslated),
and a page reached by a refused form (the sign-in failure among them) shows no English in
Spanish."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import participation
from participation.errors import DomainError
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "participation"
MARKERS = {"N_"}
TRANSLATORS = {"_", "gettext", "lazy_gettext", "_l", "ngettext", "lazy_ngettext"}


def _error_names() -> set[str]:
    """DomainError and every subclass the code defines (imported, so that all are known)."""
    import participation.accounts.services  # noqa: F401 - defines LinkRefused and others
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module.endswith("__init__"):
            module = module.rsplit(".", 1)[0]
        __import__(module)
    found, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _untranslated_constants(tree: ast.Module) -> dict[str, int]:
    """Module-level names bound to a bare string or to an `N_("...")` marker: English as is."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            value = node.value
            if (isinstance(value, ast.Constant) and isinstance(value.value, str)) or (
                    isinstance(value, ast.Call) and _called_name(value.func) in MARKERS):
                found[node.targets[0].id] = node.lineno
    return found


def untranslated_messages(source: str, error_names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for each flash or domain error given English that is not translated when
    it is shown: a string literal, an f-string, or a module constant that is a plain string or
    only marked with N_."""
    tree = ast.parse(source)
    constants = _untranslated_constants(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node.func)
        if name != "flash" and name not in error_names:
            continue
        message = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg == "message"), None)
        if message is None:
            continue
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            problems.append((node.lineno, f"{name}({message.value!r})"))
        elif isinstance(message, ast.JoinedStr):
            problems.append((node.lineno, f"{name}(f-string)"))
        elif isinstance(message, ast.Name) and message.id in constants:
            problems.append((node.lineno, f"{name}({message.id}), untranslated constant"))
        elif isinstance(message, ast.Call) and _called_name(message.func) in MARKERS:
            problems.append((node.lineno, f"{name}(N_(...)), marked but not translated"))
    return problems


def test_the_walk_finds_untranslated_flashes_and_errors():
    source = '''
SIGN_IN_FAILED = "That email and password do not match an active account."
MARKED = N_("Marked only")
TRANSLATED_LATER = N_("Fine when given through _()")

def view():
    flash("Hello")
    flash(_("Fine"), "success")
    flash(f"Hi {name}")
    raise InvalidInput(SIGN_IN_FAILED, field="password")
    raise InvalidInput(MARKED)
    raise Conflict(N_("Marked inline"))
    raise Closed(message="Closed now")
    raise InvalidInput(_(TRANSLATED_LATER))
    raise InvalidInput(lazy_gettext("Fine too"))
    raise InvalidInput()
    raise InvalidInput(error.message)
'''
    found = untranslated_messages(source, {"InvalidInput", "Conflict", "Closed"})
    assert [line for line, _what in found] == [7, 9, 10, 11, 12, 13]


@pytest.fixture(scope="module")
def error_names() -> set[str]:
    return _error_names()


def test_the_walk_knows_the_domain_errors(error_names):
    assert {"DomainError", "InvalidInput", "Conflict", "Forbidden", "LinkRefused"} <= error_names


@pytest.mark.parametrize("module", sorted(
    p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")))
def test_every_flash_and_domain_error_is_translated(module, error_names):
    source = (PACKAGE / module).read_text(encoding="utf-8")
    assert untranslated_messages(source, error_names) == []


# The page itself, in Spanish


def _catalog():
    path = ROOT / "translations" / "es" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale="es")


class _Text(HTMLParser):
    """The text a reader meets: text between tags (not scripts) and labelling attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "alt") and value:
                self.parts.append(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def english_left(html: str, site_name: str = "Participation") -> list[str]:
    """Texts on the page that are an English message of the catalog whose Spanish differs (the
    site's name aside: a name, not a message)."""
    english = {m.id for m in _catalog() if isinstance(m.id, str) and m.id and m.string
               and m.string != m.id and re.search("[A-Za-z]{3}", m.id)} - {site_name}
    reader = _Text()
    reader.feed(html)
    return [part for part in reader.parts if part in english]


def test_english_left_finds_an_untranslated_message():
    assert english_left('<p class="error">That email and password do not match an active '
                        'account.</p><p>Ese correo</p>') == [
        "That email and password do not match an active account."]


def test_the_sign_in_failure_page_in_spanish_has_no_english(client, make_user):
    user = make_user()
    spanish = {"Accept-Language": "es"}
    failed = client.post("/login", headers=spanish, data={
        "csrf_token": csrf_token(client, "/login"), "email": user.email,
        "password": "not the password"})
    assert failed.status_code == 400
    html = failed.get_data(as_text=True)
    assert "Ese correo y esa contraseña no corresponden a ninguna cuenta activa." in html
    assert english_left(html, client.application.jinja_env.globals["site_name"]) == []
    assert 'lang="es"' in html


def test_a_refused_registration_in_spanish_has_no_english(client):
    refused = client.post("/register", headers={"Accept-Language": "es"}, data={
        "csrf_token": csrf_token(client, "/register"), "email": "not an address",
        "display_name": "", "password": "short"})
    assert refused.status_code == 400
    assert english_left(refused.get_data(as_text=True),
                        client.application.jinja_env.globals["site_name"]) == []


def test_participation_is_the_package_walked():
    assert Path(participation.__file__).parent == PACKAGE
