"""A real SMTP server (aiosmtpd) that stores each message it accepts as an .eml file.

Used by the local run (the newcomer reads mail at /dev/outbox/) and by tests that need mail to go
through real SMTP.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler: one file per accepted message, written atomically (tmp then rename)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        name = f"{time.time_ns()}-{next(self._counter):06d}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        recipients = ", ".join(envelope.rcpt_tos)
        header = f"X-Sink-Mail-From: {envelope.mail_from}\r\nX-Sink-Rcpt-To: {recipients}\r\n"
        tmp.write_bytes(header.encode() + envelope.original_content)
        tmp.rename(self.directory / name)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, *, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the sink in a background thread; call .stop() on the result."""
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class StoredMessage:
    name: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> str:
        return str(self.message["X-Sink-Rcpt-To"] or self.message["To"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


def read_messages(directory: Path) -> list[StoredMessage]:
    """Every stored message, oldest first."""
    directory = Path(directory)
    if not directory.exists():
        return []
    return [read_message(path) for path in sorted(directory.glob("*.eml"))]


def read_message(path: Path) -> StoredMessage:
    """One stored message (the sink writes each file once and never changes it)."""
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return StoredMessage(path.name, message)
