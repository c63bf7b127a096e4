"""Town-hall pages and the JSON API, through the HTTP test client."""

from __future__ import annotations

import re

import pytest

from participation.api.views import openapi_document
from participation.extensions import db
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import (
    ModerationEntry,
    Question,
    QuestionStatus,
    Status,
    TownHall,
)
from tests.conftest import csrf_token


def page(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_index_lists_live_upcoming_and_past(client, make_townhall):
    make_townhall(Status.LIVE, title="Live one")
    make_townhall(Status.SCHEDULED, title="Coming one")
    make_townhall(Status.ENDED, title="Done one")
    make_townhall(Status.LIVE, title="Members one", is_public=False)
    html = page(client.get("/townhalls"))
    live, upcoming, past = (html.index(h) for h in ("Live now</h2>", "Upcoming</h2>",
                                                     "Past</h2>"))
    assert live < html.index("Live one") < upcoming < html.index("Coming one") < past
    assert html.index("Done one") > past
    assert "Members one" not in html
    assert 'href="/townhalls"' in html  # the navigation shows the town halls


def test_officials_schedule_a_town_hall_through_the_form(client_as, client):
    http = client_as(Role.OFFICIAL)
    token = csrf_token(http, "/townhalls/new")
    bad = http.post("/townhalls/new", data={
        "csrf_token": token, "title": "Kept title", "starts_at": "2027-01-10T18:00",
        "ends_at": "2027-01-10T17:00", "question_max_length": "300"})
    assert bad.status_code == 400
    assert "The end must be after the start." in bad.get_data(as_text=True)
    assert 'value="Kept title"' in bad.get_data(as_text=True)
    ok = http.post("/townhalls/new", data={
        "csrf_token": token, "title": "Library hours", "starts_at": "2027-01-10T18:00",
        "ends_at": "2027-01-10T19:30", "question_max_length": "400", "allow_anonymous": "y",
        "is_public": "y", "livestream_url": "https://player.vimeo.com/video/1"})
    assert ok.status_code == 302
    townhall = db.session.query(TownHall).one()
    assert townhall.starts_at.isoformat() == "2027-01-10T18:00:00+00:00"
    assert townhall.question_max_length == 400
    assert client_as(Role.RESIDENT).get("/townhalls/new").status_code == 403
    assert client.get("/townhalls/new").status_code == 302


def test_live_page_shows_the_database_state_without_scripts(client_as, townhall,
                                                            make_question, moderator):
    resident = client_as(Role.RESIDENT)
    approved = make_question(townhall, "Approved <b>bold</b>?", status="approved")
    mine = make_question(townhall, "My pending one?", author=resident.user)
    rejected = make_question(townhall, "My rejected one?", author=resident.user,
                             status="rejected")
    services.highlight_question(db.session, moderator, approved)
    db.session.commit()
    html = page(resident.get(f"/townhalls/{townhall.id}"))
    assert "Approved &lt;b&gt;bold&lt;/b&gt;?" in html
    assert "Now answering" in html
    assert f'id="mine{mine.id}"' in html and "Awaiting moderation" in html
    assert f'id="mine{rejected.id}"' in html and "Off topic for this town hall" in html
    assert re.search(r'data-seq="(\d+)"', html).group(1) == str(
        services.sequence_number(db.session, townhall))
    assert 'aria-live="polite"' in html and 'id="connection"' in html
    other = page(client_as(Role.RESIDENT).get(f"/townhalls/{townhall.id}"))
    assert "My pending one?" not in other and "My rejected one?" not in other


def test_anonymous_questions_show_no_name_to_the_public(client, townhall, make_question):
    question = make_question(townhall, "Who am I?", anonymous=True, status="approved")
    html = page(client.get(f"/townhalls/{townhall.id}"))
    assert question.author.display_name not in html
    assert "Anonymous" in html


def test_asking_and_upvoting_work_without_scripts(client_as, townhall, make_question):
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    too_long = http.post(f"/townhalls/{townhall.id}/questions",
                         data={"csrf_token": token, "text": "x" * 301})
    assert too_long.status_code == 400
    assert "Keep your question under 300 characters" in too_long.get_data(as_text=True)
    response = http.post(f"/townhalls/{townhall.id}/questions",
                         data={"csrf_token": token, "text": "Bus 12?", "client_id": "k1"})
    assert response.status_code == 302
    again = http.post(f"/townhalls/{townhall.id}/questions",
                      data={"csrf_token": token, "text": "Bus 12?", "client_id": "k1"})
    assert again.status_code == 302
    assert db.session.query(Question).count() == 1
    other = make_question(townhall, status="approved")
    url = f"/townhalls/{townhall.id}/questions/{other.id}/upvote"
    assert http.post(url, data={"csrf_token": token, "value": "true"}).status_code == 302
    db.session.refresh(other)
    assert other.upvote_count == 1
    assert http.post(url, data={"csrf_token": token, "value": "maybe"}).status_code == 400


def test_visitors_cannot_ask_over_http(client, townhall):
    response = client.post(f"/townhalls/{townhall.id}/questions", data={"text": "Hi?"})
    assert response.status_code in (302, 400)
    assert db.session.query(Question).count() == 0


def test_moderator_console_is_for_moderators_and_works_without_scripts(
        client_as, townhall, make_question):
    question = make_question(townhall, "Queue me?")
    assert client_as(Role.RESIDENT).get(f"/townhalls/{townhall.id}/moderate").status_code == 403
    http = client_as(Role.MODERATOR)
    html = page(http.get(f"/townhalls/{townhall.id}/moderate"))
    assert "Queue me?" in html and f'id="approve-{question.id}"' in html
    part = page(http.get(f"/townhalls/{townhall.id}/moderate?part=live"))
    assert "<html" not in part and "Queue me?" in part
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    url = f"/townhalls/{townhall.id}/questions/{question.id}/moderate"
    response = http.post(url, data={"csrf_token": token, "action": "reject", "reason": ""})
    assert response.status_code == 302
    db.session.refresh(question)
    assert question.status is QuestionStatus.PENDING
    http.post(url, data={"csrf_token": token, "action": "approve"})
    db.session.refresh(question)
    assert question.status is QuestionStatus.APPROVED
    entered = http.post(f"/townhalls/{townhall.id}/enter", data={
        "csrf_token": token, "text": "From the phone line?", "channel": "phone", "name": "Bo"})
    assert entered.status_code == 302
    assert "From the phone line?" in page(http.get(f"/townhalls/{townhall.id}"))


def test_residents_cannot_moderate_over_http(client_as, townhall, make_question):
    question = make_question(townhall)
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    response = http.post(f"/townhalls/{townhall.id}/questions/{question.id}/moderate",
                         data={"csrf_token": token, "action": "approve"})
    assert response.status_code == 403
    db.session.refresh(question)
    assert question.status is QuestionStatus.PENDING


def test_projector_shows_the_highlighted_and_top_questions_in_large_type(
        client, townhall, make_question, moderator):
    top = make_question(townhall, "Top question?", status="approved")
    now = make_question(townhall, "Being answered?", status="approved")
    services.highlight_question(db.session, moderator, now)
    db.session.commit()
    html = page(client.get(f"/townhalls/{townhall.id}/projector"))
    assert html.index("Being answered?") < html.index("Top question?")
    assert "projector-page" in html
    assert top.text in page(client.get(f"/townhalls/{townhall.id}/projector?part=live"))


def test_transcript_lists_outcomes_and_the_ledger_but_no_rejected_text(
        client, make_townhall, make_question, moderator):
    townhall = make_townhall()
    make_question(townhall, "Answered one?", status="answered")
    make_question(townhall, "Rejected one?", status="rejected")
    services.set_status(db.session, moderator, townhall, "ended")
    db.session.commit()
    html = page(client.get(f"/townhalls/{townhall.id}/transcript"))
    assert "Answered one?" in html and "answered live" in html
    assert "Rejected one?" not in html
    assert "Off topic for this town hall: 1" in html


def test_private_town_halls_need_an_account(client, client_as, make_townhall):
    private = make_townhall(is_public=False)
    assert client.get(f"/townhalls/{private.id}").status_code == 401
    assert client_as(Role.RESIDENT).get(f"/townhalls/{private.id}").status_code == 200
    assert client.get(f"/api/v1/townhalls/{private.id}").status_code == 404


def test_unknown_town_hall_is_404(client):
    assert client.get("/townhalls/999").status_code == 404


def test_api_lists_and_shows_public_town_halls(client, townhall, make_question):
    answered = make_question(townhall, "Answered?", status="answered")
    make_question(townhall, "Pending?")
    listing = client.get("/api/v1/townhalls").get_json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == townhall.id
    detail = client.get(f"/api/v1/townhalls/{townhall.id}").get_json()
    assert detail["status"] == "live"
    assert [q["id"] for q in detail["questions"]] == [answered.id]
    assert detail["ledger"]["asked"] == 2
    assert client.get("/api/v1/townhalls/999").get_json()["error"] == "not_found"
    assert client.get("/api/v1/townhalls?per_page=0").status_code == 400


def test_api_is_in_the_openapi_document(app):
    paths = openapi_document()["paths"]
    assert "/api/v1/townhalls" in paths and "/api/v1/townhalls/{townhall_id}" in paths


@pytest.mark.parametrize("path", ["/static/js/townhall.js", "/static/css/townhall.css"])
def test_static_files_are_served(client, path):
    with client.get(path) as response:
        assert response.status_code == 200


def test_officials_start_and_end_from_the_live_page(client_as, make_townhall, official):
    townhall = make_townhall(Status.SCHEDULED)
    http = client_as(user=official)
    html = page(http.get(f"/townhalls/{townhall.id}"))
    assert "Start the town hall" in html
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    response = http.post(f"/townhalls/{townhall.id}/status",
                         data={"csrf_token": token, "status": "live"})
    assert response.headers["Location"].endswith(f"/townhalls/{townhall.id}")
    db.session.refresh(townhall)
    assert townhall.status is Status.LIVE
    bad = http.post(f"/townhalls/{townhall.id}/status",
                    data={"csrf_token": token, "status": "scheduled"})
    assert bad.status_code == 409
    resident = client_as(Role.RESIDENT)
    assert "End the town hall" not in page(resident.get(f"/townhalls/{townhall.id}"))
    assert resident.post(f"/townhalls/{townhall.id}/status", data={
        "csrf_token": csrf_token(resident, f"/townhalls/{townhall.id}"),
        "status": "ended"}).status_code == 403


def edit_form(token, **changes):
    data = {"csrf_token": token, "title": "Budget town hall", "description": "",
            "starts_at": "2027-01-10T18:00", "ends_at": "2027-01-10T19:30",
            "livestream_url": "", "question_max_length": "300", "allow_anonymous": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_officials_edit_a_town_hall_and_see_the_new_values(client_as, make_townhall, official):
    townhall = make_townhall(Status.SCHEDULED, is_public=False)
    http = client_as(user=official)
    live = page(http.get(f"/townhalls/{townhall.id}"))
    assert f'href="/townhalls/{townhall.id}/edit"' in live
    url = f"/townhalls/{townhall.id}/edit"
    form = page(http.get(url))
    assert 'value="Budget town hall"' in form and 'name="is_public"' not in form
    response = http.post(url, data=edit_form(
        csrf_token(http, url), title="Library hours", description="Bring **ideas**",
        livestream_url="https://player.vimeo.com/video/9", question_max_length="450",
        allow_anonymous=None))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/townhalls/{townhall.id}")
    db.session.refresh(townhall)
    assert (townhall.title, townhall.question_max_length, townhall.allow_anonymous) == (
        "Library hours", 450, False)
    assert townhall.starts_at.isoformat() == "2027-01-10T18:00:00+00:00"
    assert townhall.is_public is False  # not on the edit form, so unchanged
    html = page(http.get(f"/townhalls/{townhall.id}"))
    assert "The town hall is updated." in html
    assert "Library hours" in html and "<strong>ideas</strong>" in html
    assert 'src="https://player.vimeo.com/video/9"' in html


def test_saving_an_unchanged_form_changes_nothing(client_as, townhall, official):
    http = client_as(user=official)
    url = f"/townhalls/{townhall.id}/edit"
    form = page(http.get(url))
    starts = re.search(r'name="starts_at"[^>]*value="([^"]+)"', form).group(1)
    ends = re.search(r'name="ends_at"[^>]*value="([^"]+)"', form).group(1)
    db.session.refresh(townhall)
    before = (townhall.starts_at, townhall.ends_at)
    assert before[0].microsecond != 0  # more precise than the form shows
    # As shown, and to the minute as a browser's date picker may send it.
    for sent in ((starts, ends), (starts[:16], ends[:16])):
        response = http.post(url, data=edit_form(csrf_token(http, url), starts_at=sent[0],
                                                 ends_at=sent[1]))
        assert response.status_code == 302
        db.session.refresh(townhall)
        assert (townhall.starts_at, townhall.ends_at) == before
    assert db.session.query(ModerationEntry).filter_by(action="edit").count() == 0
    assert "Nothing was changed." in page(http.get(f"/townhalls/{townhall.id}"))


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.MODERATOR])
def test_residents_and_moderators_cannot_edit(client_as, townhall, role):
    http = client_as(role)
    url = f"/townhalls/{townhall.id}/edit"
    assert f'href="{url}"' not in page(http.get(f"/townhalls/{townhall.id}"))
    if role is Role.MODERATOR:
        assert f'href="{url}"' not in page(http.get(f"/townhalls/{townhall.id}/moderate"))
    assert http.get(url).status_code == 403
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    assert http.post(url, data=edit_form(token, title="Taken over")).status_code == 403
    db.session.refresh(townhall)
    assert townhall.title == "Budget town hall"


