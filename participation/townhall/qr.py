"""The QR code of a town hall's join link, drawn on the server as inline SVG (no script)."""

from __future__ import annotations

import segno
from markupsafe import Markup, escape


def join_qr_svg(link: str, label: str) -> Markup:
    """Inline SVG of `link`, scaled by CSS (a view box, no fixed size), dark on a white square
    with the standard four-module quiet zone, so a phone reads it on a dark screen too.
    `label` names it to screen readers (a `<title>` and `aria-label`)."""
    svg = segno.make(link, error="m").svg_inline(
        scale=1, border=4, dark="#000", light="#fff", title=label, svgclass="join-qr",
        omitsize=True)
    # segno writes the element as `<svg viewBox=... class=...>`: name it an image. The markup
    # is segno's own, with the label escaped.
    named = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(named)  # noqa: S704
