"""Delivery workers: claim a batch of a campaign's pending deliveries, render each with the
compiled campaign, hand it to the backend, record the outcome. Celery tasks call these.

Crash safety, the rule this module is built around: a delivery is marked sent, in its own tiny
commit, right after the backend accepted it and before the next message goes. So when a worker
dies, each of its batches holds at most one message that was handed over but not recorded (the
one in flight on its connection). The sweeper gives a dead batch's unsent rows back to pending,
counts that one possible duplicate on the batch and flags its row; no recipient is lost.
A connection lost after the whole message went but before the server answered is the same
doubt without a crash: the delivery is retried later and flagged the same way.
Those commits do not wait for the WAL flush on PostgreSQL: a worker crash cannot lose them (the
server has them); only a database crash could, and then a few messages go twice.
"Handed over" is the message's final dot: with a server that pipelines, a message is written
but for that dot, which goes with the next message's envelope (SmtpTransport.hand_over), so a
message costs one round trip to the server, not two; the previous message's record is settled
before the dot goes, and a message whose dot never went never reached the server.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.errors import HeaderParseError
from typing import TYPE_CHECKING, Any, cast

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.dkim import dkim_sign
from campaigns import consent_requests, selectors, sending, tasks, welcome
from campaigns.bounces import BounceClass, BounceVerdict, classify_bounce
from campaigns.mail import email_message
from campaigns.mime import MimeBytes, envelope_sender, raw_message, signed_in_front
from campaigns.models import Campaign, CampaignKind, Delivery, DeliveryStatus, SendBatch
from campaigns.refusals import BOUNCE_FIELDS, refusal_apply
from campaigns.rendering import Recipient, RenderedMessage
from campaigns.states import SENDING_STATUSES, STOPPED, CampaignStatus
from campaigns.throttle import SendThrottle
from campaigns.versions import approved_version, version_list_names
from config.coded_text import coded
from lists.models import Subscriber, SubscriberStatus
from lists.services.suppression import PLATFORM_HARD_BOUNCE

if TYPE_CHECKING:
    from psycopg import Cursor
    from psycopg.pq.abc import PGconn

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
HEARTBEAT_SHARE = 0.25  # of the lease: how often a live batch says so
SEND_BUFFER_BYTES = 512 * 1024  # the SMTP socket's send buffer (Linux doubles it)
# The delivery log's word for why a message was skipped, where plain "suppressed" says too little.
SKIP_REASONS = {PLATFORM_HARD_BOUNCE: "suppressed: hard-bounced for another sender"}


class TransientError(Exception):
    """Not delivered now, may be later: a 4xx answer (a deferral) or a lost connection.
    `maybe_delivered`: the connection was lost after the whole message had gone, before the
    server's answer; the server may have kept it, so the retry may deliver it a second time."""

    def __init__(self, message: str, *, deferral: bool, maybe_delivered: bool = False):
        super().__init__(message)
        self.deferral = deferral
        self.maybe_delivered = maybe_delivered


class PermanentError(Exception):
    """The backend refused the message for good (a 5xx answer, an ESP's rejection). A refusal
    by the receiving side carries its reply (`smtp_code`, `text`) and is read as a bounce
    (`verdict`); one of our own (`refused_by_server` False) is no bounce."""

    def __init__(
        self,
        message: str,
        *,
        smtp_code: int | None = None,
        text: str = "",
        refused_by_server: bool = True,
        esp_statuses: frozenset[str] = frozenset(),
    ):
        super().__init__(message)
        self.smtp_code = smtp_code
        self.text = text
        self.refused_by_server = refused_by_server
        self.esp_statuses = esp_statuses

    def verdict(self) -> BounceVerdict | None:
        """The refusal read as a bounce, or None when it is not one (our own failure)."""
        if not self.refused_by_server:
            return None
        if self.esp_statuses and self.esp_statuses <= {"invalid"}:
            # The ESP refuses the address itself as invalid.
            return BounceVerdict(BounceClass.HARD, "", "the ESP found the address invalid")
        verdict = classify_bounce(smtp_code=self.smtp_code, text=self.text, action="failed")
        return verdict if verdict.is_failure else None


class ClaimLost(Exception):
    """The batch lost its claim (the sweeper took it back): nothing more may be sent from it."""


def _smtp_error(code: int, response: bytes | str) -> Exception:
    text = response.decode(errors="replace") if isinstance(response, bytes) else str(response)
    message = f"{code} {text}"[:300]
    if 400 <= code < 500:
        return TransientError(message, deferral=True)
    return PermanentError(message, smtp_code=code, text=text[:2000])


def _built(build):
    """The message `build` makes, or PermanentError (ours, not the server's) when its headers
    cannot be written: retrying would only fail again, and hold the campaign's batch forever."""
    try:
        return build()
    except UnicodeEncodeError:
        raise  # the transport tells an address needing SMTPUTF8 apart
    except (ValueError, HeaderParseError) as exc:
        raise PermanentError(
            f"the message could not be built: {exc}"[:300], refused_by_server=False
        ) from exc


