"""The feedback mailbox: where bounces (VERP return path), feedback-loop complaints and mailto:
unsubscribes arrive over SMTP. It is an mbox file, a Maildir directory, or an IMAP folder
(`imaps://user:password@host[:port]/FOLDER`); `mailbox_process` reads what is new in it and
applies their reports in batches through `feedback_apply_batch`, like every other channel.

Reading is bounded (a size limit per message, a cap per run) and never trusts a message: one
that cannot be read is counted as unparsed and the run goes on.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import multiprocessing
import os
import re
import ssl
import stat
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings

from complaints.feedback_reports import (
    ParsedReport,
    UnparsableReport,
    describe_feedback,
    max_message_bytes,
    parse_report,
)
from complaints.models import FeedbackEvent, FeedbackOutcome
from complaints.services import (
    FEEDBACK_BATCH_SIZE,
    Feedback,
    feedback_apply_batch,
    message_ref_data,
)

logger = logging.getLogger(__name__)

IMAP_TIMEOUT_SECONDS = 60
# What became of a report already applied (feedback_apply_batch returned None for it).
DUPLICATE = "duplicate"
_LINE_CHUNK = 64 * 1024
_MBOXRD_FROM = re.compile(rb"^>+From ")
_MAX_LINES = 1000
# A long run parses in other processes (FEEDBACK_PARSE_PROCESSES) while this one applies:
# parsing is pure CPU in the standard library's MIME parser (about 0.3 ms a report, more than
# applying it costs here), applying mostly waits on PostgreSQL. Messages go to them in chunks
# of at most so many messages and bytes, up to two batches (FEEDBACK_BATCH_SIZE reports) ahead
# of the one being applied, so that they go on parsing while it is. The first chunk of a run is
# parsed here: a short run starts no process.
PARSE_CHUNK_MESSAGES = 100
PARSE_CHUNK_BYTES = 4 * 1024 * 1024
DEFAULT_PARSE_PROCESSES = 2


class MailboxError(ValueError):
    """The mailbox cannot be opened: no such path, not a mailbox, a bad URL, a refused login."""


@dataclass
class StoredMessage:
    """One message of a mailbox; `raw` is None when it is over the size limit (left unread)."""

    key: str
    raw: bytes | None
    size: int


class MailboxReader(Protocol):
    kind: str

    def messages(self) -> Iterator[StoredMessage]: ...

    def mark_read(self, message: StoredMessage) -> None: ...

    def close(self) -> None: ...


@dataclass
class MailboxRun:
    """What one read of a mailbox found. `read`, `ignored` (not a report, or a report that asks
    nothing, like an ARF not-spam) and `unparsed` count messages; the rest count reports (a
    DSN names one per recipient). `by_kind` counts the applied reports."""

    location: str
    mailbox: str
    dry_run: bool = False
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0
    test: int = 0
    ignored: int = 0
    unparsed: int = 0
    by_kind: Counter = field(default_factory=Counter)
    # (outcome, description) per report, for the command: what was (in a dry run, what would
    # be) done with it. The first _MAX_LINES only.
    lines: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "mailbox": self.mailbox,
            "dry_run": self.dry_run,
            "read": self.read,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
            "test": self.test,
            "ignored": self.ignored,
            "unparsed": self.unparsed,
            "by_kind": dict(sorted(self.by_kind.items())),
        }

    def record(self, outcome: str, feedback: Feedback) -> None:
        """Count one report by what happened to it (a FeedbackOutcome, or DUPLICATE)."""
        if outcome == FeedbackOutcome.APPLIED:
            self.applied += 1
            self.by_kind[str(feedback.kind)] += 1
        elif outcome == FeedbackOutcome.UNMATCHED:
            self.unmatched += 1
        elif outcome == FeedbackOutcome.TEST:
            self.test += 1
        else:
            self.duplicates += 1
        if len(self.lines) < _MAX_LINES:
            self.lines.append((outcome, describe_feedback(feedback)))


def mailbox_process(
    *,
    location: str,
    dry_run: bool = False,
    limit: int | None = None,
    parse_processes: int | None = None,
) -> MailboxRun:
    """Read the unread messages of the mailbox at `location` (at most `limit`), apply their
    reports in batches of about FEEDBACK_BATCH_SIZE (feedback_apply_batch, in the mailbox's
    order), then mark those messages read (Maildir: moved to cur/ with the S flag; IMAP:
    \\Seen; an mbox file is never changed). Idempotent: a message read again applies nothing
    twice (reports are deduplicated on source and event id), so a crash between applying and
    marking is harmless. A dry run applies and marks nothing, and counts
    what would happen. Raises MailboxError when the mailbox cannot be opened; a database error
    stops the run with the messages of its batch left unread. Past its first
    PARSE_CHUNK_MESSAGES messages a run parses in `parse_processes` other processes
    (FEEDBACK_PARSE_PROCESSES; 0: all here), which changes nothing of the above."""
    processes = parse_processes_setting() if parse_processes is None else parse_processes
    reader = open_mailbox(location, readonly=dry_run, limit=limit)
    run = MailboxRun(location=describe_location(location), mailbox=reader.kind, dry_run=dry_run)
    pending = _Pending(reader, run)
    messages = _parsed(reader.messages(), processes)
    try:
        for message, parsed in pending.read_all(messages):
            run.read += 1
            if parsed is None:
                run.unparsed += 1
            elif not parsed.feedback:
                run.ignored += 1
            elif dry_run:
                for feedback in parsed.feedback:
                    run.record(_predicted_outcome(feedback), feedback)
            if not dry_run:
                pending.add(message, parsed.feedback if parsed else [])
        pending.flush()
    finally:
        messages.close()  # stopped by an error: the parsing processes end now
        reader.close()
    logger.info("feedback mailbox %s: %s", run.location, run.as_dict())
    return run


class _Pending:
    """Messages read whose reports wait to be applied together (FEEDBACK_BATCH_SIZE at a time);
    a message is marked read once its reports are applied (a crash in between leaves it
    unread, and reading it again applies nothing twice)."""

    def __init__(self, reader: MailboxReader, run: MailboxRun):
        self.reader, self.run = reader, run
        self.messages: list[StoredMessage] = []
        self.reports: list[Feedback] = []

    def read_all(
        self, parsed: Iterator[tuple[StoredMessage, ParsedReport | None]]
    ) -> Iterator[tuple[StoredMessage, ParsedReport | None]]:
        """The reader's messages, parsed (_parsed); when reading fails (a lost connection), the
        reports already read are applied before the error stops the run, as one by one they
        would have been."""
        try:
            yield from parsed
        except Exception:
            with contextlib.suppress(Exception):
                self.flush()
            raise

    def add(self, message: StoredMessage, reports: Sequence[Feedback]) -> None:
        self.messages.append(message)
        self.reports += reports
        if len(self.reports) >= FEEDBACK_BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        messages, reports = self.messages, self.reports
        self.messages, self.reports = [], []
        for feedback, event in zip(reports, feedback_apply_batch(reports), strict=True):
            self.run.record(event.outcome if event is not None else DUPLICATE, feedback)
        for message in messages:
            self.reader.mark_read(message)


def parse_processes_setting() -> int:
    return int(getattr(settings, "FEEDBACK_PARSE_PROCESSES", DEFAULT_PARSE_PROCESSES))


def _parsed(
    messages: Iterable[StoredMessage], processes: int
) -> Generator[tuple[StoredMessage, ParsedReport | None], None, None]:
    """Each message with what _parse made of it, in the mailbox's order. The first
    PARSE_CHUNK_MESSAGES are parsed here as they are read; the rest, in chunks, by `processes`
    worker processes (none: here too), at most two batches ahead of the caller. When the
    reader fails, the messages it read are still given (parsed) before its error is raised."""
    messages = iter(messages)
    for _ in range(PARSE_CHUNK_MESSAGES):
        message = next(messages, None)
        if message is None:
            return
        yield message, _parse(message)
    if processes < 1:
        yield from ((message, _parse(message)) for message in messages)
        return
    ahead = max(2 * processes, -(-2 * FEEDBACK_BATCH_SIZE // PARSE_CHUNK_MESSAGES))
    in_flight: deque[tuple[list[StoredMessage], Future]] = deque()
    chunk: list[StoredMessage] = []
    size = 0
    pool = _ParsePool(processes)
    try:
        while True:
            try:
                message = next(messages, None)
            except Exception:
                # Reading failed: what was read is parsed and given first.
                if chunk:
                    in_flight.append((chunk, pool.submit(chunk)))
                while in_flight:
                    yield from pool.results(*in_flight.popleft())
                raise
            if message is not None:
                chunk.append(message)
                size += message.size if message.raw is not None else 0
            if chunk and (
                message is None or len(chunk) >= PARSE_CHUNK_MESSAGES or size >= PARSE_CHUNK_BYTES
            ):
                in_flight.append((chunk, pool.submit(chunk)))
                chunk, size = [], 0
            while in_flight and (message is None or len(in_flight) > ahead):
                yield from pool.results(*in_flight.popleft())
            if message is None:
                break
    except BaseException:
        # Stopped (an error here or in the caller): the workers are left to end on their own,
        # so that no wait on them can hang the error's way out.
        pool.close(wait=False)
        raise
    pool.close(wait=True)


class _ParsePool:
    """Worker processes parsing chunks of messages (_parse_chunk). When they cannot be started
    (a daemonic process, as some task pools' workers are, may not have children) or one dies
    (killed, out of memory), the chunks are parsed here instead."""

    def __init__(self, processes: int):
        # Forked: a worker has this process's settings and code without starting Django again
        # (parsing needs no database; the connection it inherits is never used there).
        self.executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("fork")
        )

    def submit(self, chunk: list[StoredMessage]) -> Future:
        if self.executor is not None:
            try:
                return self.executor.submit(_parse_chunk, chunk)
            except (BrokenProcessPool, AssertionError, OSError) as exc:
                self._give_up(exc)
        done: Future = Future()
        done.set_result(_parse_chunk(chunk))
        return done

    def results(
        self, chunk: list[StoredMessage], future: Future
    ) -> Iterator[tuple[StoredMessage, ParsedReport | None]]:
        try:
            parsed = future.result()
        except (BrokenProcessPool, CancelledError) as exc:
            # Cancelled: the pool was given up after this chunk went to it.
            self._give_up(exc)
            parsed = _parse_chunk(chunk)
        yield from zip(chunk, parsed, strict=True)

    def _give_up(self, exc: BaseException) -> None:
        if self.executor is not None:
            logger.warning("feedback mailbox: parsing in this process from here (%r)", exc)
        self.close()

    def close(self, *, wait: bool = True) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=wait, cancel_futures=True)
            self.executor = None


def _parse_chunk(messages: list[StoredMessage]) -> list[ParsedReport | None]:
    """What _parse makes of each message (run in a worker process)."""
    return [_parse(message) for message in messages]


def _parse(message: StoredMessage) -> ParsedReport | None:
    if message.raw is None:
        logger.warning(
            "feedback message %s: %s bytes, over the limit; left unparsed",
            message.key,
            message.size,
        )
        return None
    try:
        return parse_report(message.raw)
    except UnparsableReport as exc:
        logger.warning("feedback message %s unparsed: %s", message.key, exc)
    # Malformed MIME can break the standard library's parser anywhere: one message must not
    # stop the run.
    except Exception:
        logger.exception("feedback message %s could not be parsed", message.key)
    return None


def _predicted_outcome(feedback: Feedback) -> str:
    """What feedback_apply would do with `feedback` (read-only, for a dry run)."""
    if FeedbackEvent.objects.filter(
        source=feedback.source, event_id=feedback.event_id[:200]
    ).exists():
        return DUPLICATE
    data = feedback.token or (
        message_ref_data(feedback.message_ref) if feedback.message_ref else None
    )
    if data is None:
        return FeedbackOutcome.UNMATCHED
    return FeedbackOutcome.TEST if data.is_test else FeedbackOutcome.APPLIED


def describe_location(location: str) -> str:
    """The location without its password, for logs and output."""
    if not location.lower().startswith(("imap://", "imaps://")):
        return location
    parts = urlsplit(location)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def open_mailbox(
    location: str, *, readonly: bool = False, limit: int | None = None
) -> MailboxReader:
    """A reader for `location`: an imap(s):// URL, a Maildir directory (with new/ and cur/),
    or a file (an mbox, or a single message). Raises MailboxError."""
    max_bytes = max_message_bytes()
    if location.lower().startswith(("imap://", "imaps://")):
        return ImapReader(location, max_bytes=max_bytes, readonly=readonly, limit=limit)
    path = Path(location).expanduser()
    if not path.exists():
        raise MailboxError(
            f"No mailbox at {path}: give an mbox file, a Maildir directory or an "
            "imaps://user:password@host/FOLDER URL."
        )
    if path.is_dir():
        if (path / "new").is_dir() and (path / "cur").is_dir():
            return MaildirReader(path, max_bytes=max_bytes, limit=limit)
        raise MailboxError(f"{path} is a directory but not a Maildir (no new/ and cur/ in it).")
    if not path.is_file():
        raise MailboxError(f"{path} is neither a file nor a Maildir directory.")
    return MboxReader(path, max_bytes=max_bytes)


class MboxReader:
    """An mbox file (mboxo or mboxrd), or a file holding one message. Read as a stream, so a
    huge message costs no more memory than the size limit; never changed (reading it again
    applies nothing twice). Every run reads the whole file: `limit` does not apply."""

    kind = "mbox"

    def __init__(self, path: Path, *, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes

    def messages(self) -> Iterator[StoredMessage]:
        with self.path.open("rb") as stream:
            first = stream.read(5)
            stream.seek(0)
            if first != b"From ":
                # Not an mbox: one message (an .eml file).
                data = stream.read(self.max_bytes + 1)
                size = len(data) + _remaining(stream)
                if data.strip():
                    yield StoredMessage("1", data if size <= self.max_bytes else None, size)
                return
            yield from self._split(stream)

    def _split(self, stream) -> Iterator[StoredMessage]:
        index, body, size, oversize = 0, bytearray(), 0, False
        at_line_start, previous_blank, started = True, True, False
        while chunk := stream.readline(_LINE_CHUNK):
            if at_line_start and previous_blank and chunk.startswith(b"From "):
                if started:
                    yield StoredMessage(str(index), None if oversize else bytes(body), size)
                index, body, size, oversize, started = index + 1, bytearray(), 0, False, True
                at_line_start, previous_blank = chunk.endswith(b"\n"), False
                continue
            if at_line_start and _MBOXRD_FROM.match(chunk):
                chunk = chunk[1:]
            size += len(chunk)
            if size > self.max_bytes:
                oversize, body = True, bytearray()
            elif not oversize:
                body += chunk
            previous_blank = at_line_start and chunk.strip(b"\r\n") == b""
            at_line_start = chunk.endswith(b"\n")
        if started:
            yield StoredMessage(str(index), None if oversize else bytes(body), size)

    def mark_read(self, message: StoredMessage) -> None:
        """Nothing: the file is left as it is."""

    def close(self) -> None:
        pass


def _remaining(stream) -> int:
    here = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(here)
    return end - here


class MaildirReader:
    """A Maildir: the messages in new/ and the unseen ones in cur/; reading one moves it to
    cur/ with the S (seen) flag, so the next run does not read it again. Another reader that
    took a message first is no error."""

    kind = "maildir"

    def __init__(self, path: Path, *, max_bytes: int, limit: int | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self.limit = limit

    def messages(self) -> Iterator[StoredMessage]:
        count = 0
        for folder in ("new", "cur"):
            directory = os.path.join(self.path, folder)
            for name in sorted(os.listdir(directory)):
                if name.startswith(".") or (folder == "cur" and "S" in _flags(name)):
                    continue
                if self.limit is not None and count >= self.limit:
                    return
                path = os.path.join(directory, name)
                try:
                    status = os.stat(path)  # one stat for the size and the kind
                    if not stat.S_ISREG(status.st_mode):
                        continue
                    size = status.st_size
                    raw = _read_file(path) if size <= self.max_bytes else None
                except FileNotFoundError:
                    continue
                count += 1
                yield StoredMessage(f"{folder}/{name}", raw, size)

    def mark_read(self, message: StoredMessage) -> None:
        folder, name = message.key.split("/", 1)
        base = name.split(":", 1)[0]
        flags = "".join(sorted(set(_flags(name)) | {"S"}))
        # Gone already: another reader took it. (Joined as strings: pathlib's joins cost more
        # than the rename, for every message of a run.)
        with contextlib.suppress(FileNotFoundError):
            os.rename(
                os.path.join(self.path, folder, name),
                os.path.join(self.path, "cur", f"{base}:2,{flags}"),
            )

    def close(self) -> None:
        pass


def _read_file(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _flags(name: str) -> str:
    _, _, info = name.partition(":")
    return info[2:] if info.startswith("2,") else ""


class ImapReader:
    """An IMAP folder, `imaps://user:password@host[:port]/FOLDER` (INBOX when no folder is
    given). Reads the UNSEEN messages without setting \\Seen (BODY.PEEK), and sets it once a
    message is applied. `imap://` upgrades with STARTTLS, and sends a password unencrypted
    only to a loopback address."""

    kind = "imap"

    def __init__(
        self, url: str, *, max_bytes: int, readonly: bool = False, limit: int | None = None
    ):
        self.max_bytes = max_bytes
        self.limit = limit
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError as exc:
            raise MailboxError(f"Bad port in {describe_location(url)}") from exc
        host = parts.hostname
        if not host:
            raise MailboxError("The IMAP URL names no host: imaps://user:password@host/FOLDER")
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        self.where = where = describe_location(url)
        try:
            self.connection = self._connect(parts.scheme.lower(), host, port)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"Cannot connect to {where}: {exc}") from exc
        try:
            self.connection.login(user, password)
            status, data = self.connection.select(_quoted(folder), readonly=readonly)
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"Cannot open {where}: {exc}") from exc
        if status != "OK":
            self.close()
            raise MailboxError(f"Cannot open folder {folder!r} at {where}: {data!r}")

    @staticmethod
    def _connect(scheme: str, host: str, port: int | None) -> imaplib.IMAP4:
        context = ssl.create_default_context()
        if scheme == "imaps":
            return imaplib.IMAP4_SSL(
                host, port or 993, ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS
            )
        connection = imaplib.IMAP4(host, port or 143, timeout=IMAP_TIMEOUT_SECONDS)
        if "STARTTLS" in connection.capabilities:
            connection.starttls(context)
        elif not plaintext_login_allowed(host):
            connection.shutdown()
            raise MailboxError(
                f"{host} offers no STARTTLS: refusing to send the password unencrypted "
                "(use imaps://)."
            )
        return connection

    def messages(self) -> Iterator[StoredMessage]:
        try:
            yield from self._messages()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"Lost the IMAP connection to {self.where}: {exc}") from exc

    def _messages(self) -> Iterator[StoredMessage]:
        # No charset (None): imaplib sends none, as RFC 3501 allows; typeshed wants a string.
        status, data = self.connection.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]
        if status != "OK":
            raise MailboxError(f"IMAP SEARCH failed at {self.where}: {data!r}")
        uids = data[0].split() if data and data[0] else []
        if self.limit is not None:
            uids = uids[: self.limit]
        for uid in uids:
            key = uid.decode("ascii", errors="replace")
            size = self._size(uid)
            if size is None:
                continue  # gone (expunged by another client)
            if size > self.max_bytes:
                yield StoredMessage(key, None, size)
                continue
            status, data = self.connection.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in data or [] if isinstance(item, tuple)), None)
            if status != "OK" or raw is None:
                continue
            yield StoredMessage(key, bytes(raw), len(raw))

    def _size(self, uid: bytes) -> int | None:
        # imaplib sends the server's own bytes as they are; typeshed wants a string.
        status, data = self.connection.uid("FETCH", uid, "(RFC822.SIZE)")  # type: ignore[arg-type]
        for item in data or []:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes) and (match := re.search(rb"RFC822\.SIZE (\d+)", line)):
                return int(match.group(1))
        return None

    def mark_read(self, message: StoredMessage) -> None:
        try:
            self.connection.uid("STORE", message.key, "+FLAGS", "(\\Seen)")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"Lost the IMAP connection to {self.where}: {exc}") from exc

    def close(self) -> None:
        # Closing a connection that already broke: nothing more to do.
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            if self.connection.state == "SELECTED":
                self.connection.close()
            self.connection.logout()


def plaintext_login_allowed(host: str) -> bool:
    """Whether a password may go to `host` unencrypted: only to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _quoted(folder: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as given)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
