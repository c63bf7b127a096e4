"""Hostile summaries and titles: each must come out inert."""

from html.parser import HTMLParser

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "\"><script>alert(1)</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "![x](javascript:alert(1))",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "[x](vbscript:msgbox(1))",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
]


SAFE_TAGS = {"a", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr", "li",
             "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}
SAFE_ATTRIBUTES = {"href", "title", "rel", "start"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def unsafe_markup(html: str) -> list[str]:
    """Every element, attribute or link in `html` that could run script; [] when inert."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag not in SAFE_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES:
                problems.append(f"{tag}[{name}]")
            if name == "href" and value and not value.strip().lower().startswith(
                    ("http://", "https://", "mailto:", "/", "#")):
                problems.append(f"href={value}")
    return problems


def script_vectors(html: str) -> list[str]:
    """Anything on a whole page that could run script: active elements, on* handlers, script
    URLs. Unlike `unsafe_markup`, the page's own layout elements are fine."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag in {"script", "iframe", "object", "embed", "svg", "math", "img", "meta", "base",
                   "style", "link"}:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                problems.append(f"{tag}[{name}]")
            if name in {"href", "src", "action"} and value and value.strip().lower().startswith(
                    ("javascript:", "vbscript:", "data:")):
                problems.append(f"{tag}[{name}={value}]")
    return problems
