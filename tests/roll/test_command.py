"""`participation roll import FILE.csv`: the same service as the upload page, on the server."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from participation.cli import cli
from participation.roll.models import RollEntry
from tests.roll.helpers import HEADER, person


def _run(app, tmp_path, content: str, *args: str):
    path = tmp_path / "roll.csv"
    path.write_text(content, encoding="utf-8")
    env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "INSTANCE_PATH": app.instance_path, "SOCKETIO_ASYNC_MODE": "threading",
           "PARTICIPATION_ENV": "development", "ROLL_KEY": app.config["ROLL_KEY"]}
    return CliRunner().invoke(cli, ["roll", "import", str(path), *args], env=env)


def _count(session) -> int:
    """Read in a transaction of its own, ended at once so the next command may write."""
    session.rollback()
    count = session.scalar(select(func.count()).select_from(RollEntry))
    session.rollback()
    return count


def _file(*rows) -> str:
    return "\n".join([HEADER, *(",".join(row) for row in rows)]) + "\n"


def test_the_command_imports_and_prints_the_report(app, session, tmp_path):
    result = _run(app, tmp_path, _file(person(1), person(2), person(2)))
    assert result.exit_code == 0, result.output
    assert "added 2, removed 0, unchanged 0, rejected 0" in result.output
    assert "line 4 (as line 3)" in result.output
    assert person(1)[0] not in result.output
    assert _count(session) == 2


def test_rejected_rows_hold_the_import_back_unless_accepted(app, session, tmp_path):
    content = _file(person(1), ("BAD", "1980-02-31", "28001", "North"))
    result = _run(app, tmp_path, content)
    assert result.exit_code == 1
    assert "line 3: birth_date" in result.output and "BAD" not in result.output
    assert _count(session) == 0
    result = _run(app, tmp_path, content, "--accept-rejections")
    assert result.exit_code == 0 and _count(session) == 1


def test_a_file_that_is_not_a_roll_exits_2_and_changes_nothing(app, session, tmp_path):
    result = _run(app, tmp_path, "name,email\nAda,ada@example.test\n")
    assert result.exit_code == 2 and "missing" in result.output
    assert _count(session) == 0
    missing = CliRunner().invoke(cli, ["roll", "import", str(tmp_path / "none.csv")],
                                 env={"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                                      "SOCKETIO_ASYNC_MODE": "threading"})
    assert missing.exit_code == 2


def test_a_dry_run_changes_nothing(app, session, tmp_path):
    result = _run(app, tmp_path, _file(person(1)), "--dry-run")
    assert result.exit_code == 0 and "nothing changed" in result.output
    assert _count(session) == 0
