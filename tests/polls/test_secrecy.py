"""Ballot secrecy: what a receipt proves and what it reveals, on every route.

A secret poll's receipt page and public export together tell no one but the signed-in voter how
a ballot was cast; every voter still finds their fingerprint and anyone can recount. A
verifiable poll's export ties each voter's fingerprint to their ballot's content."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from participation.cli import cli
from participation.extensions import db
from participation.polls import counting, services
from participation.polls.models import Ballot, BallotSecrecy, Poll
from participation.realtime.models import Event
from participation.realtime.outbox import take_events
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from tests.conftest import csrf_token
from tests.polls.conftest import close


def assert_recount_matches(tmp_path, export, *, ballots: int, secrecy: str) -> None:
    """`participation recount` of this export, written to a file, matches and says so."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    result = CliRunner().invoke(cli, ["recount", str(path)])
    assert result.exit_code == 0, result.output
    assert "MATCH" in result.output and f"Ballots recounted: {ballots}" in result.output
    assert f"Ballot secrecy: {secrecy}" in result.output

def vote(client, poll, option_ids):
    """Vote with the plain form as `client`; the receipt code shown on the poll page after."""
    path = f"/polls/{poll.id}"
    if poll.kind.value == "ranked":
        data = {f"rank-{option}": str(rank) for rank, option in enumerate(option_ids, 1)}
    else:
        data = {"choice": [str(option) for option in option_ids]}
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(path).get_data(as_text=True)
    return re.search(r'class="receipt">([A-Z0-9-]+)<', page).group(1)


def receipt_page(client, code):
    response = client.get("/polls/receipt", query_string={"code": code})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def fingerprint_on(page):
    return re.search(r'class="fingerprint">([0-9a-f]{64})<', page).group(1)


def without_identifiers(page, poll, code):
    """A receipt page with what differs between two polls or ballots taken out: the poll's
    id and question, the code and its fingerprint, the time of the cast, the form token."""
    page = page.replace(code, "CODE").replace(fingerprint_on(page), "FINGERPRINT")
    page = page.replace(poll.question, "QUESTION")
    page = re.sub(rf"/polls/{poll.id}\b", "/polls/ID", page)
    page = re.sub(r'<time datetime="[^"]+">[^<]+</time>', "<time/>", page)
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


SECRET_BALLOTS = ["Trams", "Buses", "Bikes", "Ferries"]


def run_secret_poll(make_poll, people, clients, plan, question):
    """A closed secret ranked poll where people[i] ranked `plan[i]` (indexes into the options);
    each voter's receipt code, their receipt page, the JSON and CSV exports."""
    poll = make_poll("ranked", options=SECRET_BALLOTS, ballot_secrecy="secret",
                     question=question)
    o = [option.id for option in poll.options]
    codes = [vote(client, poll, [o[i] for i in ranking])
             for client, ranking in zip(clients, plan, strict=True)]
    close(poll)
    anyone = clients[0].application.test_client()
    pages = [receipt_page(anyone, code) for code in codes]
    export = anyone.get(f"/polls/{poll.id}/ballots.json").get_json()
    csv_text = anyone.get(f"/polls/{poll.id}/ballots.csv").get_data(as_text=True)
    return poll, codes, pages, export, csv_text


def test_a_secret_poll_lets_no_receipt_tell_how_its_ballot_was_cast(
        client_as, make_poll, voters, tmp_path):
    people = voters(4)
    clients = [client_as(user=person) for person in people]
    plan = [[0, 1], [2], [1, 0, 3], [3, 2]]
    # The same voters, the same ballots, but who cast which (and in what order) swapped round.
    swapped = [plan[2], plan[3], plan[0], plan[1]]
    first, codes, pages, export, csv_text = run_secret_poll(
        make_poll, people, clients, plan, "Which line first?")
    second, codes2, pages2, export2, csv2 = run_secret_poll(
        make_poll, list(reversed(people)), list(reversed(clients)), swapped,
        "Which line next?")

    labels = SECRET_BALLOTS
    for page in pages + pages2:
        assert "This ballot is in the count" in page
        # No choice is named on the receipt page.
        assert not any(label in page for label in labels)
    # The receipt pages say nothing that depends on the ballot behind them.
    stripped = {without_identifiers(page, first, code) for page, code in zip(pages, codes,
                                                                             strict=True)}
    stripped |= {without_identifiers(page, second, code) for page, code in zip(pages2, codes2,
                                                                               strict=True)}
    assert len(stripped) == 1

    for data in (export, export2):
        assert data["format"] == services.EXPORT_FORMAT == "participation-poll-ballots/2"
        assert data["poll"]["ballot_secrecy"] == "secret"
        assert "ballots" not in data
        assert data["fingerprints"] == sorted(data["fingerprints"])
        assert len(data["fingerprints"]) == len(data["contents"]) == 4
    # The contents come out the same whoever cast which and in whatever order: sorted by
    # content, they are in no relation to the voters, the order of casting or the receipts.
    def by_position(data, poll):
        position = {option.id: n for n, option in enumerate(poll.options)}
        return [[position[choice] for choice in content] for content in data["contents"]]

    assert by_position(export, first) == by_position(export2, second)
    assert by_position(export, first) == sorted(plan)
    assert export["contents"] == sorted(export["contents"])
    assert csv_text.splitlines()[1:] == csv2.splitlines()[1:]
    assert "fingerprint" not in csv_text and not any(f in csv_text
                                                    for f in export["fingerprints"])

    # Every voter finds their fingerprint, from the receipt page or from their code alone.
    for data, page_list, code_list in ((export, pages, codes), (export2, pages2, codes2)):
        for page, code in zip(page_list, code_list, strict=True):
            fingerprint = counting.receipt_fingerprint(services.normalize_receipt(code))
            assert fingerprint_on(page) == fingerprint
            assert fingerprint in data["fingerprints"]

    # Anyone can recount, and it matches.
    assert_recount_matches(tmp_path, export, ballots=4, secrecy="secret")

    # Only the signed-in voter sees their choices: their own, on the poll page.
    for voter, ranking in zip(clients, plan, strict=True):
        own = voter.get(f"/polls/{first.id}").get_data(as_text=True)
        shown = re.search(r'class="own-choices">(.*?)</ol>', own, re.S).group(1)
        assert re.findall(r"<li>(.*?)</li>", shown) == [labels[i] for i in ranking]
        assert "Only you see this, signed in" in own
    visitor = clients[0].application.test_client()
    assert "own-choices" not in visitor.get(f"/polls/{first.id}").get_data(as_text=True)


