"""The `participation` command: serve, database, accounts, demo content and offline checks.

Only click is imported at the top: `serve` patches the standard library for eventlet before Flask
and the rest load.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask


def main() -> None:
    """Console entry point."""
    import warnings

    # Eventlet announces its maintenance-only status on import; the choice is deliberate
    # (DESIGN.md), and the notice would only alarm people running `make run`.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        import os

        if os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet") == "eventlet":
            import eventlet

            eventlet.monkey_patch()
            # psycopg waits for PostgreSQL in C, blocking every green thread, unless it sees
            # monkey-patching, which it detects for gevent only: a query waiting on a row lock
            # that another green thread holds would then stop the whole server for good. Its
            # wait_select goes through eventlet's green select module and lets others run.
            os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    cli(prog_name="participation")


def _app() -> Flask:
    from participation import create_app

    return create_app()


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


# The collector's thresholds while serving (see `serve`).
GC_THRESHOLDS = (20_000, 20, 50)


@click.group()
def cli() -> None:
    """Participation: public participation and online town halls."""


SERVER_MAX_CONNECTIONS = 20_000


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the site and the live town halls (eventlet)."""
    from participation.extensions import socketio

    app = _app()
    _raise_open_file_limit()
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise walk it all and stall every live socket while they run.
    gc.collect()
    gc.freeze()
    # A thousand live sockets are a few hundred thousand long-lived objects, and with the
    # default thresholds (700, 10, 10) a full pass over them came every few approvals and
    # doubled that approval's slowest delivery. Young collections every 20,000 allocations
    # (the garbage of a broadcast dies young instead of being promoted) and a full pass only
    # after 50 middle ones keep those stalls rare, for a few MB more memory.
    gc.set_threshold(*GC_THRESHOLDS)
    if app.config.get("QUEUE_IN_PROCESS"):
        from participation import jobs

        # Green threads under eventlet: the web process is also the queue's consumer.
        jobs.start_consumer(app)
        click.echo("The task queue's consumer runs in this process (QUEUE_IN_PROCESS).")
    click.echo(f"Participation is serving on http://{host}:{port}")
    if app.config["SOCKETIO_ASYNC_MODE"] == "eventlet":
        _serve_eventlet(app, host, port)
    else:
        socketio.run(app, host=host, port=port, log_output=False, use_reloader=False,
                     allow_unsafe_werkzeug=True)


def _serve_eventlet(app: Flask, host: str, port: int) -> None:
    """What `socketio.run` does under eventlet, with a listening queue for a meeting's start.

    `eventlet.listen` keeps 50 connections waiting to be accepted: when thousands of watchers
    open the page at once, the rest are dropped and their browsers try again seconds later.
    SERVER_BACKLOG (the system caps it at net.core.somaxconn) lets them wait instead. And
    eventlet.wsgi caps a server at 1,024 simultaneous connections; a town hall needs more.
    """
    import eventlet
    import eventlet.green.socket
    import eventlet.wsgi

    family, _type, _proto, _name, address = eventlet.green.socket.getaddrinfo(host, port)[0]
    listener = eventlet.listen(address, family, backlog=int(app.config["SERVER_BACKLOG"]))
    eventlet.wsgi.server(listener, app, log_output=False, max_size=SERVER_MAX_CONNECTIONS)


def _raise_open_file_limit() -> None:
    """Each watcher holds a socket: allow as many open files as the system permits."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else 65536, hard))


@cli.command()
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Tasks run at once (default: QUEUE_WORKERS).")
def worker(workers: int | None) -> None:
    """Run the task queue's consumer: sends mail and runs scheduled jobs (past one machine)."""
    from participation import jobs

    app = _app()
    if app.config.get("QUEUE_IN_PROCESS") and str(app.config["QUEUE_URL"]).startswith("sqlite"):
        click.echo("Note: QUEUE_IN_PROCESS is on, so `participation serve` consumes too.",
                   err=True)
    click.echo(f"Participation's queue consumer is running ({app.config['QUEUE_NAME']}).")
    jobs.run_consumer(app, workers)


