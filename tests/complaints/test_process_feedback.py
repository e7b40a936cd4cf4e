"""`manage.py process_feedback` and the read_feedback_mailbox task: real-format bounces,
complaints and mailto: unsubscribes in an mbox, a Maildir and an IMAP folder, applied once."""

import email
import re
import socketserver
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns import delivery as delivery_worker
from campaigns import sending
from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints import mailboxes
from complaints.mailboxes import plaintext_login_allowed
from complaints.models import FeedbackEvent
from complaints.tasks import read_feedback_mailbox
from lists.models import PlatformSuppression, Subscriber, Suppression
from lists.services.suppression import platform_address_hash, suppression_reason
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.complaints.data import forged_ref, render, write_maildir, write_mbox
from tests.dns_server import free_port
from tests.lists.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

# Who gets which report (ann is the conftest subscriber).
REPORTS = {
    "ann": "dsn_postfix_hard",
    "bob": "dsn_postfix_delayed",
    "cat": "dsn_multi_recipient",
    "dan": "arf_yahoo",
    "eve": "arf_microsoft",
    "fay": "bounce_plain",
    "gus": "unsubscribe_mailto",
    "hal": "jmrp_legacy",
    "ivy": "dsn_forged",
}
SUMMARY = [
    "Read 11 message(s) from {mailbox} {path}.",
    "  applied: 10",
    "  duplicates: 0",
    "  unmatched: 1",
    "  test: 0",
    "  ignored: 1",
    "  unparsed: 1",
    "  by kind: complained 3, delivered 1, hard_bounce 3, soft_bounce 2, unsubscribed 1",
]


class Recipient:
    def __init__(self, subscriber, delivery):
        self.subscriber = subscriber
        self.delivery = delivery
        self.tokens = MessageTokens(campaign_id=delivery.campaign_id, subscriber_id=subscriber.pk)

    def report(self, name, **changes):
        return render(name, tokens=self.tokens, recipient=self.subscriber.email, **changes)

    def refresh(self):
        self.subscriber.refresh_from_db()
        self.delivery.refresh_from_db()
        return self


def sent_to(subscriber, campaign):
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        is_probe=True,
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def people(subscriber, delivery, mailing_list, campaign):
    """Nine recipients of one sent campaign, each about to be reported on."""
    people = {"ann": Recipient(subscriber, delivery)}
    for name in list(REPORTS)[1:]:
        other = SubscriberFactory(mailing_list=mailing_list, email=f"{name}@example.net")
        people[name] = Recipient(other, sent_to(other, campaign))
    return people


@pytest.fixture
def reports(people):
    """Every kind of report, a forged one, a malformed one and an auto-reply."""
    messages = [
        people[name].report(
            report, **({"ref": forged_ref(people[name].tokens)} if name == "ivy" else {})
        )
        for name, report in REPORTS.items()
    ]
    messages.append(people["ann"].report("malformed"))
    messages.append(people["ann"].report("auto_reply"))
    return messages


def run(*args, **options):
    out = StringIO()
    call_command("process_feedback", *args, stdout=out, **options)
    return out.getvalue().splitlines()


def state():
    """Everything a report can change, to compare before and after."""
    return (
        list(Delivery.objects.order_by("pk").values()),
        list(Subscriber.objects.order_by("pk").values_list("pk", "status")),
        list(Suppression.objects.order_by("pk").values_list("account_id", "email", "reason")),
        list(PlatformSuppression.objects.order_by("pk").values_list("email_hash", "source")),
        list(FeedbackEvent.objects.order_by("pk").values_list("pk", "outcome")),
    )