def test_a_verifiable_poll_lets_each_voter_find_their_ballots_content(
        client_as, make_poll, voters, client):
    poll = make_poll("multiple", options=["Shade", "Paths", "Café"], max_choices=2)
    assert poll.ballot_secrecy is BallotSecrecy.VERIFIABLE
    o = [option.id for option in poll.options]
    plan = [[o[0]], [o[1], o[2]], [o[2]]]
    codes = [vote(client_as(user=person), poll, choices)
             for person, choices in zip(voters(3), plan, strict=True)]
    close(poll)
    export = client.get(f"/polls/{poll.id}/ballots.json").get_json()
    assert export["poll"]["ballot_secrecy"] == "verifiable"
    assert "contents" not in export and "fingerprints" not in export
    by_fingerprint = {b["fingerprint"]: b["choices"] for b in export["ballots"]}
    for code, choices in zip(codes, plan, strict=True):
        page = receipt_page(client, code)
        # The receipt page itself shows no choice; it says the export ties them to the code.
        assert not any(label in page for label in ("Shade", "Paths", "Café"))
        assert "listed with this ballot's choices" in page
        assert by_fingerprint[fingerprint_on(page)] == choices
    assert services.recount_export(export).matches


def test_the_pages_say_what_a_receipt_proves_and_reveals(client_as, client, make_poll):
    secret = make_poll("single", ballot_secrecy="secret", question="Secret one?")
    open_ = make_poll("single", question="Verifiable one?")
    page = client.get(f"/polls/{secret.id}").get_data(as_text=True)
    assert 'data-secrecy="secret"' in page and "Secret ballots" in page
    assert "reveals nothing of how it was cast" in page
    page = client.get(f"/polls/{open_.id}").get_data(as_text=True)
    assert 'data-secrecy="verifiable"' in page and "Verifiable ballots" in page
    assert "anyone who holds the code can see that vote" in page
    code = vote(client_as(Role.RESIDENT), secret, [secret.options[0].id])
    page = receipt_page(client, code)
    assert "What this receipt proves" in page and "reveals nothing of how it was cast" in page
    assert "never shows a ballot's choices" in page
    # Not closed yet: the ballots are not published.
    assert "published once the poll has closed" in page


def test_old_format_exports_still_recount(tmp_path, session, make_poll, voters):
    poll = make_poll("single")
    o = [option.id for option in poll.options]
    for person, choice in zip(voters(3), [o[0], o[1], o[0]], strict=True):
        services.cast_ballot(session, person, poll.id, [choice])
        session.commit()
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    # Written as the first format was: no ballot secrecy, every ballot with its fingerprint.
    export["format"] = "participation-poll-ballots/1"
    del export["poll"]["ballot_secrecy"]
    assert services.recount_export(export).matches
    assert_recount_matches(tmp_path, export, ballots=3, secrecy="verifiable")


