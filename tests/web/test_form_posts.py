"""The one way a view handles a form post (participation.forms.handle_form): a refused post is
rolled back and shown on its field or flashed with a 400; an accepted one is committed once,
then answered, then flashed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from participation.accounts import services as accounts
from participation.errors import Closed, DomainError, Forbidden, InvalidInput, NotFound
from participation.extensions import db
from participation.forms import found_or_none, handle_form, look_up
from tests.conftest import PASSWORD


class NameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()])


@pytest.fixture
def app(make_app: Any) -> Any:
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


def _post(app: Flask, **data: str) -> Any:
    return app.test_request_context("/", method="POST", data=data)


def _refuse(error: DomainError) -> Any:
    def action() -> None:
        # Something flushed before the refusal, which the rollback must undo.
        accounts.register_user(db.session, email="flushed@example.test",
                               display_name="Flushed", password=PASSWORD)
        raise error
    return action


def test_a_form_only_shown_is_rendered_with_200_and_nothing_is_called(app):
    called = []
    with app.test_request_context("/"):
        answer = handle_form(NameForm(), lambda: called.append("action"),
                             success=lambda _result: "done", render=lambda: "page")
    assert answer == ("page", 200) and called == []


def test_a_sent_form_that_does_not_validate_is_rendered_again_with_400(app):
    called = []
    with _post(app, name=""):
        answer = handle_form(NameForm(), lambda: called.append("action"),
                             success=lambda _result: "done", render=lambda: "page")
    assert answer == ("page", 400) and called == []


def test_an_accepted_post_commits_once_then_answers_then_flashes(app):
    steps: list[str] = []
    with _post(app, name="Ada"):
        answer = handle_form(
            NameForm(), lambda: steps.append("action") or 7,
            commit=lambda session: steps.append("commit"),
            success=lambda result: steps.append(f"success {result}") or "redirect",
            flash_message=lambda result: steps.append("flash") or f"Saved {result}.",
            render=lambda: "page")
        flashed = get_flashed_messages(with_categories=True)
    assert answer == "redirect"
    assert steps == ["action", "commit", "success 7", "flash"]
    assert flashed == [("success", "Saved 7.")]


def test_a_refusal_about_a_field_is_rolled_back_and_shown_on_that_field(app):
    with _post(app, name="Ada"):
        form = NameForm()
        answer = handle_form(form, _refuse(InvalidInput("Taken.", field="name")),
                             success=lambda _result: "done", render=lambda: "page")
        flashed = get_flashed_messages()
    assert answer == ("page", 400)
    assert form.name.errors == ["Taken."] and flashed == []
    assert accounts.find_user_by_email(db.session, "flushed@example.test") is None


def test_a_refusal_about_no_field_is_flashed(app):
    with _post(app, name="Ada"):
        answer = handle_form(NameForm(), _refuse(Closed("It closed.")),
                             success=lambda _result: "done", render=lambda: "page")
        flashed = get_flashed_messages(with_categories=True)
    assert answer == ("page", 400) and flashed == [("error", "It closed.")]
    assert accounts.find_user_by_email(db.session, "flushed@example.test") is None


def test_refusals_named_in_raise_for_go_on_to_the_error_page(app):
    with _post(app, name="Ada"), pytest.raises(Forbidden):
        handle_form(NameForm(), _refuse(Forbidden()), raise_for=(401, 403),
                    success=lambda _result: "done", render=lambda: "page")
    assert accounts.find_user_by_email(db.session, "flushed@example.test") is None


def test_on_error_may_answer_a_refusal_itself(app):
    with _post(app, name="Ada"):
        answer = handle_form(NameForm(), _refuse(Closed("It closed.")),
                             success=lambda _result: "done", render=lambda: "page",
                             on_error=lambda error: (error.message, error.status))
        flashed = get_flashed_messages()
    assert answer == ("It closed.", 409) and flashed == []


def test_without_a_form_a_refusal_is_flashed_and_render_is_the_answer_as_it_is(app):
    with _post(app):
        answer = handle_form(None, _refuse(InvalidInput("No.", field="name")),
                             success=lambda _result: "done", render=lambda: "back")
        flashed = get_flashed_messages()
    assert answer == "back" and flashed == ["No."]


def test_a_lookup_form_answers_with_what_it_found_or_the_refusal_on_its_field(app):
    with app.test_request_context("/?name=Ada"):
        form = NameForm(formdata=None, name="Ada", meta={"csrf": False})
        assert look_up(form, lambda: 3, asked=True) == (3, 200)
        assert look_up(form, lambda: 3, asked=False) == (None, 200)

        def missing() -> int:
            raise NotFound("Not there.", field="name")

        assert look_up(form, missing, asked=True) == (None, 404)
        assert form.name.errors == ["Not there."]
        empty = NameForm(formdata=None, meta={"csrf": False})
        assert look_up(empty, lambda: 3, asked=True) == (None, 400)


def test_found_or_none_names_only_what_exists(app):
    def missing() -> int:
        raise NotFound()

    assert found_or_none(lambda: 5) == 5
    assert found_or_none(missing) is None
