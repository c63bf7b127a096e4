"""The rules of the electoral roll: how an identity is normalized and hashed, and who stands on
the roll. Plain functions `verb_noun(session, actor, ...)`; they flush, never commit.

The roll key is passed in (`key`, bytes): services read no Flask globals.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from participation.accounts.models import AuditEntry, User
from participation.accounts.services import on_account_deleted, personal_data
from participation.db import utcnow
from participation.errors import Conflict, InvalidInput, NotFound
from participation.i18n import N_
from participation.roll.models import RollEntry, RollImport, Verification, VerificationAttempt
from participation.security.permissions import require

if TYPE_CHECKING:
    from participation.roll.roll_file import Rejection

DOCUMENT_ID_MAX = 40
POSTCODE_MAX = 16
_SEPARATORS = re.compile(r"[\s\-‐-―−]+")


@dataclass(frozen=True)
class Identity:
    """A person's identity as the roll knows it, normalized: document id upper-cased without
    spaces and dashes, the date of birth, the postcode upper-cased without spaces."""

    document_id: str
    birth_date: date
    postcode: str

    def hash(self, key: bytes) -> str:
        message = f"{self.document_id}|{self.birth_date.isoformat()}|{self.postcode}"
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_identity(document_id: object, birth_date: object, postcode: object) -> Identity:
    """Normalize what was typed or read from the roll; InvalidInput (naming the field) if it
    cannot be an identity. The message never repeats what was typed."""
    if not isinstance(document_id, str) or not isinstance(postcode, str):
        raise InvalidInput(_("Give the document number and the postcode as text."),
                           field="document_id")
    doc = _SEPARATORS.sub("", document_id).upper()
    if not doc or len(doc) > DOCUMENT_ID_MAX or not doc.isalnum():
        raise InvalidInput(_("The document number must be letters and digits, up to "
                             "%(max)s.", max=DOCUMENT_ID_MAX), field="document_id")
    code = re.sub(r"\s+", "", postcode).upper()
    if not code or len(code) > POSTCODE_MAX or not all(c.isalnum() or c == "-" for c in code):
        raise InvalidInput(_("The postcode must be letters and digits, up to %(max)s.",
                             max=POSTCODE_MAX), field="postcode")
    if isinstance(birth_date, date):
        born = birth_date
    elif isinstance(birth_date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth_date.strip()):
        try:
            born = date.fromisoformat(birth_date.strip())
        except ValueError:
            born = None
    else:
        born = None
    if born is None or born.year < 1850 or born > date.today():
        raise InvalidInput(_("The date of birth must be a real date, written YYYY-MM-DD."),
                           field="birth_date")
    return Identity(doc, born, code)


@dataclass(frozen=True)
class Standing:
    """What the polls need to know of a verified account: its active roll entry's id, district
    and birth year, and how it was verified."""

    entry_id: int
    district: str | None
    birth_year: int | None
    method: str


def standing_of(session: Session, user: User | None) -> Standing | None:
    """The account's standing on the roll, or None (not verified, or its row left the roll)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    row = session.execute(
        select(RollEntry.id, RollEntry.district, RollEntry.birth_year, Verification.method)
        .join(Verification, Verification.entry_id == RollEntry.id)
        .where(Verification.user_id == user.id, RollEntry.active.is_(True))).first()
    return Standing(*row) if row else None


def find_entry(session: Session, key: bytes, identity: Identity) -> RollEntry | None:
    """The active roll entry for this identity, or None."""
    return session.scalar(select(RollEntry).where(
        RollEntry.identity_hash == identity.hash(key), RollEntry.active.is_(True)))


def roll_key(config: Mapping[str, Any]) -> bytes:
    """The roll key from the app's settings (`app.config`), as the bytes the hashes take.

    ROLL_KEY is always set: from the environment, or generated into instance/roll_key."""
    key = config.get("ROLL_KEY")
    if isinstance(key, bytes) and key:
        return key
    if isinstance(key, str) and key:
        return key.encode("utf-8")
    raise RuntimeError("ROLL_KEY is not set")


# How many rejected lines an import report lists one by one (all are counted).
REJECTIONS_LISTED = 200
# Rows written to the database per statement.
_CHUNK = 5000