class SmtpTransport:
    """Django's SMTP backend's connection (its settings, TLS and login), kept open for a whole
    drain and driven command by command: the message is our own bytes (campaigns.mime), and the
    server's answer to DATA (its queue id) is kept as the provider's message id."""

    def __init__(self, *, signing_account_id: int | None = None) -> None:
        self.backend = cast(SMTPBackend, get_connection(SMTP_BACKEND))
        self._handed_over = False  # the current message's final dot has been sent
        # (tag, record, before_handover) of a message `hand_over` has written but for its
        # final dot: the server has not got it yet.
        # (tag, record, before_handover) of the message `hand_over` wrote all but the dot of
        self._unfinished: tuple[Any, Callable[..., bool], Callable[[], bool] | None] | None = None
        # None: sign with the From domain's verified key; an id: with that account's own key,
        # verified or not (a test send, to the user's own address).
        self.signing_account_id = signing_account_id

    def _smtp(self) -> smtplib.SMTP:
        if self.backend.connection is None:
            self.backend.open()
            sock = getattr(self.backend.connection, "sock", None)
            if sock is not None:
                # Room for a whole newsletter (~50 KB) and more in the kernel: the write returns
                # at once and the worker goes on while the relay reads, instead of waiting for
                # it in 16 KB steps (Linux's initial send buffer).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
                # `hand_over` writes a message's final dot and the next envelope (a few bytes)
                # while the message's own bytes may not be acknowledged yet: Nagle's algorithm
                # would hold them back until they are, the very round trip pipelining saves.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.backend.connection is not None  # opened above (open raises otherwise)
        return self.backend.connection

    def _drop(self) -> None:
        # A broken connection may fail to close; it is gone either way.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.backend.close()
        self.backend.connection = None
        self._unfinished = None  # its final dot never went: the server has not got it

    def send(self, rendered: RenderedMessage, *, before_handover=None) -> str:
        """Hand the message over; its provider message id. `before_handover`, if given, is
        called once the envelope is written and before any of the message goes (the
        previous message's record settles meanwhile); when it answers False, nothing is
        handed over (the connection is dropped) and ClaimLost is raised."""
        self._handed_over = False
        self.finish()  # a message `hand_over` left in flight is answered first
        try:
            smtp = self._smtp()
            smtp.ehlo_or_helo_if_needed()  # Django's open() leaves it to sendmail, unused here
            message_bytes, envelope = self._written(smtp, rendered)
            if smtp.has_extn("pipelining"):
                # RFC 2920: the three commands in one write, then their three replies: one
                # round trip instead of three, most of what a local relay costs per message.
                smtp.send(envelope)
                self._settle(before_handover)
                replies = [smtp.getreply() for _ in range(3)]
            else:
                self._settle(before_handover)
                replies = []
                for command in envelope.split(b"\r\n")[:3]:
                    smtp.send(command + b"\r\n")
                    replies.append(smtp.getreply())
                    if replies[-1][0] >= 400:
                        break
            answer = self._data(smtp, message_bytes, replies)
            assert answer is not None  # with its final dot, _data reads the server's answer
            code, response = answer
        except UnicodeEncodeError as exc:
            raise PermanentError(
                "the address needs SMTPUTF8, which is not supported", refused_by_server=False
            ) from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            self._drop()
            raise TransientError(
                f"connection: {exc}"[:300], deferral=False, maybe_delivered=self._handed_over
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error) from exc
        if code != 250:
            raise _smtp_error(code, response)
        return response.decode(errors="replace")[:255]

    def _written(self, smtp: smtplib.SMTP, rendered: RenderedMessage) -> tuple[bytes, bytes]:
        """The message's bytes and its envelope (MAIL, RCPT, DATA) for this server."""
        eight_bit = smtp.has_extn("8bitmime")
        # The one place a message's final bytes are made, just before they go to SMTP:
        # built, then DKIM-signed with the From domain's key.
        message_bytes = _built(
            lambda: signed_in_front(
                raw_message(rendered, eight_bit=eight_bit),
                lambda unsigned: dkim_sign(
                    unsigned,
                    rendered.from_email.rpartition("@")[2],
                    account_id=self.signing_account_id,
                ),
            )
        )
        envelope = (
            f"MAIL FROM:<{envelope_sender(rendered)}>{' BODY=8BITMIME' if eight_bit else ''}"
            f"\r\nRCPT TO:<{rendered.to}>\r\nDATA\r\n"
        ).encode("ascii")
        return message_bytes, envelope

    def hand_over(self, rendered: RenderedMessage, *, tag, record, before_handover=None) -> None:
        """Hand the message over as `send` does, in one round trip instead of two when the
        server pipelines (RFC 2920): the message is written but for its final dot, which goes
        with the next message's envelope (or at `finish`), and the server's answer to it comes
        with the answers to that envelope. Until its dot the server has not got the message:
        a worker that dies before leaves nothing delivered.

        `before_handover` is called just before this message's dot goes (it settles what
        `record` wrote for the message before; False: ClaimLost, nothing goes). `record(tag,
        outcome)` gets this message's outcome once known: its provider message id, or the
        PermanentError or TransientError of the server's answer (or of the connection lost
        after the dot went); it is called before the next message's dot, so every message is
        still recorded before the next is handed over, and answers False when nothing more may
        go (ClaimLost). What goes wrong before this message was written is raised, as by
        `send`; so is everything on a server that does not pipeline, where `record` is called
        at once."""
        # Twice at most: when the connection went with the message before, this one goes on
        # a new connection at once, as it would have without the pipelining.
        for attempt in (1, 2):
            try:
                smtp = self._smtp()
                smtp.ehlo_or_helo_if_needed()
                pipelining = smtp.has_extn("pipelining")
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
                self._drop()
                raise TransientError(f"connection: {exc}"[:300], deferral=False) from exc
            except smtplib.SMTPResponseException as exc:
                raise _smtp_error(exc.smtp_code, exc.smtp_error) from exc
            if not pipelining:
                if not record(tag, self.send(rendered, before_handover=before_handover)):
                    raise ClaimLost
                return
            try:
                message_bytes, envelope = self._written(smtp, rendered)
            except UnicodeEncodeError as exc:
                raise PermanentError(
                    "the address needs SMTPUTF8, which is not supported", refused_by_server=False
                ) from exc
            own_transaction = self._unfinished is None
            try:
                if own_transaction:
                    smtp.send(envelope)
                elif not self._finish_with(smtp, envelope):
                    # This message's transaction is open: dropping it sends nothing.
                    self._drop()
                    raise ClaimLost
                own_transaction = True
                replies = [smtp.getreply() for _ in range(3)]
                refused = self._data(smtp, message_bytes, replies, final_dot=False)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
                self._drop()
                if not own_transaction and attempt == 1:
                    continue
                raise TransientError(f"connection: {exc}"[:300], deferral=False) from exc
            except smtplib.SMTPResponseException as exc:
                raise _smtp_error(exc.smtp_code, exc.smtp_error) from exc
            if refused is not None:
                raise _smtp_error(*refused)
            self._unfinished = (tag, record, before_handover)
            return

    def _finish_with(self, smtp: smtplib.SMTP, after: bytes) -> bool:
        """Hand the unfinished message over (its final dot, then `after` in the same write),
        read the server's answer to it and record it; what `record` answered (False: stop).
        The claim is checked first (the message before's record settled): if it was lost,
        the connection is dropped and the message never reaches the server (ClaimLost). A
        connection lost once the dot may have gone is recorded as such (the server may have
        kept the message: its retry is flagged) and raised."""
        assert self._unfinished is not None  # called only with a message in flight
        tag, record, before_handover = self._unfinished
        try:
            self._settle(before_handover)
        except BaseException:
            # The claim was lost, or the record before could not be written (the database
            # went): this message must not go. Dropping the connection without its dot
            # leaves it undelivered.
            self._drop()
            raise
        try:
            smtp.send(b".\r\n" + after)
            code, response = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._unfinished = None
            record(
                tag,
                TransientError(f"connection: {exc}"[:300], deferral=False, maybe_delivered=True),
            )
            raise
        self._unfinished = None
        if code != 250:
            return record(tag, _smtp_error(code, response))
        return record(tag, response.decode(errors="replace")[:255])

    def finish(self) -> None:
        """Hand over the message `hand_over` left unfinished, if any, and record its answer
        (not if the claim was lost: then it never reaches the server)."""
        if self._unfinished is None:
            return
        connection = self.backend.connection
        assert connection is not None  # the unfinished message's connection, not yet dropped
        try:
            self._finish_with(connection, b"")
        except ClaimLost:
            pass
        except (smtplib.SMTPServerDisconnected, OSError):
            self._drop()

    def _settle(self, before_handover) -> None:
        if before_handover is not None and not before_handover():
            self._drop()  # a transaction may be open (DATA even): dropping it sends nothing
            raise ClaimLost

    def _data(
        self, smtp: smtplib.SMTP, raw: bytes, replies: list, *, final_dot: bool = True
    ) -> tuple[int, bytes] | None:
        """Send the message after MAIL/RCPT/DATA's `replies` and return the server's answer
        (without `final_dot`: all but the final dot, and None), or abandon the transaction at
        the first refusal (and return it)."""
        accepted = [250, 250, 354]
        failed = next(
            (
                reply
                for reply, ok in zip(replies, accepted, strict=False)
                if reply[0] not in (ok, 251)
            ),
            None,
        )
        if failed is not None or len(replies) < 3:
            if len(replies) == 3 and replies[2][0] == 354:
                smtp.send(b".\r\n")  # a server that took DATA anyway: end the empty message
                smtp.getreply()
            smtp.rset()
            assert failed is not None  # fewer than three replies: the last was a refusal
            return failed
        # Dot-stuffing (RFC 5321 4.5.2). campaigns.mime writes CRLF line ends only (MimeBytes
        # says so, and whether any line starts with a dot, from what it built); other bytes
        # are checked here: should a bare CR or LF get through anyway, it becomes a CRLF
        # first: some relays end DATA at "\r.\r\n" or "\n.\n", and a merge value must never
        # end the message and start another (SMTP smuggling). The three counts cost ~70 µs on
        # a 50 KB message, so bytes known clean skip them.
        known_clean = isinstance(raw, MimeBytes)
        dot_lines = raw.dot_lines if isinstance(raw, MimeBytes) else True
        if not known_clean and not raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n"):
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        body = raw
        if dot_lines:
            body = raw.replace(b"\r\n.", b"\r\n..")
            if body.startswith(b"."):
                body = b"." + body
        if not final_dot:
            smtp.send(body)
            return None
        smtp.send(body + b".\r\n")
        self._handed_over = True
        return smtp.getreply()

    def close(self) -> None:
        # send_batch has finished it; if an error path has not, the message never reaches the
        # server (its final dot did not go): its row is given back unsent.
        self._unfinished = None
        self._drop()


