"""The pieces of two-factor sign-in that need no database: TOTP codes and their time-steps, the
secret's encryption at rest, recovery codes and their hashes, and the set-up QR code.

Keys are derived from the app's `SECRET_KEY` (and `SECRET_KEY_FALLBACKS`, so a rotated key still
opens what the old one sealed), each for one purpose, so no two uses share a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator, Sequence

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

STEP_SECONDS = 30
DIGITS = 6
# A code from the time-step before or after the server's is accepted: phone clocks drift.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# 12 characters of 32 (60 bits): far past guessing, so a fast keyed hash stores them safely.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 12
ISSUER = "Participation"


class SecretUnreadable(RuntimeError):
    """The stored secret was sealed with a key this app no longer has."""


def _secret_keys() -> list[str]:
    keys = [current_app.config["SECRET_KEY"]]
    keys += list(current_app.config.get("SECRET_KEY_FALLBACKS") or [])
    return [str(key) for key in keys if key]


def _derive(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), b"participation two-factor " + purpose.encode(),
                    hashlib.sha256).digest()


def _sealer() -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(key, "secret")))
                        for key in _secret_keys()])


def seal_secret(secret: str) -> str:
    """The TOTP secret encrypted for the database (Fernet: AES-128-CBC with an HMAC)."""
    return _sealer().encrypt(secret.encode()).decode()


def open_secret(sealed: str) -> str:
    try:
        return _sealer().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable() from None


def new_secret() -> str:
    """A new base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalize_code(code: str) -> str:
    """What the person typed, without spaces and hyphens, lower-cased."""
    return "".join(ch for ch in (code or "").strip().lower() if ch not in " -\u00a0")


def is_totp_code(code: str) -> bool:
    return len(code) == DIGITS and code.isdigit()


def matching_step(secret: str, code: str, *, after: int, now: float | None = None) -> int | None:
    """The time-step, later than `after`, whose code is `code`, within the allowed drift.

    Only steps later than the last accepted one count, so a code is never accepted twice, nor an
    older one after a newer.
    """
    if not is_totp_code(code):
        return None
    step = current_step(now)
    found = None
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time, so the answer's timing says nothing.
        if hmac.compare_digest(code_at(secret, candidate), code) and candidate > after:
            found = candidate
    return found


def provisioning_uri(secret: str, account_name: str) -> str:
    issuer = current_app.config.get("SITE_NAME") or ISSUER
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The set-up QR code as inline SVG, made here: no image request leaves the page."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, title=title,
                                                svgclass="qr-code", omitsize=False)


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an authenticator app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_hashes(code: str) -> Iterator[str]:
    """The stored form of a recovery code under each key, the current key's first.

    HMAC-SHA256 rather than Argon2: the codes are random (60 bits), so a slow hash adds nothing
    against guessing, and ten Argon2 checks per attempt would hold the server's event loop; keyed,
    a copy of the database alone does not even let anyone test a guess.
    """
    normalized = normalize_code(code).encode()
    for key in _secret_keys():
        yield hmac.new(_derive(key, "recovery"), normalized, hashlib.sha256).hexdigest()


def recovery_hash(code: str) -> str:
    return next(recovery_hashes(code))


def looks_like_recovery_code(code: str) -> bool:
    return len(code) == RECOVERY_LENGTH and all(ch in RECOVERY_ALPHABET for ch in code)


def required_roles(setting: str | Sequence[str] | None) -> frozenset[str]:
    """The roles named by `TWO_FACTOR_REQUIRED_ROLES` ("admin,official"; "" for none)."""
    if setting is None:
        return frozenset()
    names = setting.split(",") if isinstance(setting, str) else list(setting)
    return frozenset(name.strip().lower() for name in names if name.strip())