@dataclass
class ImportReport:
    """What an import of the roll found and did. No identity: line numbers and reasons."""

    added: int = 0
    removed: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    latin1_lines: int = 0
    rows: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    # Lines that repeat an earlier line's person exactly: (line, earlier line), counted once.
    repeated: list[tuple[int, int]] = field(default_factory=list)
    applied: bool = False
    dry_run: bool = False
    import_id: int | None = None
    # The roll had entries and the file matched none of them: was the roll key changed?
    matched_nothing: bool = False

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < REJECTIONS_LISTED:
            self.rejections.append(rejection)

    def stored(self) -> dict[str, Any]:
        """What RollImport.report keeps of it."""
        return {"rows": self.rows, "duplicates": self.duplicates,
                "blank_lines": self.blank_lines, "latin1_lines": self.latin1_lines,
                "rejections": [[r.line, r.reason] for r in self.rejections],
                "repeated": [list(pair) for pair in self.repeated]}

    @property
    def refused_for_rejections(self) -> bool:
        return not self.applied and not self.dry_run and self.rejected > 0


def import_roll(session: Session, actor: User | None, stream: BinaryIO, *, key: bytes,
                source: str = "command line", accept_rejections: bool = False,
                dry_run: bool = False, max_line: int = 4096) -> ImportReport:
    """Replace the roll with the file's rows; `actor` None is the server's command line.

    The file is read once, row by row. Nothing changes unless the whole file is read and, when
    some rows are rejected, `accept_rejections` is given (a rejected row would otherwise drop a
    person from the roll, and their verification with it). An entry the file lacks becomes
    inactive; one it has again becomes active; the verifications of entries still there stay.
    UnreadableRoll (an InvalidInput) when the file cannot be a roll or has no readable row.
    """
    from participation.roll.roll_file import Rejection, RollReader, UnreadableRoll

    if actor is not None:
        require(actor, "roll.import")
    report = ImportReport(dry_run=dry_run)
    reader = RollReader(stream, max_line=max_line)
    # hash -> (district, birth year, line): the only thing held per row.
    seen: dict[str, tuple[str | None, int, int]] = {}
    for item in reader:
        if isinstance(item, Rejection):
            report.reject(item)
            continue
        digest = item.identity.hash(key)
        earlier = seen.get(digest)
        if earlier is not None:
            if earlier[0] == item.district:
                report.duplicates += 1
                if len(report.repeated) < REJECTIONS_LISTED:
                    report.repeated.append((item.line, earlier[2]))
            else:
                report.reject(Rejection(item.line, _(
                    "the same person as line %(line)s, with another district",
                    line=earlier[2])))
            continue
        seen[digest] = (item.district, item.identity.birth_date.year, item.line)
    report.blank_lines, report.latin1_lines = reader.blank_lines, reader.latin1_lines
    report.rows = len(seen)
    if not seen:
        raise UnreadableRoll(_("No row of the file could be read (%(rejected)s rejected): "
                               "the roll is as it was.", rejected=report.rejected),
                             field="file")

    changes: list[dict[str, Any]] = []
    had_active = 0
    for entry_id, digest, district, birth_year, active in session.execute(
            select(RollEntry.id, RollEntry.identity_hash, RollEntry.district,
                   RollEntry.birth_year, RollEntry.active)).yield_per(_CHUNK):
        had_active += bool(active)
        found = seen.pop(digest, None)
        if found is None:
            if active:
                report.removed += 1
                changes.append({"id": entry_id, "active": False})
            continue
        if active:
            report.unchanged += 1
        else:
            report.added += 1
        if not active or (district, birth_year) != found[:2]:
            changes.append({"id": entry_id, "active": True, "district": found[0],
                            "birth_year": found[1]})
    report.added += len(seen)
    report.matched_nothing = had_active > 0 and report.unchanged == 0
    if dry_run or (report.rejected and not accept_rejections):
        return report

    record = RollImport(imported_by_id=actor.id if actor else None, source=source[:40],
                        added=report.added, removed=report.removed,
                        unchanged=report.unchanged, rejected=report.rejected,
                        report=report.stored())
    session.add(record)
    session.flush()
    for start in range(0, len(changes), _CHUNK):
        chunk = changes[start:start + _CHUNK]
        for change in chunk:
            change["import_id"] = record.id
        session.execute(update(RollEntry), chunk)
    del changes
    batch: list[dict[str, Any]] = []
    for digest, (district, birth_year, _line) in seen.items():
        batch.append({"identity_hash": digest, "district": district, "birth_year": birth_year,
                      "active": True, "import_id": record.id})
        if len(batch) == _CHUNK:
            session.execute(insert(RollEntry), batch)
            batch = []
    if batch:
        session.execute(insert(RollEntry), batch)
    # Every active entry is one this import found (removed ones were marked above).
    session.execute(update(RollEntry).where(RollEntry.active.is_(True))
                    .values(import_id=record.id).execution_options(synchronize_session=False))
    session.flush()
    report.applied = True
    report.import_id = record.id
    return report


