"""Counting every channel: results, the export and its recount, the electorate and turnout of a
poll for verified residents, and what a decision record freezes of them."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from participation.cli import cli
from participation.db import utcnow
from participation.decisions import services as decisions
from participation.extensions import db
from participation.polls import counting, paper, services, tasks, turnout
from participation.polls.eligibility import meets_roll_restriction
from participation.polls.models import Ballot
from participation.roll.models import RollEntry
from tests.decisions.conftest import draft
from tests.polls.conftest import close
from tests.polls.roll_people import KEY, identity, put_on_roll, verified_poll
from tests.polls.test_secrecy import assert_recount_matches

DISTRICTS = ["Centro", "Arganzuela", "Retiro"]


@pytest.fixture(autouse=True)
def roll_key(app):
    app.config["ROLL_KEY"] = KEY


def person(number):
    """An invented person: document id, date of birth, postcode, district."""
    born = date(1940 + (number * 7) % 75, 1 + number % 12, 1 + number % 28)
    return (f"{10000000 + number}T", born.isoformat(), f"280{number % 50:02d}",
            DISTRICTS[number % 3])


def expected_electorate(session, poll):
    """The test's own count: every active entry the eligibility rule lets vote at the close."""
    entries = session.scalars(select(RollEntry).where(RollEntry.active.is_(True)))
    return sum(meets_roll_restriction(poll, entry.district, entry.birth_year, poll.closes_at)
               for entry in entries)


def mixed_ballots(session, poll, moderator, voters, *, count_online=3):
    """Online ballots and ballots entered by channel; returns the channels used, in order."""
    used = []
    options = [option.id for option in poll.options]
    for index, voter in enumerate(voters(count_online)):
        services.cast_ballot(session, voter, poll.id, [options[index % len(options)]])
        used.append("online")
    for index, channel in enumerate(["paper", "phone", "paper", "in_person"]):
        paper.enter_ballot(session, moderator, poll.id, [options[(index + 1) % len(options)]],
                           channel=channel)
        used.append(channel)
    session.commit()
    return used


def test_results_count_every_channel_and_say_how_many_came_by_each(session, make_poll,
                                                                   moderator, voters):
    poll = make_poll()
    used = mixed_ballots(session, poll, moderator, voters)
    results = services.count_poll(session, poll)
    assert results["ballots"] == len(used)
    assert sum(option["votes"] for option in results["options"]) == len(used)
    figures = turnout.poll_turnout(session, poll)
    assert figures.channels == {channel: Counter(used)[channel] for channel in counting.CHANNELS}
    assert figures.entered == len(used) - Counter(used)["online"]
    assert figures.electorate is None and figures.percent is None


def test_the_export_carries_each_ballots_channel_and_the_recount_matches(
        tmp_path, session, make_poll, moderator, voters):
    poll = make_poll(kind="ranked")
    used = mixed_ballots(session, poll, moderator, voters)
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    assert export["format"] == "participation-poll-ballots/3"
    assert Counter(ballot["channel"] for ballot in export["ballots"]) == Counter(used)
    assert export["channels"] == {c: Counter(used)[c] for c in counting.CHANNELS}
    report = services.recount_export(export)
    assert report.matches and report.channels == export["channels"]
    assert_recount_matches(tmp_path, export, ballots=len(used), secrecy="verifiable")
    path = tmp_path / "export.json"
    printed = CliRunner().invoke(cli, ["recount", str(path)]).output
    assert "Ballots by channel: " + ", ".join(
        f"{channel} {Counter(used)[channel]}" for channel in counting.CHANNELS) in printed


def test_a_secret_export_gives_only_the_counts_by_channel(tmp_path, session, make_poll,
                                                          moderator, voters):
    poll = make_poll(ballot_secrecy="secret")
    used = mixed_ballots(session, poll, moderator, voters)
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    assert export["channels"] == {c: Counter(used)[c] for c in counting.CHANNELS}
    assert all(isinstance(content, list) for content in export["contents"])
    assert "ballots" not in export
    assert_recount_matches(tmp_path, export, ballots=len(used), secrecy="secret")


def test_the_recount_notices_counts_by_channel_that_do_not_add_up(session, make_poll, moderator,
                                                                  voters):
    poll = make_poll()
    mixed_ballots(session, poll, moderator, voters)
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    moved = json.loads(json.dumps(export))
    moved["channels"]["paper"] -= 1
    moved["channels"]["online"] += 1
    report = services.recount_export(moved)
    assert not report.matches and report.problems
    relabelled = json.loads(json.dumps(export))
    relabelled["ballots"][0]["channel"] = "carrier pigeon"
    with pytest.raises(services.BadExport):
        services.recount_export(relabelled)
    missing = json.loads(json.dumps(export))
    del missing["channels"]
    with pytest.raises(services.BadExport):
        services.recount_export(missing)


