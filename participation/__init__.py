"""Participation: public participation and online town halls.

Flask and the extensions are imported inside the factory, not at the top of this module, so that
`participation serve` can let eventlet patch the standard library before any of them load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: config -> extensions -> blueprints -> socket handlers."""
    import os

    from flask import Flask

    app = Flask(
        __name__,
        instance_path=(config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH"),
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    configure_settings(app, config)
    configure_logging(app)
    configure_extensions(app)
    configure_blueprints(app)
    configure_socket_handlers(app)
    return app


def configure_settings(app: Flask, config: Mapping[str, Any] | None) -> None:
    import os

    from participation.config import (
        DEFAULTS,
        check_production,
        check_site_timezone,
        from_environment,
        instance_roll_key,
        instance_secret_key,
    )

    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(DEFAULTS)
    if config is None:
        app.config.update(from_environment(app.instance_path))
    else:
        app.config.update(config)
    if app.config.get("ENV_NAME") == "testing":
        app.config["TESTING"] = True
        app.config.setdefault("SOCKETIO_ASYNC_MODE", "threading")
    check_production(app.config)
    app.config["SITE_TIMEZONE"] = check_site_timezone(app.config.get("SITE_TIMEZONE") or "UTC")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if not app.config.get("ROLL_KEY"):
        app.config["ROLL_KEY"] = instance_roll_key(app.instance_path)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def configure_logging(app: Flask) -> None:
    from participation.ops.logs import install_log_handler

    if not app.debug and not app.testing:
        install_log_handler(app.config.get("LOG_FORMAT", "text"))


def configure_extensions(app: Flask) -> None:
    from participation.extensions import csrf, db, limiter, migrate, socketio
    from participation.realtime.connection import SessionInterface
    from participation.security import limit_storage  # noqa: F401 - registers memory://
    from participation.security.headers import configure_security_headers
    from participation.web import (
        configure_error_handlers,
        configure_favicon,
        configure_url_converters,
    )

    configure_url_converters(app)
    app.session_interface = SessionInterface()
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_directory(), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    configure_login(app)
    origins = app.config.get("PUBLIC_URL")
    # Flask-SocketIO keeps the queue manager of an earlier init_app; each app picks its own.
    socketio.server_options.pop("client_manager", None)
    queue_options = _queue_options(app)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        channel=app.config.get("SOCKETIO_CHANNEL") or "flask-socketio",
        **queue_options,
        # None lets python-socketio accept only the origin the request came to.
        cors_allowed_origins=[origins] if origins else None,
        max_http_buffer_size=1024 * 1024,
        ping_interval=20,
        ping_timeout=20,
    )
    configure_jobs(app)
    configure_security_headers(app)
    configure_error_handlers(app)
    configure_favicon(app)
    configure_template_globals(app)
    configure_languages(app)


def configure_jobs(app: Flask) -> None:
    """The task queue, and the modules that declare its tasks (a consumer knows only those)."""
    from participation import jobs
    from participation.decisions import tasks as decision_tasks  # noqa: F401 - commitments
    from participation.mail import tasks as mail_tasks  # noqa: F401 - registers the mail tasks
    from participation.polls import tasks as poll_tasks  # noqa: F401 - polls opening
    from participation.townhall import tasks as townhall_tasks  # noqa: F401 - "remind me"

    jobs.init_app(app)


def _queue_options(app: Flask) -> dict[str, Any]:
    """The Socket.IO manager: each closes the sockets of an ended session, and a Redis queue's
    also resyncs clients after an outage."""
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url:
        from participation.realtime.revocation import LocalManager

        return {"client_manager": LocalManager()}
    if not str(url).startswith(("redis://", "rediss://")):
        return {}
    from participation.realtime.redis_manager import ResyncingRedisManager

    channel = app.config.get("SOCKETIO_CHANNEL") or "flask-socketio"
    return {"client_manager": ResyncingRedisManager(url, channel=channel)}


def _migrations_directory() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def configure_login(app: Flask) -> None:
    from flask_login import AnonymousUserMixin

    from participation.accounts import services as accounts
    from participation.accounts import two_factor
    from participation.accounts.models import User
    from participation.extensions import db, login_manager
    from participation.security.login_ids import parse_login_id

    class Visitor(AnonymousUserMixin):
        role = None
        display_name = "Visitor"

    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Visitor
    login_manager.session_protection = "basic"

    def required_roles() -> frozenset[str]:
        return two_factor.required_roles(app.config.get("TWO_FACTOR_REQUIRED_ROLES"))

    @login_manager.user_loader
    def load_user(login_id: str) -> User | None:
        # The id carries the account's session token: once the token rotates (sign-out,
        # password change, suspension) every old session and remember cookie stops working.
        # An account that must have a second factor and has none counts as signed out.
        login = parse_login_id(str(login_id))
        return accounts.signed_in_user(db.session, *login,
                                       two_factor_roles=required_roles()) if login else None

    # Sockets look their account up through the same rule (realtime/connection.py).
    app.extensions["socket_account_loader"] = lambda user_id, token: accounts.signed_in_user(
        db.session, user_id, token, two_factor_roles=required_roles())


# Main navigation, in order; an entry shows once its blueprint is registered.
NAV_LINKS = (
    ("townhall.index", "Town halls"),
    ("forums.topics", "Forums"),
    ("polls.index", "Polls"),
    ("decisions.index", "Decisions"),
)


def configure_template_globals(app: Flask) -> None:
    from participation.mail.services import absolute_url
    from participation.security.permissions import can, held_back_by_email

    app.jinja_env.globals["can"] = can
    # Canonical addresses in link previews and feed links (from PUBLIC_URL when it is set).
    app.jinja_env.globals["absolute_url"] = absolute_url
    app.jinja_env.globals["held_back_by_email"] = held_back_by_email
    app.jinja_env.globals["site_name"] = app.config.get("SITE_NAME", "Participation")

    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"nav_links": [(e, label) for e, label in NAV_LINKS if e in app.view_functions]}