def latest_import(session: Session) -> RollImport | None:
    return session.scalar(select(RollImport).order_by(RollImport.id.desc()).limit(1))


@dataclass(frozen=True)
class RollSummary:
    """What the admin's roll page counts: the roll, the verified accounts, refused attempts."""

    active_entries: int
    inactive_entries: int
    districts: list[tuple[str | None, int]]
    verified_online: int
    verified_in_person: int
    refused_no_match: int
    refused_already_used: int
    refused_last_day: int
    latest: RollImport | None


def summarize_roll(session: Session, actor: User) -> RollSummary:
    require(actor, "roll.import")
    active = dict(session.execute(
        select(RollEntry.active, func.count()).group_by(RollEntry.active)).all())
    districts = session.execute(
        select(RollEntry.district, func.count()).where(RollEntry.active.is_(True))
        .group_by(RollEntry.district).order_by(RollEntry.district)).all()
    methods = dict(session.execute(
        select(Verification.method, func.count()).join(RollEntry)
        .where(RollEntry.active.is_(True)).group_by(Verification.method)).all())
    outcomes = dict(session.execute(
        select(VerificationAttempt.outcome, func.count())
        .group_by(VerificationAttempt.outcome)).all())
    last_day = session.scalar(select(func.count()).select_from(VerificationAttempt).where(
        VerificationAttempt.created_at >= utcnow() - timedelta(days=1))) or 0
    return RollSummary(
        active_entries=active.get(True, 0), inactive_entries=active.get(False, 0),
        districts=[(name, count) for name, count in districts],
        verified_online=methods.get("online", 0),
        verified_in_person=methods.get("in_person", 0),
        refused_no_match=outcomes.get("no_match", 0),
        refused_already_used=outcomes.get("already_used", 0),
        refused_last_day=last_day, latest=latest_import(session))


class NotOnRoll(InvalidInput):
    """No active roll entry has these details. Deliberately the same whichever field differs."""

    default_message = N_("These details do not match the electoral roll.")


class IdentityAlreadyUsed(Conflict):
    """The identity already verifies another account."""


def _no_match() -> NotOnRoll:
    return NotOnRoll(_("These details do not match anyone on the electoral roll. Check them "
                       "against your identity document and try again, or verify in person at "
                       "a service desk or a town hall."))


def _already_used() -> IdentityAlreadyUsed:
    return IdentityAlreadyUsed(_(
        "These details already verify another account, and one person verifies one account. "
        "If that account is not yours, or you want this one verified instead, bring your "
        "identity document to a service desk or a town hall: staff there can move the "
        "verification to this account."))


@dataclass(frozen=True)
class VerificationOutcome:
    """An online attempt: the verification made, or the refusal to show (already recorded)."""

    verification: Verification | None
    refusal: InvalidInput | Conflict | None


def _record_failure(session: Session, user: User, outcome: str) -> None:
    session.add(VerificationAttempt(user_id=user.id, outcome=outcome))
    session.flush()


def _current_verification(session: Session, user: User) -> Verification | None:
    return session.scalar(select(Verification).where(Verification.user_id == user.id))


def _link(session: Session, user: User, entry: RollEntry, *, method: str,
          verified_by: User | None) -> Verification | None:
    """Verify `user` with `entry`, replacing a verification whose entry left the roll; None
    when another account holds the entry (checked by the database's unique constraint, so two
    accounts racing for one identity cannot both win)."""
    held = session.scalar(select(Verification).where(Verification.entry_id == entry.id))
    if held is not None and held.user_id != user.id:
        return None
    old = _current_verification(session, user)
    verification = Verification(user_id=user.id, entry_id=entry.id, method=method,
                                verified_by_id=verified_by.id if verified_by else None)
    try:
        with session.begin_nested():
            if old is not None:
                session.delete(old)
                session.flush()
            session.add(verification)
    except IntegrityError:
        return None
    return verification


def verify_online(session: Session, user: User, *, key: bytes, document_id: object,
                  birth_date: object, postcode: object) -> VerificationOutcome:
    """A resident verifies their own account. A malformed field raises InvalidInput (on that
    field: it says nothing of the roll); a failed match is recorded (no identity, only its
    outcome) and returned as the refusal to show, which never says which field differed."""
    require(user, "roll.verify")
    if standing_of(session, user) is not None:
        raise Conflict(_("Your account is already verified."))
    identity = parse_identity(document_id, birth_date, postcode)
    entry = find_entry(session, key, identity)
    if entry is None:
        _record_failure(session, user, "no_match")
        return VerificationOutcome(None, _no_match())
    verification = _link(session, user, entry, method="online", verified_by=None)
    if verification is None:
        _record_failure(session, user, "already_used")
        return VerificationOutcome(None, _already_used())
    return VerificationOutcome(verification, None)