def test_a_second_format_export_still_recounts(tmp_path, session, make_poll, moderator, voters):
    poll = make_poll()
    used = mixed_ballots(session, poll, moderator, voters)
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    export["format"] = "participation-poll-ballots/2"
    for key in ("channels", "electorate", "turnout_percent"):
        del export[key]
    for ballot in export["ballots"]:
        del ballot["channel"]
    assert services.recount_export(export).matches
    assert_recount_matches(tmp_path, export, ballots=len(used), secrecy="verifiable")


def test_a_closed_verified_poll_has_the_electorate_of_the_roll_at_the_close(
        session, client, make_poll, moderator, official):
    people = [person(number) for number in range(40)]
    put_on_roll(session, *people[:30])
    put_on_roll(session, *people[30:], active=False)
    poll = verified_poll(make_poll, districts=["Centro", "Retiro"], min_age=30)
    entered = 0
    for someone in people[:30]:
        try:
            paper.enter_ballot(session, moderator, poll.id, [poll.options[0].id],
                               channel="paper", identity=identity(someone), roll_key=KEY)
        except Exception:  # noqa: BLE001 - those the poll's restriction leaves out
            session.rollback()
            continue
        session.commit()
        entered += 1
    assert 0 < entered < 30
    services.close_poll(session, official, poll)
    session.commit()
    expected = expected_electorate(session, poll)
    assert expected == len([p for p in people[:30] if p[3] in ("Centro", "Retiro")
                            and poll.closes_at.year - date.fromisoformat(p[1]).year >= 30])
    assert poll.electorate == expected
    figures = turnout.poll_turnout(session, poll)
    assert figures.frozen and figures.electorate == expected
    assert figures.ballots == entered
    assert figures.percent == round(100.0 * entered / expected, 1)
    # A later roll does not change a closed poll's electorate.
    for entry in session.scalars(select(RollEntry)):
        entry.active = not entry.active
    session.commit()
    assert turnout.poll_turnout(session, poll).electorate == expected
    export = services.export_poll(session, None, poll)
    assert export["electorate"] == expected and export["turnout_percent"] == figures.percent
    assert services.recount_export(json.loads(json.dumps(export))).matches
    page = client.get(f"/polls/{poll.id}").get_data(as_text=True)
    assert f'data-electorate="{expected}"' in page
    assert f'data-percent="{figures.percent}"' in page


def test_a_scheduled_close_has_its_electorate_frozen_by_the_job(session, make_poll):
    put_on_roll(session, *[person(number) for number in range(12)])
    poll = verified_poll(make_poll, districts=["Centro"])
    open_poll = verified_poll(make_poll)
    other = make_poll()
    close(poll)
    assert poll.electorate is None
    session.rollback()
    assert tasks.freeze_electorates.call_local() == 1
    session.refresh(poll)
    assert poll.electorate == expected_electorate(session, poll) == 4
    assert open_poll.electorate is None and other.electorate is None
    session.rollback()
    assert tasks.freeze_electorates.call_local() == 0


def test_a_decision_record_freezes_the_channels_electorate_and_turnout(
        session, make_poll, moderator, official, voters):
    people = [person(number) for number in range(9)]
    put_on_roll(session, *people)
    poll = verified_poll(make_poll)
    for someone in people[:4]:
        paper.enter_ballot(session, moderator, poll.id, [poll.options[1].id], channel="phone",
                           identity=identity(someone), roll_key=KEY)
    session.commit()
    close(poll)
    record = decisions.publish_decision(session, official, draft(links=[("poll", poll.id)]))
    session.commit()
    snapshot = record.content["links"][0]["snapshot"]
    assert snapshot["channels"] == {**dict.fromkeys(counting.CHANNELS, 0), "phone": 4}
    assert snapshot["electorate"] == expected_electorate(session, poll) == 9
    # Records hold no floats: the share is written out, as the poll's page shows it.
    assert snapshot["turnout_percent"] == f"{100.0 * 4 / 9:.1f}" == "44.4"
    assert snapshot["turnout"] == 4
    # Entered ballots have no account: they count as ballots, not as participants.
    assert record.content["figures"]["distinct_participants"] == 0
    assert poll.electorate == 9


def test_no_plain_document_id_reaches_the_database_the_audit_or_the_export(
        app, session, make_poll, moderator, caplog, tmp_path):
    people = [person(number) for number in range(5)]
    put_on_roll(session, *people)
    poll = verified_poll(make_poll)
    for someone in people:
        paper.enter_ballot(session, moderator, poll.id, [poll.options[0].id], channel="paper",
                           identity=identity(someone), roll_key=KEY)
        session.commit()
    poll.closes_at = utcnow() - timedelta(seconds=1)
    session.commit()
    export = json.dumps(services.export_poll(session, None, poll))
    session.commit()
    database = db.engine.url.database
    files = [Path(database), Path(database + "-wal")] if database else []
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    for someone in people:
        assert someone[0] not in export and someone[0] not in caplog.text
        assert someone[0].encode() not in raw
    assert session.scalars(select(Ballot.roll_entry_id).where(Ballot.poll_id == poll.id)).all()
