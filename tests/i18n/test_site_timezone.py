"""SITE_TIMEZONE: times typed and shown in the site's zone, with its name, and stored in UTC;
an unknown zone is refused when the app starts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from participation import create_app
from participation.config import InsecureConfiguration, from_environment
from participation.extensions import db
from participation.i18n import from_site_time, to_site_time
from participation.security.permissions import Role
from participation.townhall.models import TownHall
from tests.conftest import base_config, csrf_token

# Madrid's clocks go forward at 02:00 on 28 March 2027 and back at 03:00 on 31 October 2027.
BEFORE_SPRING = datetime(2027, 3, 27, 10, 0)
AFTER_SPRING = datetime(2027, 3, 29, 10, 30)


@pytest.fixture
def app(make_app):
    """This module's site is in Madrid."""
    app = make_app(SITE_TIMEZONE="Europe/Madrid")
    with app.app_context():
        yield app


def test_the_zone_comes_from_the_environment_and_an_unknown_one_is_refused(monkeypatch,
                                                                           tmp_path):
    assert from_environment(str(tmp_path))["SITE_TIMEZONE"] == "UTC"
    monkeypatch.setenv("SITE_TIMEZONE", "Europe/Madrid")
    assert from_environment(str(tmp_path))["SITE_TIMEZONE"] == "Europe/Madrid"
    for unknown in ("Europe/Atlantis", "CEST+1", "../../etc/passwd", " Europe/Madrid", "/UTC"):
        monkeypatch.setenv("SITE_TIMEZONE", unknown)
        with pytest.raises(InsecureConfiguration, match="SITE_TIMEZONE must be an IANA"):
            from_environment(str(tmp_path))
    with pytest.raises(InsecureConfiguration, match="SITE_TIMEZONE"):
        create_app(base_config(SITE_TIMEZONE="Mars/Olympus_Mons", INSTANCE_PATH=str(tmp_path),
                               SQLALCHEMY_DATABASE_URI="sqlite://"))


def test_wall_clock_times_round_trip_through_utc_across_both_clock_changes(app):
    assert from_site_time(BEFORE_SPRING) == datetime(2027, 3, 27, 9, 0, tzinfo=UTC)
    assert from_site_time(AFTER_SPRING) == datetime(2027, 3, 29, 8, 30, tzinfo=UTC)
    for wall in (BEFORE_SPRING, AFTER_SPRING, datetime(2027, 10, 30, 23, 0),
                 datetime(2027, 11, 1, 9, 15)):
        assert to_site_time(from_site_time(wall)) == wall
    # 02:30 on the spring morning never happens: read with the winter offset, it is 01:30
    # UTC, which the clock then shows as 03:30 summer time.
    assert from_site_time(datetime(2027, 3, 28, 2, 30)) == datetime(2027, 3, 28, 1, 30,
                                                                    tzinfo=UTC)
    # 02:30 on the autumn morning happens twice: the first (summer time) is taken.
    assert from_site_time(datetime(2027, 10, 31, 2, 30)) == datetime(2027, 10, 31, 0, 30,
                                                                     tzinfo=UTC)


def test_a_town_hall_is_typed_and_shown_in_the_site_zone(client_as):
    client = client_as(Role.OFFICIAL)
    form = client.get("/townhalls/new").get_data(as_text=True)
    assert "Starts (Europe/Madrid)" in form and "Ends (Europe/Madrid)" in form
    assert "UTC" not in form
    response = client.post("/townhalls/new", data={
        "csrf_token": csrf_token(client, "/townhalls/new"), "title": "Spring budget",
        "description": "", "starts_at": "2027-03-27T10:00", "ends_at": "2027-03-29T10:30",
        "question_max_length": "300", "allow_anonymous": "y", "is_public": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    townhall = db.session.query(TownHall).filter_by(title="Spring budget").one()
    assert townhall.starts_at == datetime(2027, 3, 27, 9, 0, tzinfo=UTC)
    assert townhall.ends_at == datetime(2027, 3, 29, 8, 30, tzinfo=UTC)
    page = client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    starts = re.search(r'<time datetime="2027-03-27T09:00:00Z" data-starts>([^<]*)</time>',
                       page)
    ends = re.search(r'<time datetime="2027-03-29T08:30:00Z" data-ends>([^<]*)</time>', page)
    assert starts and re.fullmatch(r"Mar 27, 2027, 10:00\WAM CET", starts.group(1))
    assert ends and re.fullmatch(r"10:30\WAM CEST", ends.group(1))
    edit = client.get(f"/townhalls/{townhall.id}/edit").get_data(as_text=True)
    assert 'value="2027-03-27 10:00:00"' in edit and 'value="2027-03-29 10:30:00"' in edit
