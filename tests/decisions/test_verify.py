"""`participation verify`: OK for an intact export, the first bad record for every tampering."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from participation.cli import cli
from participation.decisions import services
from participation.extensions import db
from tests.decisions import tampering

VERIFIER_MODULES = ("participation.decisions.verify", "participation.decisions.chain")


@pytest.fixture
def export(publish, fake_evidence) -> dict:
    """Five chained records: evidence, an amendment and a commitment closed later."""
    from participation.db import utcnow

    fake_evidence.add("poll", 1, title="Evening hours?",
                      snapshot={"question": "Which evenings?", "turnout": 41,
                                "tally": [{"label": "Tue", "votes": 30}]})
    first = publish(links=[("poll", 1)], commitments=[(utcnow().date(), "Reply on parking")])
    publish(title="Second", outcome="rejected")
    publish(title="Correction", amends=first.seq)
    publish(title="Parking reply", closes=[first.commitments[0].id])
    publish(title="Fifth", outcome="deferred")
    return services.export_chain(db.session)


def run_verify(tmp_path: Path, data: dict | str | bytes, *args: str):
    path = tmp_path / "chain.json"
    if isinstance(data, dict):
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return CliRunner().invoke(cli, ["verify", str(path), *args])


def test_an_intact_export_verifies_with_its_head_hash(tmp_path, export):
    result = run_verify(tmp_path, export)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"OK: 5 records, head {export['head']}"


def test_an_empty_chain_verifies_to_the_genesis_hash(tmp_path, app):
    result = run_verify(tmp_path, services.export_chain(db.session))
    assert result.exit_code == 0
    assert "0" * 64 in result.output


def test_changing_one_byte_of_a_snapshot_names_that_record(tmp_path, export):
    tampered, _ = tampering.change_one_byte(export)
    result = run_verify(tmp_path, tampered)
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at record 1:") and "altered" in result.output


def test_deleting_a_record_in_the_middle_names_the_gap(tmp_path, export):
    result = run_verify(tmp_path, tampering.delete_middle(export)[0])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at record 3:")
    assert "holds seq 4" in result.output


def test_swapping_two_records_names_the_first_out_of_place(tmp_path, export):
    result = run_verify(tmp_path, tampering.swap_two(export)[0])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at record 2:")


def test_swapping_records_and_renumbering_them_still_fails(tmp_path, export):
    tampered, _ = tampering.swap_and_renumber(export)
    assert run_verify(tmp_path, tampered).output.startswith("FAILED at record 2:")


def test_a_tampered_record_with_its_own_hash_recomputed_is_still_named(tmp_path, export):
    result = run_verify(tmp_path, tampering.alter_and_rehash(export)[0])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at record 2:")
    assert "altered after it was published" in result.output


def test_rewriting_the_whole_tail_is_caught_by_the_expected_head(tmp_path, export):
    export, published_head = tampering.rewrite_tail(export)
    assert run_verify(tmp_path, export).exit_code == 0  # self-consistent forgery...
    result = run_verify(tmp_path, export, "--expect-head", published_head)
    assert result.exit_code == 1 and "expected head" in result.output  # ...but not the real one


def test_dropping_the_last_record_is_caught_by_the_count_and_head(tmp_path, export):
    result = run_verify(tmp_path, tampering.drop_last(export)[0])
    assert result.exit_code == 1 and "missing at the end" in result.output


def test_a_record_amending_a_later_one_is_refused(tmp_path, export):
    result = run_verify(tmp_path, tampering.amend_later(export)[0])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at record 2:") and "amends record 4" in result.output


@pytest.mark.parametrize(("content", "message"), tampering.MALFORMED)
def test_malformed_files_get_a_clear_error(tmp_path, content, message):
    result = run_verify(tmp_path, content)
    assert result.exit_code == 2
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_missing_and_unreadable_paths_get_a_clear_error(tmp_path):
    missing = CliRunner().invoke(cli, ["verify", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    folder = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert folder.exit_code == 2 and "directory" in folder.output


def test_a_nonsense_count_is_reported_not_a_crash(tmp_path, export):
    result = run_verify(tmp_path, tampering.nonsense_count(export)[0])
    assert result.exit_code == 1 and "holds 'five' records but has 5" in result.output


def test_entries_with_missing_fields_name_the_record(tmp_path, export):
    result = run_verify(tmp_path, tampering.missing_hash(export)[0])
    assert result.exit_code == 1 and result.output.startswith("FAILED at record 1: the entry lacks")


def test_the_real_command_verifies_offline_without_flask_or_a_database(tmp_path, export):
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    exe = Path(sys.executable).with_name("participation")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1/x",
           "HOME": str(tmp_path)}
    result = subprocess.run([str(exe), "verify", str(path)], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"OK: 5 records, head {export['head']}"
    # The verifier modules import nothing beyond the standard library.
    probe = ("import sys; import participation.decisions.verify; "
             "bad = [m for m in sys.modules if m.split('.')[0] in "
             "('flask', 'sqlalchemy', 'werkzeug', 'psycopg', 'jinja2')]; print(bad)")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=60, check=True)
    assert imported.stdout.strip() == "[]"
    tampered, _ = tampering.alter_title(copy.deepcopy(export))
    path.write_text(json.dumps(tampered), encoding="utf-8")
    module = subprocess.run([sys.executable, "-m", "participation.decisions.verify", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert module.returncode == 1 and module.stdout.startswith("FAILED at record 3:")


@pytest.mark.parametrize("name", ["closes_a_number", "closes_a_list_named_commitment",
                                  "commitments_a_number"])
def test_a_re_hashed_record_with_a_nonsense_list_is_named_not_a_crash(tmp_path, export, name):
    tampered, _ = tampering.TAMPERS[name](export)
    result = run_verify(tmp_path, tampered)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAILED at record 2:")