def assert_everything_applied(people, account):
    ann, bob, cat, dan, eve, fay, gus, hal, ivy = (person.refresh() for person in people.values())
    # Hard bounces: the delivery, the subscription, this account and every account.
    for person in (ann, cat, fay):
        assert person.delivery.hard_bounced_at is not None
        assert person.subscriber.status == "bounced"
        assert suppression_reason(account=account, email=person.subscriber.email) == "hard_bounce"
    assert set(PlatformSuppression.objects.values_list("email_hash", flat=True)) == {
        platform_address_hash(p.subscriber.email) for p in (ann, cat, fay)
    }
    assert set(PlatformSuppression.objects.values_list("source", flat=True)) == {"dsn"}
    # The multi-recipient DSN: a hard bounce, a delay and a relay, all about cat's message.
    assert cat.delivery.soft_bounced_at is not None
    assert cat.delivery.delivered_at is not None
    # A delay only marks the delivery.
    assert bob.delivery.soft_bounced_at is not None
    assert (bob.delivery.hard_bounced_at, bob.subscriber.status) == (None, "subscribed")
    assert suppression_reason(account=account, email=bob.subscriber.email) is None
    # Complaints: per account only.
    for person in (dan, eve, hal):
        assert person.delivery.complained_at is not None
        assert person.subscriber.status == "complained"
        assert suppression_reason(account=account, email=person.subscriber.email) == "complained"
    assert gus.delivery.unsubscribed_at is not None
    assert gus.subscriber.status == "unsubscribed"
    assert suppression_reason(account=account, email=gus.subscriber.email) == "unsubscribed"
    # The forgery changed nothing.
    assert (ivy.subscriber.status, ivy.delivery.hard_bounced_at) == ("subscribed", None)
    assert suppression_reason(account=account, email=ivy.subscriber.email) is None

    events = {
        (e.source, e.kind, e.outcome, e.delivery_id, e.recipient, e.code)
        for e in FeedbackEvent.objects.all()
    }
    assert events == {
        ("dsn", "hard_bounce", "applied", ann.delivery.pk, ann.subscriber.email, "5.1.1"),
        ("dsn", "soft_bounce", "applied", bob.delivery.pk, bob.subscriber.email, "4.2.2"),
        ("dsn", "hard_bounce", "applied", cat.delivery.pk, cat.subscriber.email, "5.2.1"),
        # The alias the relay forwarded to is not cat's address: cat's is recorded.
        ("dsn", "soft_bounce", "applied", cat.delivery.pk, cat.subscriber.email, "4.4.1"),
        ("dsn", "delivered", "applied", cat.delivery.pk, cat.subscriber.email, "2.0.0"),
        ("arf", "complained", "applied", dan.delivery.pk, dan.subscriber.email, "abuse"),
        # Outlook.com redacts the complainant: the message's own address is recorded.
        ("arf", "complained", "applied", eve.delivery.pk, eve.subscriber.email, "abuse"),
        ("dsn", "hard_bounce", "applied", fay.delivery.pk, fay.subscriber.email, "5.1.1"),
        ("one_click", "unsubscribed", "applied", gus.delivery.pk, gus.subscriber.email, ""),
        ("arf", "complained", "applied", hal.delivery.pk, hal.subscriber.email, "abuse"),
        ("dsn", "hard_bounce", "unmatched", None, ivy.subscriber.email, "5.1.1"),
    }
    redacted = FeedbackEvent.objects.get(delivery=eve.delivery)
    assert "reported recipient redacted@outlook.com" in redacted.detail


def test_an_mbox_of_reports_is_applied_once(tmp_path, reports, people, account):
    path = write_mbox(tmp_path / "feedback.mbox", reports)
    before = path.read_bytes()

    first = run(str(path), verbosity=2)

    assert first[-8:] == [line.format(mailbox="mbox", path=path) for line in SUMMARY]
    ann = people["ann"]
    assert first[0] == (
        f"applied: hard_bounce via dsn, campaign {ann.delivery.campaign_id} subscriber "
        f"{ann.subscriber.pk}, recipient ann.lee@example.org, code 5.1.1, event "
        "<20240514091207.4TQ2m51XyzZ1@mx1.consentmail.example>:ann.lee@example.org"
    )
    assert len(first) == 8 + 11
    assert_everything_applied(people, account)
    assert path.read_bytes() == before  # an mbox is never changed
    after_first = state()

    second = run(str(path))

    assert second[1:4] == ["  applied: 0", "  duplicates: 11", "  unmatched: 0"]
    assert second[-1] == "  by kind: none"
    assert state() == after_first


