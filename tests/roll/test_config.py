"""The roll key: generated once into the instance folder, owner-only; required in production."""

from __future__ import annotations

import stat

import pytest

from participation import create_app
from participation.config import InsecureConfiguration, from_environment, instance_roll_key
from participation.roll.services import roll_key

PRODUCTION = {"ENV_NAME": "production", "SECRET_KEY": "k" * 48, "SESSION_COOKIE_SECURE": True,
              "PUBLIC_URL": "https://city.example", "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def test_the_roll_key_is_generated_once_and_kept_owner_only(tmp_path):
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                        "ENV_NAME": "testing"})
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                         "ENV_NAME": "testing"})
    path = tmp_path / "roll_key"
    assert first.config["ROLL_KEY"] == second.config["ROLL_KEY"] == path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.config["ROLL_KEY"] != first.config["SECRET_KEY"]
    assert instance_roll_key(str(tmp_path)) == path.read_text()


def test_the_roll_key_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ROLL_KEY", "r" * 40)
    assert from_environment(str(tmp_path))["ROLL_KEY"] == "r" * 40
    assert not (tmp_path / "roll_key").exists()


@pytest.mark.parametrize("key", [None, "", "short"])
def test_production_requires_a_roll_key(key, tmp_path):
    with pytest.raises(InsecureConfiguration, match="ROLL_KEY"):
        create_app({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "ROLL_KEY": key})


def test_production_with_a_roll_key_starts(tmp_path):
    app = create_app({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "ROLL_KEY": "r" * 48})
    assert roll_key(app.config) == b"r" * 48
    assert roll_key({"ROLL_KEY": b"bytes key"}) == b"bytes key"


def test_the_limits_on_verification_are_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMIT_ROLL_VERIFY", "3 per hour")
    assert from_environment(str(tmp_path))["LIMIT_ROLL_VERIFY"] == "3 per hour"
    monkeypatch.setenv("LIMIT_ROLL_VERIFY_ADDRESS", "often")
    with pytest.raises(InsecureConfiguration, match="LIMIT_ROLL_VERIFY_ADDRESS"):
        from_environment(str(tmp_path))