def test_visitors_are_sent_to_sign_in(client, townhall):
    url = f"/townhalls/{townhall.id}/edit"
    assert "/login?next=" in client.get(url).headers["Location"]
    assert client.post(url, data=edit_form("x", title="Taken over")).status_code in (302, 400)
    db.session.refresh(townhall)
    assert townhall.title == "Budget town hall"


def test_admins_edit_and_find_the_link_in_the_console(client_as, townhall):
    http = client_as(Role.ADMIN)
    url = f"/townhalls/{townhall.id}/edit"
    assert f'href="{url}"' in page(http.get(f"/townhalls/{townhall.id}/moderate"))
    assert http.post(url, data=edit_form(csrf_token(http, url),
                                         title="Admin's title")).status_code == 302
    db.session.refresh(townhall)
    assert townhall.title == "Admin's title"


def test_an_ended_town_hall_cannot_be_edited(client_as, make_townhall, official):
    townhall = make_townhall(Status.ENDED)
    http = client_as(user=official)
    url = f"/townhalls/{townhall.id}/edit"
    assert f'href="{url}"' not in page(http.get(f"/townhalls/{townhall.id}"))
    refused = http.get(url)
    assert refused.status_code == 409
    assert "This town hall has ended; it can no longer be edited." in refused.get_data(
        as_text=True)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    assert http.post(url, data=edit_form(token, title="Rewritten")).status_code == 409
    db.session.refresh(townhall)
    assert townhall.title == "Budget town hall"