def test_a_maildir_is_applied_and_its_messages_marked_seen(tmp_path, reports, people, account):
    path = write_maildir(tmp_path / "Maildir", reports)
    # Already read by someone: left alone. Unread in cur/: read.
    seen = people["bob"].report("dsn_postfix_hard")
    (path / "cur" / "1715000000.M1P1.host:2,S").write_bytes(seen)

    first = run(str(path))

    assert first == [line.format(mailbox="maildir", path=path) for line in SUMMARY]
    assert_everything_applied(people, account)
    assert list((path / "new").iterdir()) == []
    names = sorted(p.name for p in (path / "cur").iterdir())
    assert len(names) == 12 and all(name.endswith(":2,S") for name in names)
    after_first = state()

    second = run(str(path))

    assert second[0] == f"Read 0 message(s) from maildir {path}."
    assert state() == after_first


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_reports_applied_in_small_batches_give_the_same_result(
    tmp_path, reports, people, account, monkeypatch, batch_size
):
    # A DSN names up to three reports: batches end between messages, never inside one.
    monkeypatch.setattr("complaints.mailboxes.FEEDBACK_BATCH_SIZE", batch_size)
    path = write_maildir(tmp_path / "Maildir", reports)

    first = run(str(path))

    assert first == [line.format(mailbox="maildir", path=path) for line in SUMMARY]
    assert_everything_applied(people, account)
    assert list((path / "new").iterdir()) == []
    assert len(list((path / "cur").iterdir())) == 11


def test_an_unread_message_in_cur_keeps_its_flags_and_gains_seen(tmp_path, people):
    path = write_maildir(tmp_path / "Maildir", [])
    (path / "cur" / "1715000001.M2P2.host:2,F").write_bytes(people["ann"].report("arf_yahoo"))

    lines = run(str(path))

    assert lines[1] == "  applied: 1"
    assert [p.name for p in (path / "cur").iterdir()] == ["1715000001.M2P2.host:2,FS"]


def test_a_dry_run_changes_nothing(tmp_path, reports, people):
    path = write_maildir(tmp_path / "Maildir", reports)
    before = state()

    lines = run(str(path), dry_run=True)

    assert state() == before
    assert len(list((path / "new").iterdir())) == 11
    ann = people["ann"]
    assert (
        "would apply: hard_bounce via dsn, "
        f"campaign {ann.delivery.campaign_id} subscriber {ann.subscriber.pk}, "
        "recipient ann.lee@example.org, code 5.1.1, "
        "event <20240514091207.4TQ2m51XyzZ1@mx1.consentmail.example>:ann.lee@example.org"
    ) in lines
    assert (
        sum(line.startswith("would record as unmatched: hard_bounce via dsn") for line in lines)
        == 1
    )
    assert "Dry run: nothing was applied and no message was marked read." in lines
    assert "  would apply: 10" in lines and "  unparsed: 1" in lines


def test_a_dry_run_after_a_run_sees_duplicates(tmp_path, people):
    path = write_mbox(tmp_path / "feedback.mbox", [people["ann"].report("dsn_postfix_hard")])
    run(str(path))

    lines = run(str(path), dry_run=True)

    assert lines[0].startswith("already applied: hard_bounce via dsn")
    assert "  would apply: 0" in lines and "  duplicates: 1" in lines


def test_a_single_message_file_is_read(tmp_path, people):
    path = tmp_path / "bounce.eml"
    path.write_bytes(people["fay"].report("bounce_plain"))

    lines = run(str(path))

    assert lines[0] == f"Read 1 message(s) from mbox {path}."
    assert people["fay"].refresh().delivery.hard_bounced_at is not None


def test_a_message_over_the_size_limit_is_unparsed_and_the_run_goes_on(tmp_path, people, settings):
    small = people["dan"].report("arf_yahoo")
    large = people["ann"].report("dsn_postfix_hard") + b"x" * 5000
    settings.FEEDBACK_MAX_MESSAGE_BYTES = len(small) + 100
    mbox = write_mbox(tmp_path / "feedback.mbox", [large, small])
    maildir = write_maildir(tmp_path / "Maildir", [large])

    mbox_lines = run(str(mbox))
    maildir_lines = run(str(maildir))

    assert mbox_lines[:2] == [f"Read 2 message(s) from mbox {mbox}.", "  applied: 1"]
    assert "  unparsed: 1" in mbox_lines and "  unparsed: 1" in maildir_lines
    assert people["ann"].refresh().delivery.hard_bounced_at is None
    assert people["dan"].refresh().delivery.complained_at is not None
    # Marked read all the same: it would be refused again on every run.
    assert [p.name.endswith(":2,S") for p in (maildir / "cur").iterdir()] == [True]


