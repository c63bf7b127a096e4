"""Switching to PostgreSQL and Redis is configuration only: URLs, pool sizes and the queue."""

from __future__ import annotations

import pytest

from participation import create_app
from participation.config import InsecureConfiguration, from_environment
from participation.extensions import db, socketio
from tests.conftest import base_config, free_port

PG = "postgresql+psycopg://app@db.internal:5432/participation"


def test_postgresql_gets_a_sized_pre_pinged_pool_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", PG)
    for name in ("DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW", "DATABASE_POOL_RECYCLE",
                 "DATABASE_POOL_TIMEOUT", "DATABASE_CONNECT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    options = from_environment(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20,
                       "pool_recycle": 1800, "pool_timeout": 10,
                       "connect_args": {"connect_timeout": 5}}


def test_pool_settings_come_from_the_environment_and_reach_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DATABASE_POOL_RECYCLE", "300")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "3")
    settings = from_environment(str(tmp_path))
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=settings["SQLALCHEMY_DATABASE_URI"],
                                 SQLALCHEMY_ENGINE_OPTIONS=settings["SQLALCHEMY_ENGINE_OPTIONS"],
                                 INSTANCE_PATH=str(tmp_path)))
    with app.app_context():
        engine = db.engine
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        assert engine.pool.size() == 4
        assert engine.pool._max_overflow == 2
        assert engine.pool._recycle == 300
        assert engine.pool._timeout == 3
        assert engine.pool._pre_ping is True
        engine.dispose()


def test_sqlite_keeps_its_own_pool_with_pre_ping(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    options = from_environment(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True}


@pytest.mark.parametrize("url", ["postgres://app@db/participation",
                                 "postgresql://app@db/participation"])
def test_plain_postgresql_urls_use_psycopg_3(tmp_path, monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    settings = from_environment(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db/participation"


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_POOL_SIZE", "0"), ("DATABASE_POOL_SIZE", "many"),
    ("DATABASE_MAX_OVERFLOW", "-1"), ("DATABASE_POOL_TIMEOUT", "0"),
])
def test_nonsense_pool_settings_are_refused_by_name(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv(name, value)
    with pytest.raises(InsecureConfiguration, match=name):
        from_environment(str(tmp_path))


def test_unknown_log_format_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(InsecureConfiguration, match="LOG_FORMAT"):
        from_environment(str(tmp_path))


def test_metrics_settings_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "scrape-me-please")
    monkeypatch.setenv("METRICS_ENABLED", "yes")
    settings = from_environment(str(tmp_path))
    assert settings["METRICS_TOKEN"] == "scrape-me-please"
    assert settings["METRICS_ENABLED"] is True
    monkeypatch.delenv("METRICS_TOKEN")
    monkeypatch.delenv("METRICS_ENABLED")
    settings = from_environment(str(tmp_path))
    assert settings["METRICS_TOKEN"] is None
    assert settings["METRICS_ENABLED"] is False


def test_a_redis_message_queue_switches_socketio_to_the_redis_manager(tmp_path):
    from socketio import RedisManager

    queue = f"redis://127.0.0.1:{free_port()}/5"
    create_app(base_config(SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_PATH=str(tmp_path),
                           SOCKETIO_MESSAGE_QUEUE=queue, SOCKETIO_CHANNEL="city-a"))
    manager = socketio.server.manager
    assert isinstance(manager, RedisManager)
    assert manager.channel == "city-a"
    create_app(base_config(SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_PATH=str(tmp_path)))
    assert not isinstance(socketio.server.manager, RedisManager)