def test_a_live_town_hall_can_be_edited_with_a_notice(client_as, townhall, official):
    http = client_as(user=official)
    url = f"/townhalls/{townhall.id}/edit"
    assert "This town hall is live." in page(http.get(url))
    assert http.post(url, data=edit_form(csrf_token(http, url),
                                         question_max_length="100")).status_code == 302
    db.session.refresh(townhall)
    assert townhall.question_max_length == 100 and townhall.status is Status.LIVE


@pytest.mark.parametrize(("changes", "message"), [
    ({"ends_at": "2027-01-10T17:00"}, "The end must be after the start."),
    ({"ends_at": "2027-01-10T18:00"}, "The end must be after the start."),
    ({"livestream_url": "https://evil.example/embed/1"}, "The livestream must be an embed link"),
    ({"title": "x" * 201}, "200"),
    ({"title": ""}, "This field is required."),
    ({"question_max_length": "lots"}, "Not a valid integer value."),
    ({"question_max_length": "5"}, "Number must be between 20 and 2000."),
    ({"starts_at": "tomorrow"}, "Not a valid datetime value."),
])
def test_bad_input_rerenders_the_form_and_changes_nothing(client_as, make_townhall, official,
                                                          changes, message):
    townhall = make_townhall(Status.SCHEDULED, title="Kept", question_max_length=300)
    http = client_as(user=official)
    url = f"/townhalls/{townhall.id}/edit"
    response = http.post(url, data=edit_form(csrf_token(http, url),
                                             **{"title": "Changed?", **changes}))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and 'aria-invalid="true"' in html
    db.session.expire_all()
    townhall = db.session.get(TownHall, townhall.id)
    assert (townhall.title, townhall.question_max_length, townhall.livestream_url) == (
        "Kept", 300, None)


def test_editing_needs_the_csrf_token(client_as, townhall, official):
    http = client_as(user=official)
    url = f"/townhalls/{townhall.id}/edit"
    response = http.post(url, data=edit_form(None, title="Forged"))
    assert response.status_code == 400
    db.session.refresh(townhall)
    assert townhall.title == "Budget town hall"


def test_the_edit_page_and_its_refusal_come_in_spanish(client_as, make_townhall, official):
    live = make_townhall(Status.LIVE)
    ended = make_townhall(Status.ENDED)
    http = client_as(user=official)
    spanish = {"Accept-Language": "es"}
    assert "Editar la asamblea" in page(http.get(f"/townhalls/{live.id}", headers=spanish))
    html = page(http.get(f"/townhalls/{live.id}/edit", headers=spanish))
    assert "Editar: Budget town hall" in html and "Esta asamblea está en directo." in html
    refused = http.get(f"/townhalls/{ended.id}/edit", headers=spanish)
    assert refused.status_code == 409
    assert "ya no se puede editar" in refused.get_data(as_text=True)