def test_a_test_message_s_report_is_recorded_and_changes_nothing(tmp_path, people):
    ann = people["ann"]
    test_tokens = MessageTokens(
        campaign_id=ann.delivery.campaign_id, subscriber_id=ann.subscriber.pk, is_test=True
    )
    raw = render("dsn_postfix_hard", tokens=test_tokens, recipient="owner@acme.example")
    path = write_mbox(tmp_path / "feedback.mbox", [raw])
    before = state()[:4]

    lines = run(str(path))

    assert "  test: 1" in lines and "  applied: 0" in lines
    assert state()[:4] == before
    event = FeedbackEvent.objects.get()
    assert (event.outcome, event.recipient) == ("test", "owner@acme.example")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.mbox", "No mailbox at"),
        (lambda tmp: tmp, "is a directory but not a Maildir"),
    ],
)
def test_a_path_that_is_no_mailbox_is_a_clear_error(tmp_path, make, message):
    with pytest.raises(CommandError, match=message):
        run(str(make(tmp_path)))


def test_without_a_path_the_command_reads_the_configured_mailbox(tmp_path, people, settings):
    settings.FEEDBACK_MAILBOX = ""
    with pytest.raises(CommandError, match="Give a mailbox PATH"):
        run()
    settings.FEEDBACK_MAILBOX = str(
        write_maildir(tmp_path / "Maildir", [people["gus"].report("unsubscribe_mailto")])
    )

    assert run()[1] == "  applied: 1"


def test_the_task_reads_the_configured_mailbox_once(tmp_path, reports, people, settings):
    settings.FEEDBACK_MAILBOX = ""
    assert read_feedback_mailbox.delay().get() == {}

    settings.FEEDBACK_MAILBOX = str(write_maildir(tmp_path / "Maildir", reports))
    first = read_feedback_mailbox.delay().get()
    second = read_feedback_mailbox.delay().get()

    assert first == {
        "mailbox": "maildir",
        "dry_run": False,
        "read": 11,
        "applied": 10,
        "duplicates": 0,
        "unmatched": 1,
        "test": 0,
        "ignored": 1,
        "unparsed": 1,
        "by_kind": {
            "complained": 3,
            "delivered": 1,
            "hard_bounce": 3,
            "soft_bounce": 2,
            "unsubscribed": 1,
        },
    }
    assert second["read"] == 0 and second["applied"] == 0
    assert FeedbackEvent.objects.count() == 11


def test_the_task_reads_at_most_a_batch(tmp_path, reports, settings):
    settings.FEEDBACK_MAILBOX = str(write_maildir(tmp_path / "Maildir", reports))
    settings.FEEDBACK_MAILBOX_BATCH = 4

    assert [read_feedback_mailbox()["read"] for _ in range(4)] == [4, 4, 3, 0]


def test_the_task_reports_a_missing_mailbox_without_failing(tmp_path, settings):
    settings.FEEDBACK_MAILBOX = str(tmp_path / "nowhere")

    assert read_feedback_mailbox() == {
        "error": f"No mailbox at {tmp_path / 'nowhere'}: give an mbox file, a Maildir "
        "directory or an imaps://user:password@host/FOLDER URL."
    }


# --- IMAP, against a small in-process IMAP4rev1 server on 127.0.0.1 ----------------------------


class FakeImap:
    """The handful of IMAP4rev1 commands the reader uses, over one folder of messages."""

    def __init__(self, messages: list[bytes], *, seen: tuple[int, ...] = (), hang_up_on: int = 0):
        self.hang_up_on = hang_up_on
        self.messages = {uid: raw for uid, raw in enumerate(messages, start=1)}
        self.flags = {uid: ({"\\Seen"} if uid in seen else set()) for uid in self.messages}
        self.fetched: list[int] = []
        self.logins: list[tuple[str, str]] = []


def _arguments(line: str) -> list[str]:
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', line)]


