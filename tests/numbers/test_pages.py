"""The numbers page, its charts, the JSON and the CSV: the same figures, bad periods refused, the
charts' tables carrying every number the charts draw."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from sqlalchemy import select

from participation.demo import seed_demo
from participation.extensions import db
from participation.numbers import services
from participation.numbers.charts import CHARTS
from participation.townhall.models import Question, TownHall


@pytest.fixture
def demo(make_app):
    app = make_app(NUMBERS_CACHE_SECONDS=0)
    with app.app_context():
        seed_demo(db.session, password="demo password 123")
        db.session.commit()
        yield app


def cells(html: str, caption_starts: str) -> list[list[str]]:
    """The body rows of the table whose caption starts with `caption_starts`, as text."""
    for table in re.findall(r"<table.*?</table>", html, re.DOTALL):
        caption = re.search(r"<caption>(.*?)</caption>", table, re.DOTALL)
        if caption and unescape(caption.group(1)).strip().startswith(caption_starts):
            body = re.search(r"<tbody>(.*?)</tbody>", table, re.DOTALL).group(1)
            return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                     for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
                    for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]
    raise AssertionError(f"no table captioned {caption_starts!r}")


def drawn_values(svg: str) -> list[list[int]]:
    """The value of every bar, series by series, as pygal wrote them in the SVG."""
    series = re.split(r'<g class="series serie-\d+ color-\d+">', svg)[1:]
    return [[int(v) for v in re.findall(r'<desc class="value">([^<]*)</desc>', part)]
            for part in series]


def test_each_charts_table_carries_every_number_the_chart_draws(demo):
    client = demo.test_client()
    page = client.get("/numbers?since=2026-01&until=2026-12")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    drawn_something = False
    for chart in CHARTS.values():
        assert f'src="/numbers/charts/{chart.name}.svg?' in html
        rows = cells(html, f"{chart.title}:")
        assert len(rows) == 12
        svg = client.get(f"/numbers/charts/{chart.name}.svg?since=2026-01&until=2026-12")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        text = svg.get_data(as_text=True)
        assert "<script" not in text and f"<title>{chart.title}</title>" in text
        assert svg.headers["Content-Security-Policy"].startswith("default-src 'none'")
        drawn = drawn_values(text)
        assert len(drawn) == len(chart.series)
        for index, values in enumerate(drawn):
            shown = [int(row[1 + index].replace(",", "")) for row in rows]
            assert values == shown, (chart.name, index)
            drawn_something |= any(values)
    assert drawn_something, "the demo's figures show on the charts"


def test_the_page_the_json_and_the_csv_give_the_same_figures(demo):
    client = demo.test_client()
    query = "since=2026-01&until=2026-12"
    found = client.get(f"/api/v1/numbers?{query}").get_json()
    assert [m["month"] for m in found["months"]] == [f"2026-{n:02d}" for n in range(1, 13)]
    period = services.parse_period(db.session, "2026-01", "2026-12")
    assert found == services.numbers(db.session, period).as_dict()
    table = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/numbers.csv?{query}")
                                            .get_data(as_text=True))))
    assert [row["month"] for row in table] == [*(m["month"] for m in found["months"]), "total"]
    total = table[-1]
    assert int(total["questions.asked"]) == found["total"]["questions"]["asked"]
    assert int(total["commitments.made"]) == found["total"]["commitments"]["made"]
    assert int(total["participants.all"]) == found["total"]["participants"]["all"]
    html = client.get(f"/numbers?{query}").get_data(as_text=True)
    glance = dict(row for row in cells(html, "Every figure for the whole period"))
    assert glance["Questions asked in town halls"] == str(found["total"]["questions"]["asked"])
    assert glance["Ballots cast"] == str(found["total"]["polls"]["ballots"])
    assert glance["Commitments made"] == str(found["total"]["commitments"]["made"])


def test_each_figure_links_to_the_list_it_counts(demo):
    html = demo.test_client().get("/numbers?since=2026-01&until=2026-12").get_data(as_text=True)
    for href in ('href="/townhalls"', 'href="/polls"', 'href="/topics"',
                 'href="/decisions?since=2026-01-01&amp;until=2026-12-31"',
                 'href="/decisions/commitments?state=overdue"',
                 'href="/decisions/commitments?state=done_on_time"'):
        assert href in html, href


@pytest.mark.parametrize(("query", "message"), [
    ("since=2026-05&until=2026-01", "The period must end after it starts."),
    ("since=May", "Give months as YYYY-MM, for example 2026-03."),
    ("until=2026-00", "Give months as YYYY-MM, for example 2026-03."),
    ("since=1500-01&until=2026-01", "The period may cover at most 10 years."),
    ("department=Ministry+of+Silly+Walks", "There is no department called"),
    ("since=" + "9" * 5000, "Field cannot be longer than 7 characters."),
])
def test_a_bad_period_is_refused_on_the_page_and_in_the_api(demo, query, message):
    client = demo.test_client()
    page = client.get(f"/numbers?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert unescape(message) in unescape(html)
    assert "numbers-glance" not in html and "/numbers/charts/" not in html
    api = client.get(f"/api/v1/numbers?{query}")
    assert api.status_code == 400 and api.get_json()["error"] == "invalid"
    assert client.get(f"/api/v1/numbers.csv?{query}").status_code == 400
    assert client.get(f"/numbers/charts/questions.svg?{query}").status_code == 400


def test_an_unknown_chart_is_not_found(demo):
    assert demo.test_client().get("/numbers/charts/salaries.svg").status_code == 404


def test_a_department_is_offered_and_narrows_the_figures(demo):
    client = demo.test_client()
    departments = services.departments(db.session)
    assert departments
    html = client.get("/numbers").get_data(as_text=True)
    for name in departments:
        assert f'<option value="{name}">' in html
    everyone = client.get("/api/v1/numbers").get_json()["total"]
    narrowed = client.get("/api/v1/numbers", query_string={"department": departments[0]}
                          ).get_json()
    assert narrowed["department"] == departments[0]
    assert narrowed["total"]["new_accounts"] is None
    assert narrowed["total"]["questions"]["asked"] <= everyone["questions"]["asked"]


def test_questions_of_a_private_town_hall_are_not_counted(demo):
    client = demo.test_client()
    before = client.get("/api/v1/numbers").get_json()["total"]["questions"]["asked"]
    townhall = db.session.scalars(select(TownHall).join(Question)
                                  .where(TownHall.is_public.is_(True))).first()
    held = db.session.scalar(select(db.func.count(Question.id))
                             .where(Question.townhall_id == townhall.id))
    townhall.is_public = False
    db.session.commit()
    after = client.get("/api/v1/numbers").get_json()["total"]["questions"]["asked"]
    assert after == before - held and held > 0


def test_the_figures_are_kept_for_a_minute(make_app):
    app = make_app(NUMBERS_CACHE_SECONDS=60)
    with app.app_context():
        seed_demo(db.session, password="demo password 123")
        db.session.commit()
        client = app.test_client()
        before = client.get("/api/v1/numbers").get_json()["total"]["questions"]["asked"]
        townhall = db.session.scalars(select(TownHall)).first()
        db.session.add(Question(townhall_id=townhall.id, text="One more"))
        db.session.commit()
        assert client.get("/api/v1/numbers").get_json()["total"]["questions"]["asked"] == before
        app.extensions["numbers_cache"].clear()
        after = client.get("/api/v1/numbers").get_json()["total"]["questions"]["asked"]
        assert after == before + (1 if townhall.is_public else 0)


def test_the_page_is_in_spanish_for_a_spanish_reader(demo):
    html = demo.test_client().get("/numbers?since=2026-01&until=2026-03",
                                  headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "<h1 id=\"numbers-title\">Las cifras</h1>" in html, html[:3000]
    assert "enero de 2026" in html