@cli.command("send-test-mail")
@click.argument("address")
def send_test_mail(address: str) -> None:
    """Queue a test message to ADDRESS, to check the mail settings (MAIL_URL, MAIL_FROM)."""
    import uuid

    from flask_babel import lazy_gettext as _l

    from participation.extensions import db as database
    from participation.mail.services import absolute_url, queue_mail

    app = _app()
    with app.app_context():
        try:
            queue_mail(database.session, to=address, template="test",
                       key=f"test:{uuid.uuid4().hex}", subject=_l("Test message"),
                       locale=None, name=address, site_url=absolute_url("home.index"))
        except ValueError as exc:
            _fail(str(exc) + ".")
        database.session.commit()
    click.echo("Test message queued.")


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database."""
    from flask_migrate import upgrade

    app = _app()
    with app.app_context():
        upgrade(revision=revision)
    click.echo("Database is up to date.")


@db.command("migrate")
@click.option("-m", "--message", required=True, help="What the schema change is for.")
def db_migrate(message: str) -> None:
    """Draft a new migration from the models (review it before committing)."""
    from flask_migrate import migrate

    app = _app()
    with app.app_context():
        migrate(message=message)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@cli.group()
def roll() -> None:
    """The electoral roll (kept as keyed hashes only)."""


@roll.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--accept-rejections", is_flag=True,
              help="Import even though some rows are rejected (those people leave the roll).")
@click.option("--dry-run", is_flag=True, help="Only report what the import would change.")
def roll_import(file: str, accept_rejections: bool, dry_run: bool) -> None:
    """Replace the roll with FILE.csv: columns document_id, birth_date (YYYY-MM-DD), postcode
    and optionally district. Prints added, removed, unchanged and rejected rows (by line).

    Exits 0 once imported (or on a dry run), 1 when rejected rows held the import back, 2 when
    the file cannot be read as a roll; the roll is unchanged unless it exits 0.
    """
    from participation.errors import InvalidInput
    from participation.extensions import db as database
    from participation.roll.services import import_roll, roll_key

    app = _app()
    with app.app_context():
        try:
            try:
                with open(file, "rb") as stream:
                    report = import_roll(
                        database.session, None, stream, key=roll_key(app.config),
                        source="command line", accept_rejections=accept_rejections,
                        dry_run=dry_run, max_line=app.config["ROLL_MAX_LINE"])
            except OSError as error:
                _fail(f"cannot read {file}: {error.strerror or error}.")
                return
            except InvalidInput as error:
                database.session.rollback()
                _fail(f"{file}: {error.message}")
                return
            if report.applied:
                database.session.commit()
            else:
                database.session.rollback()
        finally:
            # Its connections end with the command, also when it runs inside another process.
            database.session.remove()
            database.engine.dispose()
    for line in roll_report_lines(report):
        click.echo(line)
    if report.refused_for_rejections:
        click.echo("Not imported: some rows are rejected, and the roll is as it was. Correct "
                   "the file, or import it with --accept-rejections.", err=True)
        sys.exit(1)


def roll_report_lines(report: Any) -> list[str]:
    """An import report as the command prints it: counts, then each rejected line."""
    lines = [("Imported the roll" if report.applied else "Checked the file (nothing changed)")
             + f": {report.rows} people read.",
             f"  added {report.added}, removed {report.removed}, unchanged {report.unchanged}, "
             f"rejected {report.rejected}"]
    if report.duplicates:
        lines.append(f"  {report.duplicates} lines repeat an earlier line and count once: "
                     + ", ".join(f"line {line} (as line {first})"
                                 for line, first in report.repeated[:20])
                     + (" ..." if report.duplicates > 20 else ""))
    if report.blank_lines:
        lines.append(f"  {report.blank_lines} blank lines skipped")
    if report.latin1_lines:
        lines.append(f"  {report.latin1_lines} lines were not UTF-8 and were read as Latin-1")
    if report.matched_nothing:
        lines.append("  Warning: no row matched the roll as it was. Was ROLL_KEY changed? "
                     "Verifications are kept only for rows that match.")
    for rejection in report.rejections:
        lines.append(f"  line {rejection.line}: {rejection.reason}")
    if report.rejected > len(report.rejections):
        lines.append(f"  ... and {report.rejected - len(report.rejections)} more rejected lines")
    return lines


@cli.command("create-user")
@click.argument("email")
@click.option("--role", required=True,
              type=click.Choice(["resident", "moderator", "official", "admin"]))
@click.option("--name", "display_name", default=None, help="Display name (default: from email).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create an account with a role."""
    from participation.accounts import services
    from participation.errors import DomainError
    from participation.extensions import db as database
    from participation.security.permissions import Role

    password = _read_password(password_stdin)
    app = _app()
    with app.app_context():
        if services.find_user_by_email(database.session, email) is not None:
            _fail(f"an account with the email {email.strip().lower()} already exists.")
        try:
            user = services.register_user(
                database.session, email=email,
                display_name=display_name or email.split("@")[0],
                password=password, role=Role(role), confirmed=True,
            )
        except DomainError as error:
            _fail(error.message)
            return
        if user is None:
            _fail("that email address is already in use.")
            return
        database.session.commit()
        click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")


@cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["resident", "moderator", "official", "admin"]))
def set_role(email: str, role: str) -> None:
    """Change an account's role (recorded in the audit log)."""
    from participation.accounts import services
    from participation.errors import DomainError
    from participation.extensions import db as database

    app = _app()
    with app.app_context():
        user = services.find_user_by_email(database.session, email)
        if user is None:
            _fail(f"no account with the email {email.strip().lower()}.")
            return
        try:
            services.set_role(database.session, None, user, role)
        except DomainError as error:
            _fail(error.message)
        database.session.commit()
        click.echo(f"{user.email} is now {user.role.value}.")


@cli.command("reset-two-factor")
@click.argument("email")
def reset_two_factor(email: str) -> None:
    """Remove an account's second factor (a lost phone, the only admin); audited, and the
    account is signed out everywhere. It sets one up again at its next sign-in."""
    from participation.accounts import services
    from participation.errors import DomainError
    from participation.extensions import db as database

    app = _app()
    with app.app_context():
        user = services.find_user_by_email(database.session, email)
        if user is None:
            _fail(f"no account with the email {email.strip().lower()}.")
            return
        try:
            services.reset_two_factor(database.session, None, user)
        except DomainError as error:
            _fail(error.message)
        database.session.commit()
        click.echo(f"The second factor of {user.email} is reset.")


@cli.command()
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and succeed) when the database already has accounts.")
def demo(if_empty: bool) -> None:
    """Seed demo content into an empty database and print the demo accounts."""
    from participation.accounts.two_factor import required_roles
    from participation.demo import DatabaseNotEmpty, seed_demo
    from participation.extensions import db as database

    app = _app()
    with app.app_context():
        try:
            accounts = seed_demo(database.session, two_factor_roles=required_roles(
                app.config.get("TWO_FACTOR_REQUIRED_ROLES")))
        except DatabaseNotEmpty:
            database.session.rollback()
            if if_empty:
                click.echo("The database already has content; no demo content added.")
                return
            _fail("the database is not empty; demo content goes only into a new database.")
            return
        emails = accounts.emails
        database.session.commit()
    click.echo("Demo content added. Demo accounts (password for all: "
               f"{accounts.password}):")
    for role, email in emails:
        click.echo(f"  {role:<10} {email}")
    if accounts.two_factor_key:
        key = accounts.two_factor_key
        click.echo(f"Two-factor key of {', '.join(accounts.two_factor_accounts)} (demo only; "
                   f"add it to an authenticator app): {key}")
        click.echo("  or print the current code: .venv/bin/python -c "
                   f"\"import pyotp; print(pyotp.TOTP('{key}').now())\"")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=True, path_type=str))
@click.option("--expect-head", default=None, metavar="HASH",
              help="Also require the chain to end in this hash (as published elsewhere).")
def verify(file: str, expect_head: str | None) -> None:
    """Check an exported decision chain offline (no database, no network).

    Prints OK and the head hash, or names the first record that does not match and exits 1.
    A file that is not a readable export exits 2.
    """
    from participation.decisions.verify import UnreadableExport, load_export, verify_export

    try:
        data = load_export(file)
    except UnreadableExport as error:
        _fail(str(error))
        return
    outcome = verify_export(data, expect_head)
    click.echo(outcome.report())
    if not outcome.ok:
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def recount(file: str) -> None:
    """Recount an exported poll's ballots offline and say whether the result matches."""
    import json

    from participation.polls.services import BadExport, recount_export

    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}.")
        return
    except (UnicodeDecodeError, json.JSONDecodeError):
        _fail(f"{file} is not a JSON poll export (the CSV export is for spreadsheets; "
              "recount the JSON one).")
        return
    try:
        report = recount_export(data)
    except BadExport as error:
        _fail(f"{file} is not a valid poll export: {error}.")
        return
    poll = data["poll"]
    click.echo(f"Poll {poll.get('id')}: {poll.get('question')}")
    click.echo("Ballot secrecy: " + ("secret (the contents are listed apart from the receipt "
                                     "fingerprints)" if report.ballot_secrecy == "secret"
                                     else "verifiable (each ballot with its receipt fingerprint)"))
    click.echo(f"Ballots recounted: {report.results['ballots']}")
    if report.channels is not None:
        click.echo("Ballots by channel: " + ", ".join(
            f"{channel} {number}" for channel, number in report.channels.items()))
    if report.results["kind"] == "ranked":
        click.echo(f"Rounds: {len(report.results['rounds'])}; winner option id: "
                   f"{report.results['winner']}")
    else:
        click.echo("Votes: " + ", ".join(f"option {o['id']}: {o['votes']}"
                                         for o in report.results["options"]))
    if report.matches:
        click.echo("MATCH: the recount gives the published result and receipts digest.")
        return
    for problem in report.problems:
        click.echo(f"MISMATCH: {problem}.", err=True)
    sys.exit(1)