class _ImapHandler(socketserver.StreamRequestHandler):
    def send(self, line: str | bytes) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def handle(self):
        box: FakeImap = self.server.box
        self.send("* OK fake IMAP4rev1 ready")
        while line := self.rfile.readline().decode().strip():
            tag, command, *args = _arguments(line)
            command = command.upper()
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif command == "LOGIN":
                box.logins.append((args[0], args[1]))
                if (args[0], args[1]) != ("fbl@bounces.example", "s3cret pass"):
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
                    continue
            elif command in ("SELECT", "EXAMINE"):
                self.send(f"* {len(box.messages)} EXISTS")
                self.send("* FLAGS (\\Seen)")
            elif command == "UID" and args[0].upper() == "SEARCH":
                unseen = [str(uid) for uid, flags in box.flags.items() if "\\Seen" not in flags]
                self.send("* SEARCH " + " ".join(unseen))
            elif command == "UID" and args[0].upper() == "FETCH":
                uid = int(args[1])
                if uid == box.hang_up_on:
                    return
                raw = box.messages[uid]
                if "RFC822.SIZE" in args[2]:
                    self.send(f"* {uid} FETCH (UID {uid} RFC822.SIZE {len(raw)})")
                else:
                    box.fetched.append(uid)
                    self.send(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode())
                    self.wfile.write(raw)
                    self.send(")")
            elif command == "UID" and args[0].upper() == "STORE":
                box.flags[int(args[1])].add("\\Seen")
                self.send(f"* {args[1]} FETCH (UID {args[1]} FLAGS (\\Seen))")
            elif command == "LOGOUT":
                self.send("* BYE")
                self.send(f"{tag} OK LOGOUT completed")
                return
            self.send(f"{tag} OK {command} completed")


@pytest.fixture
def imap_server():
    servers = []

    def start(box: FakeImap) -> int:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), _ImapHandler)
        server.daemon_threads = True
        server.box = box
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_imap_folder_is_read_once_and_marked_seen(imap_server, people, account):
    box = FakeImap(
        [
            people["ann"].report("dsn_postfix_hard"),
            people["bob"].report("dsn_postfix_hard"),  # already seen by someone: not read
            people["dan"].report("arf_yahoo"),
        ],
        seen=(2,),
    )
    port = imap_server(box)
    url = f"imap://fbl%40bounces.example:s3cret%20pass@127.0.0.1:{port}/Feedback"

    lines = run(url)

    assert (
        lines[0]
        == f"Read 2 message(s) from imap imap://fbl@bounces.example@127.0.0.1:{port}/Feedback."
    )
    assert lines[1] == "  applied: 2"
    assert all("s3cret" not in line for line in lines)
    assert box.logins == [("fbl@bounces.example", "s3cret pass")]
    assert box.fetched == [1, 3]
    assert all("\\Seen" in flags for flags in box.flags.values())
    assert people["ann"].refresh().subscriber.status == "bounced"
    assert people["bob"].refresh().subscriber.status == "subscribed"
    assert people["dan"].refresh().subscriber.status == "complained"

    assert run(url)[0].startswith("Read 0 message(s)")
    assert box.fetched == [1, 3]


def test_an_imap_dry_run_marks_nothing_seen(imap_server, people):
    box = FakeImap([people["ann"].report("dsn_postfix_hard")])
    port = imap_server(box)

    lines = run(f"imap://fbl%40bounces.example:s3cret%20pass@127.0.0.1:{port}/", dry_run=True)

    assert "  would apply: 1" in lines
    assert box.flags == {1: set()}
    assert not FeedbackEvent.objects.exists()


def test_a_lost_imap_connection_stops_the_run_with_the_rest_left_unread(imap_server, people):
    box = FakeImap(
        [people["ann"].report("dsn_postfix_hard"), people["dan"].report("arf_yahoo")],
        hang_up_on=2,
    )
    port = imap_server(box)

    with pytest.raises(CommandError, match="Lost the IMAP connection to imap://fbl@bounces"):
        run(f"imap://fbl%40bounces.example:s3cret%20pass@127.0.0.1:{port}/")

    # Reports are applied in batches, marked read after: the first message's report was
    # applied before the run stopped, but the lost connection could not mark it (read again
    # next time, it applies nothing twice).
    assert box.flags == {1: set(), 2: set()}
    assert people["ann"].refresh().subscriber.status == "bounced"
    assert people["dan"].refresh().subscriber.status == "subscribed"


