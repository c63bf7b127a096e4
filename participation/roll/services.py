"""The rules of the electoral roll: how an identity is normalized and hashed, and who stands on
the roll. Plain functions `verb_noun(session, actor, ...)`; they flush, never commit.

The roll key is passed in (`key`, bytes): services read no Flask globals.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.errors import InvalidInput
from participation.roll.models import RollEntry, Verification

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