class BackendTransport:
    """Any other Django or django-anymail backend: the message as an EmailMultiAlternatives,
    the ESP's message id from anymail's status."""

    def __init__(self) -> None:
        self.backend = get_connection()
        self.backend.open()

    def send(self, rendered: RenderedMessage, *, before_handover=None) -> str:
        """Hand the message over; the ESP's message id. `before_handover`: as SmtpTransport's."""
        message = _built(lambda: email_message(rendered, connection=self.backend))
        if before_handover is not None and not before_handover():
            raise ClaimLost
        try:
            sent = self.backend.send_messages([message])
        except AnymailRecipientsRefused as exc:
            status = getattr(message, "anymail_status", None)
            raise PermanentError(
                str(exc)[:300],
                text=str(exc)[:2000],
                esp_statuses=frozenset(getattr(status, "status", None) or ()),
            ) from exc
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None) or 0
            if 400 <= status < 500 and status != 429:
                # The ESP refused our request (bad payload, credentials): not a bounce.
                raise PermanentError(str(exc)[:300], refused_by_server=False) from exc
            raise TransientError(str(exc)[:300], deferral=status == 429) from exc
        except (AnymailError, smtplib.SMTPException, OSError) as exc:
            raise TransientError(str(exc)[:300], deferral=False) from exc
        if not sent:
            raise TransientError("the backend did not take the message", deferral=False)
        status = getattr(message, "anymail_status", None)
        return (getattr(status, "message_id", None) or rendered.headers["Message-ID"])[:255]

    def hand_over(self, rendered: RenderedMessage, *, tag, record, before_handover=None) -> None:
        """As SmtpTransport's, always answered at once: `record(tag, message id)`."""
        if not record(tag, self.send(rendered, before_handover=before_handover)):
            raise ClaimLost

    def finish(self) -> None:
        """Nothing is ever left in flight here."""

    def close(self) -> None:
        self.backend.close()