def test_a_secret_export_recount_finds_tampering(session, make_poll, voters):
    poll = make_poll("multiple", options=["A", "B", "C"], ballot_secrecy="secret")
    o = [option.id for option in poll.options]
    # Ticked in a telling order: the export writes approval choices sorted.
    for person, choices in zip(voters(3), [[o[2], o[0]], [o[1]], [o[0]]], strict=True):
        services.cast_ballot(session, person, poll.id, choices)
        session.commit()
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    assert export["contents"] == sorted([[o[0], o[2]], [o[1]], [o[0]]])
    assert services.recount_export(export).matches
    shuffled = {**export, "contents": list(reversed(export["contents"]))}
    report = services.recount_export(shuffled)
    assert not report.matches and any("not sorted" in p for p in report.problems)
    short = {**export, "fingerprints": export["fingerprints"][:2]}
    report = services.recount_export(short)
    assert any("not as many ballot contents" in p for p in report.problems)
    changed = {**export, "contents": sorted([[o[1]], [o[1]], [o[0]]])}
    assert any("differs" in p for p in services.recount_export(changed).problems)
    with pytest.raises(services.BadExport):
        services.recount_export({**export, "poll": {**export["poll"], "ballot_secrecy": "x"}})
    with pytest.raises(services.BadExport):
        services.recount_export({k: v for k, v in export.items() if k != "contents"})


def polls_created():
    return db.session.scalar(select(func.count()).select_from(Poll))


def test_the_creation_form_offers_the_choice_and_refuses_an_unknown_one(client_as, topic):
    official = client_as(Role.OFFICIAL)
    page = official.get("/polls/new").get_data(as_text=True)
    assert "What a receipt reveals" in page
    # The default (empty) choice leaves it to who may vote: secret for verified residents.
    assert re.search(r'<input checked[^>]*value=""', page)
    assert 'value="verifiable"' in page
    assert 'value="secret"' in page
    form = {"csrf_token": csrf_token(official, "/polls/new"), "parent": f"topic:{topic.id}",
            "question": "Which park first?", "kind": "single", "options": "North\nSouth",
            "results_mode": "after_close", "open_now": "y"}
    before = polls_created()
    bad = official.post("/polls/new", data={**form, "ballot_secrecy": "anonymous"})
    assert bad.status_code == 400
    assert "Choose how the ballots are published: verifiable or secret." in bad.get_data(
        as_text=True)
    assert polls_created() == before
    assert official.post("/polls/new", data={**form, "ballot_secrecy": "secret"}
                         ).status_code == 302
    poll = db.session.scalar(select(Poll).order_by(Poll.id.desc()))
    assert poll.ballot_secrecy is BallotSecrecy.SECRET
    # Without the field (an older form), the default applies.
    assert official.post("/polls/new", data={**form, "question": "And next?"}).status_code == 302
    poll = db.session.scalar(select(Poll).order_by(Poll.id.desc()))
    assert poll.ballot_secrecy is BallotSecrecy.VERIFIABLE


def test_polls_restricted_to_the_roll_default_to_secret():
    assert services.default_secrecy({}) is BallotSecrecy.VERIFIABLE
    assert services.default_secrecy({"electoral_roll_only": True}) is BallotSecrecy.SECRET


def test_in_the_town_hall_nothing_public_shows_a_secret_polls_choices(
        socket_client, client_as, live_townhall, make_poll, voters, official):
    poll = make_poll("single", townhall=live_townhall, results_mode="live",
                     ballot_secrecy="secret")
    take_events(db.session)
    people = voters(3)
    acks = []
    for person, option in zip(people, [0, 2, 2], strict=True):
        sio = socket_client(client_as(user=person))
        assert sio.emit("join", {"townhall_id": live_townhall.id}, namespace=NAMESPACE,
                        callback=True)["ok"]
        ack = sio.emit("vote", {"poll_id": poll.id, "choices": [poll.options[option].id]},
                       namespace=NAMESPACE, callback=True)
        assert ack["ok"], ack
        # The voter's own ack: their receipt, not their choices.
        assert set(ack) == {"ok", "poll_id", "receipt", "replaced", "repeated"}
        acks.append(ack)
    db.session.rollback()
    services.record_tally(db.session, poll.id)
    services.close_poll(db.session, official, db.session.get(Poll, poll.id))
    db.session.commit()
    take_events(db.session)
    receipts = {a["receipt"] for a in acks} | {
        b.receipt for b in db.session.scalars(select(Ballot).where(Ballot.poll_id == poll.id))}
    for event in db.session.scalars(select(Event).where(
            Event.townhall_id == live_townhall.id, Event.kind.in_(["tally", "poll"]))):
        assert event.audience == "public"
        text = json.dumps(event.payload)
        assert '"choices"' not in text and '"receipt"' not in text
        assert not any(receipt in text for receipt in receipts)
        results = (event.payload.get("results") if event.kind == "tally"
                   else event.payload["poll"]["results"])
        # Aggregates only: votes by option.
        assert set(results) <= {"kind", "ballots", "options", "leaders", "rounds", "winner"}
    visitor = socket_client()
    snapshot = visitor.emit("join", {"townhall_id": live_townhall.id}, namespace=NAMESPACE,
                            callback=True)["snapshot"]
    (entry,) = snapshot["polls"]
    assert entry["receipt"] is None and entry["ballot_secrecy"] == "secret"
    page = client_as(Role.RESIDENT).get(f"/townhalls/{live_townhall.id}").get_data(as_text=True)
    assert 'class="poll-secrecy muted" data-secrecy="secret"' in page