def configure_languages(app: Flask) -> None:
    from participation.i18n import configure_i18n

    configure_i18n(app)


def configure_blueprints(app: Flask) -> None:
    from participation import api
    from participation.accounts import views as accounts
    from participation.admin import views as admin
    from participation.api import views as api_views  # noqa: F401 - registers the document route
    from participation.decisions import api as decisions_api  # noqa: F401 - API routes
    from participation.forums import api as forums_api  # noqa: F401 - registers /api/v1 routes
    from participation.home import views as home
    from participation.numbers import api as numbers_api  # noqa: F401 - /api/v1/numbers
    from participation.numbers import views as numbers
    from participation.ops import views as ops
    from participation.polls import api as polls_api  # noqa: F401 - /api/v1/polls, before api.bp
    from participation.polls import paper_views as poll_paper
    from participation.polls import views as polls
    from participation.roll import views as roll
    from participation.townhall import api as townhall_api  # noqa: F401 - adds /api/v1 routes
    from participation.townhall import views as townhall

    for blueprint in (home.bp, accounts.bp, admin.bp, api.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(townhall.bp)
    app.register_blueprint(townhall.join_bp)
    app.register_blueprint(townhall.calendar_bp)
    app.register_blueprint(polls.bp)
    app.register_blueprint(poll_paper.bp)
    app.register_blueprint(roll.bp)

    from participation.forums import views as forums
    from participation.moderation import views as moderation
    from participation.notifications import jobs as notification_jobs  # noqa: F401 - digests
    from participation.notifications import views as notifications

    for blueprint in (forums.bp, moderation.bp, notifications.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(ops.bp)

    from participation.decisions import providers as decision_providers  # noqa: F401
    from participation.decisions import views as decisions

    app.register_blueprint(decisions.bp)
    app.register_blueprint(numbers.bp)

    from participation.languages import views as i18n

    app.register_blueprint(i18n.bp)


def configure_socket_handlers(app: Flask) -> None:
    """Import the modules whose decorators register Socket.IO handlers."""
    from participation.extensions import socketio
    from participation.polls import events as polls_events  # noqa: F401
    from participation.realtime.handlers import register_handlers
    from participation.townhall import events as townhall_events  # noqa: F401

    # Keep last: attaches the handlers the modules above declared to this app's server.
    register_handlers(socketio)