def find_accounts_for_desk(session: Session, actor: User, query: str, *,
                           limit: int = 20) -> list[User]:
    """Accounts whose name or e-mail holds `query`, for a moderator verifying in person."""
    require(actor, "roll.verify_in_person")
    text = (query or "").strip().lower()[:200].replace("%", "").replace("_", "")
    if len(text) < 2:
        return []
    like = f"%{text}%"
    return list(session.scalars(
        select(User).where(User.deleted_at.is_(None),
                           or_(func.lower(User.email).like(like),
                               func.lower(User.display_name).like(like)))
        .order_by(User.display_name, User.id).limit(limit)))


def desk_account(session: Session, actor: User, user_id: int) -> User:
    require(actor, "roll.verify_in_person")
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(_("No such account."))
    return user


def verify_in_person(session: Session, actor: User, subject: User, *, key: bytes,
                     document_id: object, birth_date: object, postcode: object,
                     move: bool = False) -> Verification:
    """A moderator at a desk verifies `subject` from an identity document, audited with who
    verified whom (never the identity). With `move`, an identity that verifies another account
    is moved to this one (the person came to say that account is theirs no more)."""
    require(actor, "roll.verify_in_person")
    if subject.deleted_at is not None:
        raise NotFound(_("No such account."))
    identity = parse_identity(document_id, birth_date, postcode)
    entry = find_entry(session, key, identity)
    if entry is None:
        raise _no_match()
    standing = standing_of(session, subject)
    if standing is not None:
        raise Conflict(_("This account is already verified (%(method)s).",
                         method=_method_label(standing.method)))
    moved_from: int | None = None
    held = session.scalar(select(Verification).where(Verification.entry_id == entry.id))
    if held is not None and held.user_id != subject.id:
        if not move:
            raise IdentityAlreadyUsed(_(
                "This identity already verifies another account. If the person asks for this "
                "account instead, tick \"Move the verification to this account\"."),
                field="move")
        moved_from = held.user_id
        session.delete(held)
        session.flush()
    verification = _link(session, subject, entry, method="in_person", verified_by=actor)
    if verification is None:
        raise _already_used()
    detail: dict[str, Any] = {"method": "in_person"}
    if moved_from is not None:
        detail["moved_from_account"] = moved_from
    session.add(AuditEntry(actor_id=actor.id, subject_id=subject.id,
                           action="roll.verify_in_person", detail=detail))
    session.flush()
    return verification


def _method_label(method: str | None) -> str:
    return _("in person") if method == "in_person" else _("online")


@dataclass(frozen=True)
class AccountStanding:
    """What the account page shows: verified (district, since when, how), or on the roll no
    more, or never verified."""

    verified: bool
    district: str | None = None
    since: datetime | None = None
    method: str | None = None
    lapsed: bool = False


def account_standing(session: Session, user: User) -> AccountStanding:
    row = session.execute(
        select(Verification.verified_at, Verification.method, RollEntry.district,
               RollEntry.active)
        .join(RollEntry, Verification.entry_id == RollEntry.id)
        .where(Verification.user_id == user.id)).first()
    if row is None:
        return AccountStanding(verified=False)
    verified_at, method, district, active = row
    if not active:
        return AccountStanding(verified=False, lapsed=True)
    return AccountStanding(verified=True, district=district, since=verified_at, method=method)


@on_account_deleted
def release_verification(session: Session, user: User) -> None:
    """A deleted account no longer holds its roll entry: the person may verify a new account.
    Its ballots keep the entry as their "has voted" mark, so that account cannot vote again in
    those polls."""
    session.execute(delete(Verification).where(Verification.user_id == user.id))
    session.flush()


@personal_data("roll_verification")
def export_verification(session: Session, user: User) -> dict[str, Any]:
    """Whether and how the account is verified: never the hash nor any identity."""
    standing = account_standing(session, user)
    verified_by = session.scalar(select(Verification.verified_by_id)
                                 .where(Verification.user_id == user.id))
    return {
        "verified": standing.verified,
        "method": standing.method,
        "verified_at": standing.since.isoformat() if standing.since else None,
        "district": standing.district,
        "verified_by_staff": verified_by is not None,
        "left_the_roll": standing.lapsed,
        "failed_attempts": session.scalar(select(func.count()).select_from(
            VerificationAttempt).where(VerificationAttempt.user_id == user.id)) or 0,
    }