def open_transport() -> SmtpTransport | BackendTransport:
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        return SmtpTransport()
    return BackendTransport()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due_pending(campaign_id: int | OuterRef, now):
    return Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        campaign_id=campaign_id,
        status=DeliveryStatus.PENDING,
    )


def _claim(campaign_id: int, batch: SendBatch, size: int) -> int:
    """Claim up to `size` due pending rows for `batch`, in id order. PostgreSQL: SELECT ... FOR
    UPDATE SKIP LOCKED, so workers never wait for each other or claim the same row. SQLite:
    one UPDATE statement, which holds the database's write lock for its whole run, so two claims
    cannot interleave either."""
    now = timezone.now()
    pending = _due_pending(campaign_id, now).order_by("id")
    claim = {"status": DeliveryStatus.SENDING, "batch": batch, "next_attempt_at": None}
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(
                pending.select_for_update(skip_locked=True).values_list("id", flat=True)[:size]
            )
            return Delivery.objects.filter(id__in=ids).update(**claim) if ids else 0
    return Delivery.objects.filter(
        id__in=pending.values("id")[:size], status=DeliveryStatus.PENDING
    ).update(**claim)


@dataclass
class _Recorder:
    """Writes each outcome as it happens (see the module's docstring).

    On PostgreSQL a message's "sent" is written without waiting for the server: the UPDATE is
    sent (libpq's asynchronous query), and its answer is read just before the next message is
    handed over (`settle`, SmtpTransport's `before_handover`: before its final dot), while this
    worker writes that message and renders the one after. So a delivery is still committed
    before the next
    one is handed over, and a crash still leaves at most one message handed over but not
    recorded; the round trip to the database just no longer stands between two messages.
    Every other query on the connection (Django's or ours) settles first."""

    batch: SendBatch
    table: str = field(init=False)
    claim_lost: bool = field(init=False, default=False)
    _prepared: Cursor | None = field(init=False, default=None)
    _pgconn: PGconn | None = field(init=False, default=None)
    _sent_statement: bytes = field(init=False, default=b"")
    _pending: int | None = field(init=False, default=None)
    # A "sent" whose answer was an error (or never came): nothing more may be handed over.
    _failed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.table = connection.ops.quote_name(Delivery._meta.db_table)
        if connection.vendor == "postgresql":
            import psycopg

            # A server-side prepared statement: Django's cursor binds on the client and
            # re-parses the UPDATE for every message.
            connection.ensure_connection()
            self._prepared = psycopg.Cursor(connection.connection)
            self._sent_statement = f"consentmail_sent_{id(self):x}".encode()
            # Only our own statement name and the model's table name are interpolated; values
            # are parameters.
            prepare = (
                f"PREPARE {self._sent_statement.decode()} (text, timestamptz, text, bigint, "  # noqa: S608
                f"bigint, text) AS UPDATE {self.table} SET status = $1, sent_at = $2, "
                "provider_message_id = $3, attempts = attempts + 1, error = '' "
                "WHERE id = $4 AND batch_id = $5 AND status = $6"
            )
            self._prepared.execute(prepare)
            self._pgconn = connection.connection.pgconn

    def settle(self) -> bool:
        """Wait for the last "sent" to be committed; False when the batch lost its claim (the
        sweeper took it back: this worker was thought dead), and from then on."""
        if self._failed:
            # The last "sent" may not be committed: saying True here would let another message
            # go with it unrecorded (two possible duplicates in one batch, one flagged).
            return False
        if self._pending is None:
            return not self.claim_lost
        from psycopg import OperationalError, pq

        pgconn, self._pending = self._pgconn, None
        assert pgconn is not None  # a "sent" is pending on PostgreSQL's connection alone
        self._failed = True  # until the answer is read and says the row was written
        while pgconn.flush():  # the rest of the query, should the socket have been full
            select.select([], [pgconn.socket], [])
        pgconn.consume_input()
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])  # waits without holding the GIL
            pgconn.consume_input()
        updated = 0
        error = None
        while (result := pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.COMMAND_OK:
                updated += result.command_tuples or 0
            else:
                error = (result.error_message or b"").decode(errors="replace")
        if error is not None:
            raise OperationalError(f"recording a sent delivery failed: {error}")
        self._failed = False
        if updated != 1:
            self.claim_lost = True
        return not self.claim_lost

    def settle_before_query(self, execute, sql, params, many, context):
        """A Django execute wrapper: no query goes while a "sent" is unanswered."""
        self.settle()
        return execute(sql, params, many, context)

    def _update(self, delivery_id: int, assignments: str, params: list) -> bool:
        self.settle()
        # Only the model's own table name is interpolated; values are parameters.
        sql = (
            f"UPDATE {self.table} SET {assignments} "  # noqa: S608
            "WHERE id = %s AND batch_id = %s AND status = %s"
        )
        params = [*params, delivery_id, self.batch.pk, DeliveryStatus.SENDING]
        if self._prepared is not None:
            self._prepared.execute(sql, params, prepare=True)
            return self._prepared.rowcount == 1
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount == 1

    def close(self) -> None:
        self.settle()
        if self._prepared is not None:
            self._prepared.execute(f"DEALLOCATE {self._sent_statement.decode()}")
            self._prepared.close()

    def sent(self, delivery_id: int, provider_message_id: str) -> bool:
        """Record the delivery sent; on PostgreSQL the answer comes at `settle` (True now)."""
        self.batch.sent += 1
        if self._pgconn is None:
            return self._update(
                delivery_id,
                "status = %s, sent_at = %s, provider_message_id = %s, "
                "attempts = attempts + 1, error = ''",
                [DeliveryStatus.SENT, timezone.now(), provider_message_id],
            )
        self.settle()
        params = [
            DeliveryStatus.SENT.encode(),
            timezone.now().isoformat().encode(),
            provider_message_id.encode(),
            str(delivery_id).encode(),
            str(self.batch.pk).encode(),
            DeliveryStatus.SENDING.encode(),
        ]
        try:
            self._pgconn.send_query_prepared(self._sent_statement, params)
        except BaseException:
            self._failed = True
            raise
        self._pending = delivery_id
        return True

    def failed(
        self,
        delivery_id: int,
        error: str,
        *,
        attempted: bool = True,
        bounce: BounceClass | None = None,
    ) -> bool:
        """Mark the delivery failed; a refusal read as a bounce also sets its first-seen
        hard_bounced_at, soft_bounced_at or blocked_at (now), in the same UPDATE."""
        self.batch.failed += 1
        field_name = BOUNCE_FIELDS.get(bounce) if bounce is not None else None
        # Only the model's own field names are interpolated; values are parameters.
        bounced = f", {field_name} = COALESCE({field_name}, %s)" if field_name else ""
        return self._update(
            delivery_id,
            "status = %s, error = %s"
            + (", attempts = attempts + 1" if attempted else "")
            + bounced,
            [DeliveryStatus.FAILED, error[:300], *([timezone.now()] if field_name else [])],
        )

    def skipped(self, delivery_id: int, reason: str) -> bool:
        return self._update(
            delivery_id, "status = %s, error = %s", [DeliveryStatus.SKIPPED, reason[:300]]
        )

    def later(
        self,
        delivery_id: int,
        *,
        at,
        error: str = "",
        attempted: bool,
        maybe_delivered: bool = False,
    ) -> bool:
        self.batch.deferred += 1
        return self._update(
            delivery_id,
            "status = %s, next_attempt_at = %s, batch_id = NULL, error = %s"
            + (", attempts = attempts + 1" if attempted else "")
            + (", possibly_duplicated = %s" if maybe_delivered else ""),
            [DeliveryStatus.PENDING, at, error[:300], *([True] if maybe_delivered else [])],
        )


def _relax_commit_durability() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def _restore_commit_durability() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _release_claim(batch: SendBatch) -> None:
    """Give the batch's unsent rows back (the campaign stopped, or the worker is stopping);
    a campaign stopped for good skips them."""
    Delivery.objects.filter(batch=batch, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, batch=None
    )
    campaign = Campaign.objects.only("status").get(pk=batch.campaign_id)
    if campaign.status in STOPPED:
        sending.skip_unsent(campaign, reason=campaign.status)


def retry_delay(attempts: int) -> timedelta:
    """Back off after a deferral: SEND_RETRY_SECONDS, doubled for each earlier attempt, at most
    a few hours."""
    return timedelta(seconds=min(settings.SEND_RETRY_SECONDS * 2 ** max(0, attempts - 1), 4 * 3600))


def send_batch(*, campaign_id: int, transport, worker: str = "", size: int | None = None) -> int:
    """Claim and send one batch of the campaign's due deliveries through `transport`. Returns
    how many rows were claimed (0: nothing left to do now, or the campaign may not send)."""
    campaign = (
        Campaign.objects.select_related("account", "approved_version")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None or not _may_send(campaign):
        return 0
    if not campaign.account.can_send:
        if welcome.is_welcome(campaign):
            # A frozen account's welcomes are not sent, later either (a welcome is now or never).
            welcome.welcome_skip_pending(campaign_id=campaign_id, reason=welcome.SKIPPED_FROZEN)
            return 0
        sending.campaign_pause(
            campaign_id=campaign_id, reason=coded("campaigns.status.account_may_not_send")
        )
        return 0
    batch = SendBatch.objects.create(campaign=campaign, worker=worker or worker_name())
    claimed = _claim(campaign_id, batch, size or settings.SEND_BATCH_SIZE)
    if not claimed:
        batch.delete()
        return 0
    batch.claimed = claimed
    rows = list(
        Delivery.objects.filter(batch=batch, status=DeliveryStatus.SENDING)
        .order_by("id")
        .values_list("id", "subscriber_id", "provider", "attempts", "email", "merge_data")
    )
    recipients = _recipients_as_approved(campaign, rows)
    suppressed = selectors.suppressed_addresses(
        account_id=campaign.account_id,
        emails=[recipient.email.lower() for recipient in recipients.values()],
    )
    compiled = selectors.approved_compiled(campaign)
    throttle = SendThrottle(account_id=campaign.account_id)
    recorder = _Recorder(batch)
    heartbeat_every = settings.SEND_LEASE_SECONDS * HEARTBEAT_SHARE
    next_heartbeat = time.monotonic() + heartbeat_every

    def outcome(item: tuple, result: str | PermanentError | TransientError) -> bool:
        """Record what became of a message handed over (its provider message id, or the
        error); False when nothing more may be sent from this batch."""
        delivery_id, subscriber_id, provider, attempts, email = item
        if isinstance(result, PermanentError):
            verdict = result.verdict()
            bounce = verdict.kind if verdict is not None else None
            if recorder.failed(delivery_id, str(result), bounce=bounce) and verdict:
                refusal_apply(subscriber_id=subscriber_id, email=email, verdict=verdict)
        elif isinstance(result, TransientError):
            if result.deferral:
                throttle.deferred(provider)
            if attempts + 1 >= settings.SEND_MAX_ATTEMPTS:
                recorder.failed(delivery_id, f"gave up after {attempts + 1} attempts: {result}")
            else:
                recorder.later(
                    delivery_id,
                    at=timezone.now() + retry_delay(attempts + 1),
                    error=str(result),
                    attempted=True,
                    maybe_delivered=result.maybe_delivered,
                )
        # False (at once, or at the next settle): the sweeper took this batch back (this
        # worker was thought dead): stop, so at most this one message goes twice.
        elif not recorder.sent(delivery_id, result):
            return False
        else:
            throttle.accepted(provider)
        return not recorder.claim_lost

    _relax_commit_durability()
    settles_first = connection.execute_wrapper(recorder.settle_before_query)
    settles_first.__enter__()
    try:
        for delivery_id, subscriber_id, provider, attempts, _, _ in rows:
            if recorder.claim_lost:
                break
            if time.monotonic() >= next_heartbeat:
                if not _heartbeat(batch):
                    break
                next_heartbeat = time.monotonic() + heartbeat_every
            recipient = recipients.get(subscriber_id)
            if recipient is None:
                recorder.skipped(delivery_id, "no longer subscribed")
                continue
            suppressed_for = suppressed.get(recipient.email.lower())
            if suppressed_for is not None:
                recorder.skipped(delivery_id, SKIP_REASONS.get(suppressed_for, "suppressed"))
                continue
            if not throttle.take_provider(provider):
                recorder.later(
                    delivery_id, at=timezone.now() + timedelta(seconds=1), attempted=False
                )
                continue
            throttle.take_global()
            rendered = compiled.render(recipient)
            item = (delivery_id, subscriber_id, provider, attempts, recipient.email)
            try:
                # The previous message's record is committed before this one goes; with a
                # pipelining server its outcome is only known then (SmtpTransport.hand_over).
                _hand_over(transport, rendered, item, outcome, recorder.settle)
            except ClaimLost:
                break
            except (PermanentError, TransientError) as exc:
                outcome(item, exc)
    finally:
        try:
            try:
                # The last message's answer, if it is still in flight: recorded now.
                _finish(transport)
            finally:
                recorder.close()
        finally:
            settles_first.__exit__(None, None, None)
        if recorder.claim_lost:
            logger.warning("batch %s lost its claim; stopped", batch.pk)
        _restore_commit_durability()
        _release_claim(batch)
        batch.status = SendBatch.Status.DONE
        batch.finished_at = timezone.now()
        batch.heartbeat_at = batch.finished_at
        batch.save(
            update_fields=[
                "status",
                "finished_at",
                "heartbeat_at",
                "sent",
                "failed",
                "deferred",
                "claimed",
            ]
        )
    return claimed


def _hand_over(transport, rendered: RenderedMessage, item: tuple, record, settle) -> None:
    """`transport.hand_over`, or for a transport with `send` only (a test's), that and the
    outcome recorded at once."""
    hand_over = getattr(transport, "hand_over", None)
    if hand_over is not None:
        hand_over(rendered, tag=item, record=record, before_handover=settle)
    elif not record(item, transport.send(rendered, before_handover=settle)):
        raise ClaimLost


def _finish(transport) -> None:
    finish = getattr(transport, "finish", None)
    if finish is not None:
        finish()


def _recipients_as_approved(campaign: Campaign, rows: list[tuple]) -> dict[int, Recipient]:
    """{subscriber id: recipient} for the rows whose subscriber is still subscribed, each with
    the address and merge data fixed at approval and the list's name as the version has it:
    nothing edited after approval reaches the message. (Rows fixed before versions existed
    have no snapshot and keep the subscriber's own.)"""
    snapshots = {row[1]: (row[4], row[5]) for row in rows}
    list_names = version_list_names(approved_version(campaign))
    # A consent request goes to candidates who have not answered yet (campaigns.consent_requests).
    status = (
        SubscriberStatus.UNCONFIRMED
        if consent_requests.is_consent_request(campaign)
        else SubscriberStatus.SUBSCRIBED
    )
    out = {}
    for recipient in selectors.recipients_of(
        Subscriber.objects.filter(pk__in=list(snapshots), status=status)
    ):
        email, data = snapshots[recipient.subscriber_id]
        changes = {}
        if email:
            changes = {
                "email": email,
                "name": data.get("name", ""),
                "phone": data.get("phone", ""),
                "attributes": data.get("attributes", {}),
            }
        if recipient.list_id in list_names:
            changes["list_name"] = list_names[recipient.list_id]
        out[recipient.subscriber_id] = replace(recipient, **changes) if changes else recipient
    return out


def _may_send(campaign: Campaign) -> bool:
    """Whether workers hand this campaign's due messages over now: a campaign's probe or
    release, or an approved welcome (campaigns.welcome: never staged)."""
    return campaign.status in SENDING_STATUSES or welcome.is_live(campaign)


def _heartbeat(batch: SendBatch) -> bool:
    """Tell the sweeper this batch is alive; False when it should stop (the campaign was
    stopped or paused, its account may no longer send, or the sweeper took the batch back)."""
    alive = SendBatch.objects.filter(pk=batch.pk, status=SendBatch.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )
    campaign = Campaign.objects.select_related("account").get(pk=batch.campaign_id)
    if not alive or not _may_send(campaign):
        return False
    if not campaign.account.can_send:
        if welcome.is_welcome(campaign):
            return False  # the next batch skips what is left
        sending.campaign_pause(
            campaign_id=campaign.pk, reason=coded("campaigns.status.account_may_not_send")
        )
        return False
    return True


def drain(*, campaign_id: int, seconds: float | None = None) -> tuple[int, bool]:
    """Send batch after batch for up to `seconds`; returns (rows claimed, whether due rows are
    left for another task) and moves the campaign on when its phase is done."""
    deadline = time.monotonic() + (seconds if seconds is not None else settings.SEND_TASK_SECONDS)
    transport = open_transport()
    worker = worker_name()
    total = 0
    try:
        while time.monotonic() < deadline:
            claimed = send_batch(campaign_id=campaign_id, transport=transport, worker=worker)
            if not claimed:
                break
            total += claimed
    finally:
        transport.close()
    phase_advance(campaign_id=campaign_id)
    more = (
        Campaign.objects.filter(pk=campaign_id, status__in=SENDING_STATUSES).exists()
        and _due_pending(campaign_id, timezone.now()).exists()
    )
    return total, more


def phase_advance(*, campaign_id: int) -> str:
    """When no delivery of the current phase waits or is in flight: the probe is done (hold)
    or the release is (sent). Returns the campaign's status."""
    campaign = Campaign.objects.filter(pk=campaign_id).only("status").first()
    if campaign is None:
        return ""
    if campaign.status not in SENDING_STATUSES:
        return campaign.status
    unfinished = Delivery.objects.filter(
        campaign_id=campaign_id, status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    ).exists()
    if unfinished:
        return campaign.status
    if campaign.status == CampaignStatus.PROBING:
        return sending.campaign_begin_hold(campaign_id=campaign_id).status
    return sending.campaign_finish(campaign_id=campaign_id).status


def dispatch(*, campaign_id: int) -> int:
    """Queue send tasks for a campaign: one per batch of due rows, at most
    SEND_TASKS_PER_CAMPAIGN (each drains batch after batch). Returns how many."""
    due = _due_pending(campaign_id, timezone.now()).count()
    count = min(settings.SEND_TASKS_PER_CAMPAIGN, math.ceil(due / settings.SEND_BATCH_SIZE))
    Campaign.objects.filter(pk=campaign_id).update(dispatched_at=timezone.now())
    if not count:
        # Nothing due (an empty probe, or only retries for later): move on if the phase is done.
        phase_advance(campaign_id=campaign_id)
    for _ in range(count):
        tasks.send_campaign.delay(campaign_id)
    return count


@dataclass
class SweepReport:
    dead_batches: int = 0
    in_flight_at_death: int = 0
    requeued_rows: int = 0
    dispatched: list[int] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)


def sweep(*, now=None) -> SweepReport:
    """Beat, every few seconds: give dead batches' rows back (counting the message each had in
    flight), queue tasks for campaigns with due rows and no live worker, move on campaigns whose
    phase is done, and resume paused campaigns whose account may send again."""
    now = now or timezone.now()
    report = SweepReport()
    lease = timedelta(seconds=settings.SEND_LEASE_SECONDS)
    for batch in SendBatch.objects.filter(
        status=SendBatch.Status.RUNNING, heartbeat_at__lt=now - lease
    ):
        with transaction.atomic():
            if not SendBatch.objects.filter(pk=batch.pk, status=SendBatch.Status.RUNNING).update(
                status=SendBatch.Status.DEAD, finished_at=now
            ):
                continue
            unsent = Delivery.objects.filter(batch=batch, status=DeliveryStatus.SENDING)
            first = unsent.order_by("id").first()
            if first is not None:
                # Rows are sent in id order and recorded one by one: only the first unsent one
                # can have been with the server when the worker died.
                Delivery.objects.filter(pk=first.pk).update(possibly_duplicated=True)
                SendBatch.objects.filter(pk=batch.pk).update(in_flight_at_death=1)
                report.in_flight_at_death += 1
            report.requeued_rows += unsent.update(status=DeliveryStatus.PENDING, batch=None)
            report.dead_batches += 1
            logger.warning(
                "send batch %s of campaign %s died (worker %s); rows given back",
                batch.pk,
                batch.campaign_id,
                batch.worker,
            )
    live_campaigns = set(
        SendBatch.objects.filter(
            status=SendBatch.Status.RUNNING, heartbeat_at__gte=now - lease
        ).values_list("campaign_id", flat=True)
    )
    for campaign in Campaign.objects.filter(status__in=SENDING_STATUSES):
        if campaign.pk in live_campaigns:
            continue
        if phase_advance(campaign_id=campaign.pk) != campaign.status:
            report.advanced.append(campaign.pk)
            continue
        recently_dispatched = campaign.dispatched_at and campaign.dispatched_at > now - lease
        if not recently_dispatched and _due_pending(campaign.pk, now).exists():
            dispatch(campaign_id=campaign.pk)
            report.dispatched.append(campaign.pk)
    # Welcomes with due messages and no live worker (a lost task, a deferral's retry), found in
    # one query: every approved welcome stays approved, so their number only grows.
    due_welcomes = (
        Campaign.objects.filter(kind=CampaignKind.WELCOME, status=CampaignStatus.APPROVED)
        .exclude(pk__in=live_campaigns)
        .exclude(dispatched_at__gt=now - lease)
        .filter(Exists(_due_pending(OuterRef("pk"), now)))
        .values_list("pk", flat=True)
    )
    for campaign_id in due_welcomes:
        Campaign.objects.filter(pk=campaign_id).update(dispatched_at=now)
        tasks.send_welcome.delay(campaign_id)
        report.dispatched.append(campaign_id)
    # An approved campaign whose probe task was lost (or failed) gets it queued again (a
    # welcome has no probe; one waiting for its scheduled time is not lost: beat's
    # start_due_campaigns starts it).
    for campaign_id in (
        Campaign.objects.filter(
            Q(scheduled_at=None) | Q(scheduled_at__lte=now),
            status=CampaignStatus.APPROVED,
            approved_at__lt=now - lease,
        )
        .exclude(kind=CampaignKind.WELCOME)
        .values_list("pk", flat=True)
    ):
        tasks.start_probe.delay(campaign_id)
        report.dispatched.append(campaign_id)
    for account_id in (
        Campaign.objects.filter(status=CampaignStatus.PAUSED)
        .values_list("account_id", flat=True)
        .distinct()
    ):
        report.resumed += sending.campaigns_resume_for_account(account_id=account_id)
    return report