def test_a_refused_imap_login_is_a_clear_error(imap_server):
    port = imap_server(FakeImap([]))

    with pytest.raises(CommandError, match="Cannot open imap://fbl@127.0.0.1") as error:
        run(f"imap://fbl:wrong@127.0.0.1:{port}/INBOX")
    assert "wrong" not in str(error.value)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("imap.example.com", False),
        ("10.0.0.5", False),
        ("2001:db8::1", False),
    ],
)
def test_a_password_goes_unencrypted_only_to_this_machine(host, allowed):
    assert plaintext_login_allowed(host) is allowed


# --- End to end: a message rendered and sent by our own pipeline, bounced back -----------------


def test_a_bounce_of_a_message_we_really_sent_is_matched(
    tmp_path, mail_sink, mailing_list, settings, account
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    settings.VERP_ENABLED = True
    settings.PROBE_SHARE = 1.0
    subscribe_many(mailing_list, 1, domains=("example.net",))
    campaign = submitted_campaign(mailing_list)
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )
    sending.campaign_start_probe(campaign_id=campaign.pk, seed=1)
    transport = delivery_worker.open_transport()
    delivery_worker.send_batch(campaign_id=campaign.pk, transport=transport)
    transport.close()
    (sent,) = Path(mail_sink.directory).glob("*.eml")
    raw = sent.read_bytes()
    envelope_from = email.message_from_bytes(raw)["X-Sink-Mail-From"]
    # What the recipient's server got: our bytes, without the sink's envelope headers.
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n", 2)[2]
    assert envelope_from.startswith("bounce+") and envelope_from.endswith(
        "@" + settings.BOUNCE_DOMAIN
    )
    dsn = (
        b"From: MAILER-DAEMON@mx.example.net\r\n"
        b"To: " + envelope_from.encode() + b"\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <e2e-bounce@mx.example.net>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; r0@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n" + headers + b"\r\n\r\n--b--\r\n"
    )
    # Matched by the returned headers alone too: the VERP address is not needed.
    headers_only = dsn.replace(envelope_from.encode(), b"sender@example.com").replace(
        b"<e2e-bounce@", b"<e2e-bounce-2@"
    )
    path = write_maildir(tmp_path / "Maildir", [dsn, headers_only])

    lines = run(str(path))

    row = Delivery.objects.get(campaign=campaign)
    assert row.status == DeliveryStatus.SENT
    # Both matched the message; the second bounce of it is kept as a duplicate, not counted.
    assert lines[1:3] == ["  applied: 1", "  duplicates: 1"]
    assert row.hard_bounced_at is not None
    assert Subscriber.objects.get(pk=row.subscriber_id).status == "bounced"
    assert sorted(FeedbackEvent.objects.values_list("delivery_id", "outcome")) == [
        (row.pk, "applied"),
        (row.pk, "duplicate"),
    ]


def test_a_long_run_parses_in_worker_processes_with_the_same_result(
    tmp_path, reports, people, account, monkeypatch, settings
):
    # Chunks of two: the first two messages are parsed here, the other nine in the workers.
    monkeypatch.setattr("complaints.mailboxes.PARSE_CHUNK_MESSAGES", 2)
    settings.FEEDBACK_PARSE_PROCESSES = 2
    submitted = []
    real_submit = mailboxes._ParsePool.submit

    def submit(pool, chunk):
        submitted.append((pool.executor is not None, len(chunk)))
        return real_submit(pool, chunk)

    monkeypatch.setattr(mailboxes._ParsePool, "submit", submit)
    path = write_maildir(tmp_path / "Maildir", reports)

    first = run(str(path), verbosity=2)

    assert submitted == [(True, 2)] * 4 + [(True, 1)]
    assert first[-8:] == [line.format(mailbox="maildir", path=path) for line in SUMMARY]
    assert len(first) == 8 + 11
    assert_everything_applied(people, account)
    assert list((path / "new").iterdir()) == []
    assert len(list((path / "cur").iterdir())) == 11
