"""A real SMTP server for tests (aiosmtpd on a free port) and helpers to read what it received.

`smtp_server.messages` holds each received message parsed with the modern policy
(`email.message.EmailMessage`); `smtp_server.envelopes` the envelope recipients of each. The
server can be stopped and started again on the same port, and told to refuse mail for a while.
"""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://[^\s<>\"')\]]+")


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: Any) -> str:
        if self.server.refusing:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content,
                                     policy=email_policy.default)
        with self.server.condition:
            self.server.messages.append(message)  # type: ignore[arg-type]
            self.server.envelopes.append(list(envelope.rcpt_tos))
            self.server.raw.append(bytes(envelope.original_content or envelope.content))
            self.server.condition.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"smtp://127.0.0.1:{port}"
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.raw: list[bytes] = []
        self.refusing = False
        self.condition = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """Wait until `count` messages arrived (AssertionError after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.messages)} of {count} messages arrived in {timeout} s")
                self.condition.wait(left)
            return list(self.messages)


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the message has no text part"
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the message has no HTML part"
    return str(part.get_content())


def links_in(message: EmailMessage) -> list[str]:
    """The URLs in the message's text part, in order."""
    return [link.rstrip(".,;:") for link in LINK.findall(text_part(message))]
