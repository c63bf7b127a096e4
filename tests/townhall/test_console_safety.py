"""The console's dangerous actions ask first, without scripts; a cancelled town hall says so;
merge targets are picked from the town hall's questions, the look-alikes first."""

from __future__ import annotations

import re

from participation.extensions import db
from participation.security.permissions import Role
from participation.townhall.models import QuestionStatus, Status
from tests.conftest import csrf_token


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_ending_asks_on_a_page_of_its_own_before_anything_changes(client_as, make_townhall):
    townhall = make_townhall(Status.LIVE)
    http = client_as(Role.MODERATOR)
    console = page(http.get(f"/townhalls/{townhall.id}/moderate"))
    assert re.search(r'class="button button--danger">End the town hall<', console)
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    url = f"/townhalls/{townhall.id}/status"
    asked = page(http.post(url, data={"csrf_token": token, "status": "ended"}))
    db.session.refresh(townhall)
    assert townhall.status is Status.LIVE
    assert "End “Budget town hall”?" in asked
    assert 'name="confirmed" value="yes"' in asked and "Yes, end the town hall" in asked
    done = http.post(url, data={"csrf_token": token, "status": "ended", "confirmed": "yes"})
    assert done.status_code == 302
    db.session.refresh(townhall)
    assert townhall.status is Status.ENDED and not townhall.called_off


def test_a_cancelled_town_hall_is_cancelled_not_past(client_as, client, make_townhall):
    held = make_townhall(Status.ENDED, title="Held one")
    planned = make_townhall(Status.SCHEDULED, title="Called off one")
    http = client_as(Role.OFFICIAL)
    token = csrf_token(http, f"/townhalls/{planned.id}")
    asked = page(http.post(f"/townhalls/{planned.id}/status",
                           data={"csrf_token": token, "status": "ended"}))
    assert "Cancel “Called off one”?" in asked and "Yes, cancel the town hall" in asked
    db.session.refresh(planned)
    assert planned.status is Status.SCHEDULED
    http.post(f"/townhalls/{planned.id}/status",
              data={"csrf_token": token, "status": "ended", "confirmed": "yes"})
    db.session.refresh(planned)
    assert planned.called_off and not held.called_off
    listing = page(client.get("/townhalls"))
    past, cancelled = listing.index("Past</h2>"), listing.index("Cancelled</h2>")
    assert past < listing.index("Held one") < cancelled < listing.index("Called off one")
    shown = page(client.get(f"/townhalls/{planned.id}"))
    assert re.search(r"data-status-badge>Cancelled<", shown)
    assert "data-status-badge>Ended<" not in shown


def test_rejecting_needs_the_box_ticked_even_without_scripts(client_as, townhall, make_question):
    question = make_question(townhall, "Reject me?")
    http = client_as(Role.MODERATOR)
    console = page(http.get(f"/townhalls/{townhall.id}/moderate"))
    box = re.search(rf'<input type="checkbox" name="confirm" value="y" '
                    rf'id="reject-confirm-{question.id}" required>', console)
    assert box, "the reject form has no required confirmation box"
    assert f'class="button button--danger" id="reject-{question.id}"' in console
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    url = f"/townhalls/{townhall.id}/questions/{question.id}/moderate"
    refused = http.post(url, data={"csrf_token": token, "action": "reject",
                                   "reason": "off_topic"}, follow_redirects=True)
    assert "Nothing was rejected" in page(refused)
    db.session.refresh(question)
    assert question.status is QuestionStatus.PENDING
    http.post(url, data={"csrf_token": token, "action": "reject", "reason": "off_topic",
                         "confirm": "y"})
    db.session.refresh(question)
    assert question.status is QuestionStatus.REJECTED


def test_merge_targets_are_picked_from_the_questions_the_look_alikes_first(
        client_as, townhall, make_question):
    popular = make_question(townhall, "Will the swimming pool open in the summer?",
                            status="approved")
    alike = make_question(townhall, "When will the library open on Sundays?",
                          status="approved")
    pending = make_question(townhall, "Is the library going to open on Sundays?")
    http = client_as(Role.MODERATOR)
    console = page(http.get(f"/townhalls/{townhall.id}/moderate"))
    picker = re.search(rf'<select name="into_id" id="into-{pending.id}"[^>]*>(.*?)</select>',
                       console, re.S)
    assert picker, "no merge picker for the pending question"
    options = re.findall(r'<option value="(\d*)"', picker.group(1))
    assert options == ["", str(alike.id), str(popular.id)]
    assert picker.group(1).index("Looks similar") < picker.group(1).index(f'"{alike.id}"')
    assert 'type="number" name="into_id"' not in console
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    http.post(f"/townhalls/{townhall.id}/questions/{pending.id}/moderate",
              data={"csrf_token": token, "action": "merge", "into_id": str(alike.id)})
    db.session.refresh(pending)
    assert pending.status is QuestionStatus.MERGED and pending.merged_into_id == alike.id


def test_console_ids_stay_unique_with_every_panel(client_as, townhall, make_question):
    make_question(townhall, "Queued one about the buses?")
    approved = make_question(townhall, "Approved one about the buses?", status="approved")
    html = page(client_as(Role.MODERATOR).get(f"/townhalls/{townhall.id}/moderate"))
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert f'<label for="written-answer-{approved.id}">' in html
    assert f'<textarea name="answer" id="written-answer-{approved.id}"' in html
