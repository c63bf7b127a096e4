"""Where a built message goes: an SMTP server (`MAIL_URL`), or a file under instance/mail/.

`MAIL_URL` is `smtp://[user:pass@]host:port` (no encryption: a relay on this machine or network),
`smtp+starttls://...` (STARTTLS required) or `smtps://...` (TLS from the first byte). With none,
each message is written as an `.eml` file and, outside production, its first link is logged, so
that a newcomer running `make run` can follow a reset link.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
LINK = re.compile(r"https?://[^\s<>\"')\]]+")


class TemporaryFailure(Exception):
    """The server could not take the message now (down, refusing, 4xx): try again later.

    The message is a reason that holds no address; it is what the row records.
    """


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): do not try again."""


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_mail_url(url: str) -> SmtpSettings:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("MAIL_URL must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise ValueError("MAIL_URL names no host")
    return SmtpSettings(
        scheme=parts.scheme, host=parts.hostname, port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None)


def send(message: EmailMessage, *, mail_url: str | None, instance_path: str, production: bool,
         timeout: float = 30, text: str = "") -> None:
    """Hand the message to the configured transport; raise TemporaryFailure/PermanentFailure."""
    if not mail_url:
        write_file(message, instance_path=instance_path, log_link=not production, text=text)
        return
    send_smtp(message, parse_mail_url(mail_url), timeout=timeout)


def send_smtp(message: EmailMessage, settings: SmtpSettings, *, timeout: float) -> None:
    context = ssl.create_default_context()
    try:
        if settings.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                    timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with client:
            if settings.scheme == "smtp+starttls":
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password or "")
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        reason = f"recipient refused ({', '.join(str(c) for c in codes)})"
        if all(code >= 500 for code in codes):
            raise PermanentFailure(reason) from None
        raise TemporaryFailure(reason) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise TemporaryFailure(f"authentication refused ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        # Sender refused, data refused, ...: 5xx is final, 4xx is "later".
        reason = f"{type(exc).__name__} ({exc.smtp_code})"
        if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPSenderRefused):
            raise PermanentFailure(reason) from None
        raise TemporaryFailure(reason) from None
    except (smtplib.SMTPException, OSError) as exc:
        # Connection refused, timed out, dropped, TLS failed: the server is not there now.
        raise TemporaryFailure(f"server unavailable ({type(exc).__name__})") from None


def write_file(message: EmailMessage, *, instance_path: str, log_link: bool,
               text: str = "") -> Path:
    folder = Path(instance_path) / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    token = re.sub(r"[^A-Za-z0-9]+", "-", str(message["Message-ID"] or "")).strip("-")[:80]
    path = folder / f"{token or 'message'}.eml"
    data = message.as_bytes()
    temporary = path.with_suffix(".tmp")
    # Owner-only: a message may hold a sign-in link.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    if log_link:
        link = first_link(text)
        log.warning("Mail written to %s%s", path,
                    f"; its first link: {link}" if link else " (it holds no link)")
    return path


def first_link(text: str) -> str | None:
    match = LINK.search(text)
    return match.group(0).rstrip(".,;:") if match else None
