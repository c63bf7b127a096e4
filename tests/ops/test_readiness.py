"""/healthz says the process is alive; /readyz says whether it can serve, naming what is missing."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL, free_port


def test_ready_when_the_database_answers(make_app):
    client = make_app().test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert all(check == {"ok": True} for check in body["checks"].values())
    assert "failed" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_unreachable_message_queue_is_named_and_answers_503(make_app):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    client = make_app(SOCKETIO_MESSAGE_QUEUE=dead).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["message_queue"]
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["message_queue"]["ok"] is False
    assert response.headers["Retry-After"] == "5"
    # The answer names the failing dependency, never its address.
    assert str(dead.rsplit(":", 1)[1].split("/")[0]) not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_unreachable_database_is_named(tmp_path):
    from participation import create_app
    from tests.conftest import base_config

    app = create_app(base_config(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}",
        INSTANCE_PATH=str(tmp_path),
    ))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["database"]
    assert "folder.db" not in response.get_data(as_text=True)


@pytest.mark.skipif(not REDIS_URL, reason="PARTICIPATION_TEST_REDIS_URL is not set")
def test_ready_with_a_reachable_redis_queue_and_limit_storage(make_app):
    client = make_app(SOCKETIO_MESSAGE_QUEUE=REDIS_URL, RATELIMIT_STORAGE_URI=REDIS_URL,
                      SOCKETIO_CHANNEL="pt-scale-readyz").test_client()
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"database": {"ok": True},
                                             "message_queue": {"ok": True},
                                             "rate_limit_storage": {"ok": True}}
