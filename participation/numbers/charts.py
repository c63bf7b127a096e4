"""The numbers page's charts: SVG drawn on the server by pygal, one series per figure.

Each chart names the figures it draws (`Series`); the page's table beside the chart shows the
same figures for the same months, from the same `Numbers`, so the table carries every number the
chart draws. The SVG holds no script: it is shown as an image, readable without JavaScript.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pygal
from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from participation.numbers.services import Figures, Numbers

# pygal puts an import hook for its map plugins (`pygal.maps.*`) on sys.meta_path, without the
# find_spec of today's import system: every later import that misses (an optional driver, say)
# then raises an ImportWarning. The charts use no map plugin.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if type(finder).__name__ != "PluginImportFixer"]


@dataclass(frozen=True)
class Series:
    label: object  # a lazy string: written in the reader's language
    value: Callable[[Figures], int | None]


@dataclass(frozen=True)
class Chart:
    name: str
    title: object
    description: object
    series: tuple[Series, ...]

    def rows(self, numbers: Numbers) -> list[tuple[str, list[int | None]]]:
        """Each month and the value of each series: the table beside the chart."""
        return [(month, [series.value(figures) for series in self.series])
                for month, figures in numbers.months.items()]


CHARTS: dict[str, Chart] = {chart.name: chart for chart in (
    Chart("participants", _l("People taking part"),
          _l("Distinct people who posted in the forums, asked or upvoted in a town hall, or "
             "voted, each month: each person is counted once overall and once per pillar."),
          (Series(_l("Everyone"), lambda f: f.participants),
           Series(_l("Forums"), lambda f: f.forum_participants),
           Series(_l("Town halls"), lambda f: f.townhall_participants),
           Series(_l("Polls"), lambda f: f.poll_participants))),
    Chart("questions", _l("Town hall questions"),
          _l("Questions asked in public town halls each month, and how many of them were "
             "answered live in the meeting or afterwards in writing."),
          (Series(_l("Asked"), lambda f: f.questions.asked),
           Series(_l("Answered live"), lambda f: f.questions.answered_live),
           Series(_l("Answered in writing"), lambda f: f.questions.answered_in_writing))),
    Chart("threads", _l("Forum threads"),
          _l("Forum threads started each month, and how many of them have an official "
             "response."),
          (Series(_l("Started"), lambda f: f.threads),
           Series(_l("With an official response"), lambda f: f.threads_answered))),
    Chart("polls", _l("Polls and ballots"),
          _l("Polls opened each month and the ballots cast in them."),
          (Series(_l("Polls opened"), lambda f: f.polls),
           Series(_l("Ballots"), lambda f: f.ballots))),
    Chart("decisions", _l("Decisions and promises"),
          _l("Decision records published each month, the follow-up commitments they made, and "
             "how those commitments stand today."),
          (Series(_l("Decisions published"), lambda f: f.decisions),
           Series(_l("Commitments made"), lambda f: f.commitments.get("made", 0)),
           Series(_l("Done on time"), lambda f: f.commitments.get("done_on_time", 0)),
           Series(_l("Done late"), lambda f: f.commitments.get("done_late", 0)),
           Series(_l("Overdue"), lambda f: f.commitments.get("overdue", 0)))),
)}

# Colours told apart by people with the common colour-vision deficiencies (Okabe and Ito), on
# white, with text dark enough to read.
STYLE = Style(
    background="white", plot_background="white", foreground="#1a1a1a",
    foreground_strong="#1a1a1a", foreground_subtle="#595959",
    colors=("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"),
    font_family="system-ui, sans-serif", title_font_size=18, label_font_size=13,
    major_label_font_size=13, legend_font_size=14, value_font_size=12,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def month_label(month: str, skeleton: str = "yMMMM") -> str:
    """"2026-03" as the reader's language writes a month ("March 2026", "marzo de 2026");
    with `skeleton` "yMMM", abbreviated ("Mar 2026", "mar 2026")."""
    return format_skeleton(skeleton, date(int(month[:4]), int(month[5:]), 1),
                           locale=get_locale() or "en")


def render_svg(chart: Chart, numbers: Numbers) -> str:
    """The chart as an SVG document: a bar per series and month, the title and description in
    the SVG's own <title> and <desc>, and no script."""
    drawing = pygal.Bar(
        style=STYLE, width=800, height=400, js=[], title=str(chart.title),
        x_labels=[month_label(m, "yMMM") for m in numbers.months],
        x_label_rotation=-30 if len(numbers.months) > 8 else 0,
        legend_at_bottom=True, legend_at_bottom_columns=len(chart.series), print_values=False,
        show_minor_y_labels=False, min_scale=1, max_scale=6, include_x_axis=True,
        no_data_text=str(_l("Nothing in this period")), disable_xml_declaration=False,
        spacing=12, margin=16,
    )
    for series in chart.series:
        drawing.add(str(series.label), [series.value(f) or 0 for f in numbers.months.values()])
    svg = _SCRIPT.sub("", drawing.render(is_unicode=True))
    # The document's accessible name and description, before anything else it draws.
    head = (f"<title>{_escape(str(chart.title))}</title>"
            f"<desc>{_escape(str(chart.description))}</desc>")
    return re.sub(r"(<svg\b[^>]*>)", lambda match: match.group(1) + head, svg, count=1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
