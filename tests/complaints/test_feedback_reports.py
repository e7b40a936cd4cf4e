"""Reading DSN bounces, ARF and JMRP complaints, plain-text bounces and mailto: unsubscribes into
the Feedback that feedback_apply takes, from real-format reports about a real signed message."""

from datetime import UTC, datetime

import pytest

from campaigns.tokens import MessageTokens, TokenData, TokenKind
from complaints.feedback_reports import (
    ARF,
    DSN,
    JMRP,
    MAILTO_UNSUBSCRIBE,
    NOT_A_REPORT,
    PLAIN_BOUNCE,
    ParsedReport,
    UnparsableReport,
    parse_report,
)
from complaints.services import Feedback, message_ref_data
from tests.complaints.data import forged_ref, render

ANN = "ann.lee@example.org"


@pytest.fixture
def message():
    """A message of campaign 7 to subscriber 9 (parsing needs no database)."""
    return MessageTokens(campaign_id=7, subscriber_id=9)


def parse(name, message, **changes):
    return parse_report(render(name, tokens=message, recipient=ANN, **changes))


def test_a_postfix_hard_bounce(message):
    report = parse("dsn_postfix_hard", message)

    assert report.type == DSN
    assert report.feedback == (
        Feedback(
            source="dsn",
            event_id="<20240514091207.4TQ2m51XyzZ1@mx1.consentmail.example>:" + ANN,
            kind="hard_bounce",
            # Delivered-To was lower-cased by the MTA (no longer a valid reference); To: was not.
            message_ref=message.message_ref(),
            recipient=ANN,
            occurred_at=datetime(2024, 5, 14, 9, 12, 5, tzinfo=UTC),
            code="5.1.1",
            detail="smtp; 550 5.1.1 <ann.lee@example.org>: Recipient address rejected: User "
            "unknown in virtual mailbox table",
        ),
    )


def test_a_delayed_dsn_is_a_soft_bounce(message):
    (feedback,) = parse("dsn_postfix_delayed", message).feedback

    assert (feedback.kind, feedback.code, feedback.recipient) == ("soft_bounce", "4.2.2", ANN)
    assert feedback.message_ref == message.message_ref()
    assert feedback.detail == "smtp; 452 4.2.2 <ann.lee@example.org>: Mailbox full"


def test_a_dsn_with_several_recipients_gives_one_report_each(message):
    report = parse("dsn_multi_recipient", message)

    mid = "<202405140915.44E9C3kP012345@relay.example.org>"
    assert [(f.kind, f.code, f.recipient, f.event_id) for f in report.feedback] == [
        ("hard_bounce", "5.2.1", ANN, f"{mid}:{ANN}"),
        # Original-Recipient (the address we sent to) over Final-Recipient (a forward).
        ("soft_bounce", "4.4.1", ANN, f"{mid}:ann.lee@forward.example"),
        ("delivered", "2.0.0", ANN, f"{mid}:ann.archive@example.org"),
    ]
    assert {f.message_ref for f in report.feedback} == {message.message_ref()}
    assert report.feedback[0].occurred_at == datetime(2024, 5, 14, 9, 15, 2, tzinfo=UTC)
    assert report.feedback[2].detail == "Action: relayed; Remote-MTA: DNS; archive.example.org"


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.7.1", "blocked"),  # a policy block of the message, not of the address
        ("failed", "5.2.2", "soft_bounce"),  # mailbox full
        ("failed", "5.1.1", "hard_bounce"),
        ("failed", "4.4.7", "soft_bounce"),  # given up on after retries: not proof of no mailbox
        ("failed", "", "soft_bounce"),
        ("delayed", "5.0.0", "soft_bounce"),
        ("delivered", "2.0.0", "delivered"),
        ("relayed", "2.0.0", "delivered"),
        ("expanded", "2.0.0", None),
        ("delivered", "5.0.0", None),
        ("", "5.1.1", "hard_bounce"),
        ("", "", None),
    ],
)
def test_the_kind_follows_the_action_and_the_status(message, action, status, kind):
    raw = render("dsn_forged", tokens=message, recipient=ANN).replace(
        b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown",
        f"Action: {action}\r\nStatus: {status}".encode(),
    )

    report = parse_report(raw)

    assert [f.kind for f in report.feedback] == ([kind] if kind else [])


def test_a_yahoo_arf_abuse_report(message):
    report = parse("arf_yahoo", message)

    assert report.type == ARF
    assert report.feedback == (
        Feedback(
            source="arf",
            event_id="<1715684561.283712.yahoo.arf.42@arf.mail.yahoo.com>",
            kind="complained",
            message_ref=message.message_ref(),
            recipient=ANN,
            occurred_at=datetime(2024, 5, 14, 9, 12, 6, tzinfo=UTC),
            code="abuse",
            detail="User-Agent: Yahoo!-Mail-Feedback/2.0; Source-IP: 198.51.100.10; "
            "Reported-Domain: news.acme.example",
        ),
    )


def test_a_microsoft_arf_with_a_base64_original_and_a_redacted_recipient(message):
    (feedback,) = parse("arf_microsoft", message).feedback

    assert feedback.kind == "complained"
    assert feedback.message_ref == message.message_ref()
    assert feedback.recipient == "redacted@outlook.com"
    # Arrival-Date, in the reporter's zone.
    assert feedback.occurred_at == datetime(2024, 5, 14, 16, 12, 6, tzinfo=UTC)
    assert feedback.event_id == "<2cbd3c4e-71a1-4d0c-9a7e-3f2e0b7c91aa@jmrp.outlook.example>"


def test_a_legacy_jmrp_report_is_a_complaint(message):
    report = parse("jmrp_legacy", message)

    assert report.type == JMRP
    (feedback,) = report.feedback
    assert (feedback.source, feedback.kind, feedback.recipient, feedback.code) == (
        "arf",
        "complained",
        ANN,
        "abuse",
    )
    assert feedback.message_ref == message.message_ref()


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure", "opt-in"])
def test_arf_reports_that_are_not_complaints_apply_nothing(message, feedback_type):
    raw = render("arf_yahoo", tokens=message, recipient=ANN).replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode()
    )

    report = parse_report(raw)

    assert (report.type, report.feedback) == (ARF, ())
    assert feedback_type in report.note


@pytest.mark.parametrize("feedback_type", ["fraud", "virus", "other", "Abuse"])
def test_other_complaint_types_are_complaints(message, feedback_type):
    raw = render("arf_yahoo", tokens=message, recipient=ANN).replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode()
    )

    (feedback,) = parse_report(raw).feedback

    assert (feedback.kind, feedback.code) == ("complained", feedback_type.lower())


def test_an_arf_report_without_a_feedback_type_is_unparsable(message):
    raw = render("arf_yahoo", tokens=message, recipient=ANN).replace(
        b"Feedback-Type: abuse\r\n", b""
    )

    with pytest.raises(UnparsableReport, match="Feedback-Type"):
        parse_report(raw)


def test_an_arf_report_is_matched_by_its_original_mail_from_alone(message):
    raw = render("arf_yahoo", tokens=message, recipient=ANN)
    head, _, _ = raw.partition(b"------=_Part_2837_1715684561\r\nContent-Type: message/rfc822")

    (feedback,) = parse_report(head + b"------=_Part_2837_1715684561--\r\n").feedback

    assert feedback.message_ref == message.message_ref()


def test_a_plain_text_bounce_is_matched_by_the_verp_address_alone(message):
    report = parse("bounce_plain", message)

    assert report.type == PLAIN_BOUNCE
    (feedback,) = report.feedback
    assert (feedback.source, feedback.kind, feedback.code) == ("dsn", "hard_bounce", "5.1.1")
    assert feedback.message_ref == message.message_ref()
    assert feedback.detail == (
        "Remote host said: 550 5.1.1 <ann.lee@example.org>... No such user here"
    )
    # The failed address is read from the explanation, not the returned copy.
    assert feedback.recipient == ANN


@pytest.mark.parametrize(
    ("sender", "said", "outcome"),
    [
        ("MAILER-DAEMON@mx.example", "452-4.2.2 Over quota", ("soft_bounce", "4.2.2")),
        ("postmaster@mx.example", "Status 5.1.1 (bad mailbox)", ("hard_bounce", "5.1.1")),
        ("MAILER-DAEMON@mx.example", "550 User unknown", ("hard_bounce", "550")),
        ("MAILER-DAEMON@mx.example", "Mailbox full", ("soft_bounce", "")),
        ("MAILER-DAEMON@mx.example", "553 sorry, message refused as spam", ("blocked", "553")),
        ("ann.lee@example.org", "550 5.1.1 No such user", ("hard_bounce", "5.1.1")),
        # Not from a mail system and no full SMTP reply: an ordinary message, not a bounce.
        ("ann.lee@example.org", "see section 5.1.1 of our terms", None),
        ("ann.lee@example.org", "550 reasons to stay", None),
    ],
)
def test_plain_text_bounces_need_an_smtp_status(message, sender, said, outcome):
    ref = message.message_ref()
    raw = (
        f"From: {sender}\r\nTo: bounce+{ref}@bounces.example\r\nSubject: about your mail\r\n"
        f"Message-ID: <b1@mx.example>\r\n\r\nYour message:\r\n{said}\r\n"
    ).encode()

    report = parse_report(raw)

    if outcome is None:
        assert (report.type, report.feedback) == (NOT_A_REPORT, ())
    else:
        (feedback,) = report.feedback
        assert (feedback.kind, feedback.code) == outcome
        assert feedback.event_id == "<b1@mx.example>"


def test_an_auto_reply_to_the_return_path_is_not_a_bounce(message):
    report = parse("auto_reply", message)

    assert (report.type, report.feedback) == (NOT_A_REPORT, ())


def test_a_message_to_no_address_of_ours_is_not_a_report():
    raw = b"From: someone@example.org\r\nTo: info@example.org\r\nSubject: hi\r\n\r\n550 5.1.1\r\n"

    assert parse_report(raw) == ParsedReport(
        NOT_A_REPORT, note="not a report and not sent to a bounce address"
    )


def test_a_mailto_unsubscribe_carries_the_unsubscribe_token(message):
    report = parse("unsubscribe_mailto", message)

    assert report.type == MAILTO_UNSUBSCRIBE
    (feedback,) = report.feedback
    assert (feedback.source, feedback.kind) == ("one_click", "unsubscribed")
    assert feedback.token == TokenData(kind=TokenKind.UNSUBSCRIBE, campaign_id=7, subscriber_id=9)
    assert feedback.event_id == "mailto:<CAJm5x=unsub+8fQ2b@mail.example.org>"
    assert feedback.detail == "mailto: unsubscribe sent by ann.lee@example.org"
    assert feedback.message_ref == "" and feedback.recipient == ""


def test_a_mailto_unsubscribe_with_a_message_token_is_not_taken():
    # A MESSAGE token in the unsubscribe address: signed, but not an unsubscribe token.
    ref = MessageTokens(campaign_id=7, subscriber_id=9).message_ref()
    raw = f"From: x@example.org\r\nTo: unsubscribe+{ref}@b.example\r\n\r\nunsubscribe\r\n"

    (feedback,) = parse_report(raw.encode()).feedback

    assert feedback.token is None


def test_a_forged_reference_is_passed_on_unverified(message):
    (feedback,) = parse("dsn_forged", message, ref=forged_ref(message)).feedback

    assert feedback.message_ref == forged_ref(message)
    assert message_ref_data(feedback.message_ref) is None


def test_a_verified_reference_wins_over_a_forged_one(message):
    raw = render("dsn_forged", tokens=message, recipient=ANN, ref=forged_ref(message)).replace(
        b"X-Message-Ref: " + forged_ref(message).encode(),
        b"X-Message-Ref: " + message.message_ref().encode(),
    )

    (feedback,) = parse_report(raw).feedback

    assert feedback.message_ref == message.message_ref()


def test_a_report_without_a_message_id_is_identified_by_its_digest(message):
    raw = render("dsn_postfix_hard", tokens=message, recipient=ANN).replace(
        b"Message-Id: <20240514091207.4TQ2m51XyzZ1@mx1.consentmail.example>\r\n", b""
    )

    (first,) = parse_report(raw).feedback
    (again,) = parse_report(raw).feedback

    assert first.event_id.startswith("sha256:") and first.event_id.endswith(":" + ANN)
    assert first.event_id == again.event_id
    assert len(first.event_id) == len("sha256:") + 64 + 1 + len(ANN)


def test_a_very_long_message_id_is_hashed_to_fit(message):
    raw = render("dsn_postfix_hard", tokens=message, recipient=ANN).replace(
        b"<20240514091207.4TQ2m51XyzZ1@mx1.consentmail.example>", b"<" + b"x" * 300 + b"@y>"
    )

    (feedback,) = parse_report(raw).feedback

    assert feedback.event_id.startswith("sha256:") and len(feedback.event_id) == 71


def test_a_base64_encoded_delivery_status_part_is_read(message):
    import base64

    raw = render("dsn_forged", tokens=message, recipient=ANN)
    fields = b"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; ann.lee@example.org"
    fields += b"\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    start = raw.index(b"Content-Type: message/delivery-status\r\n")
    end = raw.index(b"--forged\r\nContent-Type: text/rfc822-headers")
    raw = (
        raw[:start]
        + b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(fields).replace(b"\n", b"\r\n")
        + b"\r\n"
        + raw[end:]
    )

    (feedback,) = parse_report(raw).feedback

    assert (feedback.kind, feedback.code, feedback.recipient) == ("hard_bounce", "5.1.1", ANN)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe not a message at all",
        b"no colon on the first line\r\n\r\nbody",
    ],
)
def test_what_is_not_a_message_is_unparsable(raw):
    with pytest.raises(UnparsableReport):
        parse_report(raw)


def test_a_report_without_its_machine_readable_part_is_unparsable(message):
    with pytest.raises(UnparsableReport, match="delivery-status part"):
        parse("malformed", message)


def test_a_message_over_the_size_limit_is_unparsable(message, settings):
    raw = render("dsn_postfix_hard", tokens=message, recipient=ANN)
    settings.FEEDBACK_MAX_MESSAGE_BYTES = len(raw) - 1

    with pytest.raises(UnparsableReport, match="limit"):
        parse_report(raw)
    assert parse_report(raw, max_bytes=len(raw)).feedback


@pytest.mark.parametrize(
    "name",
    [
        "dsn_postfix_hard",
        "dsn_postfix_delayed",
        "dsn_multi_recipient",
        "arf_yahoo",
        "arf_microsoft",
        "jmrp_legacy",
        "bounce_plain",
        "unsubscribe_mailto",
    ],
)
def test_truncated_or_mangled_reports_never_raise_anything_else(message, name):
    raw = render(name, tokens=message, recipient=ANN)
    variants = [raw[:cut] for cut in range(0, len(raw), max(1, len(raw) // 40))]
    variants += [raw.replace(b"\r\n\r\n", b"\r\n", 2), raw.replace(b"--", b"-"), raw[::-1]]
    variants += [raw.replace(b":", b"\xff", 5), raw.replace(b"Content-Type", b"Content-Typo")]

    for variant in variants:
        try:
            report = parse_report(variant)
        except UnparsableReport:
            continue
        assert all(isinstance(feedback, Feedback) for feedback in report.feedback)


# A report's recipient field is whatever its sender wrote: feedback_apply keeps the address the
# message went to (complaints/services.py), for every channel; see test_feedback_apply.py.


# --- issue 18: one classifier, and what the DSN, ARF and plain-bounce readers missed ----------


def test_a_dsn_with_a_basic_status_and_a_specific_diagnostic(message):
    def kind_of(status, diagnostic):
        raw = render("dsn_forged", tokens=message, recipient=ANN).replace(
            b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown",
            f"Action: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}".encode(),
        )
        (feedback,) = parse_report(raw).feedback
        return feedback.kind, feedback.code

    # Status: 5.0.0 goes by the more specific code of the Diagnostic-Code.
    assert kind_of("5.0.0", "550 5.7.1 Message rejected as spam") == ("blocked", "5.7.1")
    assert kind_of("5.0.0", "452 4.2.2 Mailbox full") == ("soft_bounce", "4.2.2")
    # The sender's address refused: not the recipient's fault.
    assert kind_of("5.1.8", "553 5.1.8 Sender address rejected") == ("blocked", "5.1.8")
    # A basic code in Status is read.
    assert kind_of("553 mailbox name not allowed", "553 sorry") == ("hard_bounce", "553")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("rfc822; @relay.example,@mx.example:ann.lee@example.org", ANN),
        ('rfc822; "ann lee"@example.org', '"ann lee"@example.org'),
        ("rfc822;<Ann.Lee@example.org>", "Ann.Lee@example.org"),
    ],
)
def test_source_routed_and_quoted_recipients_are_kept_whole(message, field, expected):
    raw = render("dsn_forged", tokens=message, recipient=ANN)
    raw = raw.replace(
        f"Final-Recipient: rfc822; {ANN}".encode(), f"Final-Recipient: {field}".encode()
    )
    assert f"Final-Recipient: {field}".encode() in raw

    (feedback,) = parse_report(raw).feedback

    assert feedback.recipient == expected


def test_a_bounce_without_a_status_part_is_matched_by_the_verp_address(message):
    """Yahoo-style: no delivery-status part, no SMTP code, only words; To: our VERP address."""
    ref = message.message_ref()
    raw = (
        "From: MAILER-DAEMON@yahoo.example\r\n"
        f"To: bounce+{ref}@bounces.example\r\n"
        "Subject: Failure Notice\r\nMessage-ID: <y1@yahoo.example>\r\n\r\n"
        "Sorry, we were unable to deliver your message to the following address.\r\n\r\n"
        f"<{ANN}>:\r\nThis user doesn't have a yahoo.example account\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        "From: Acme News <news@news.acme.example>\r\nTo: someone.else@example.org\r\n"
    ).encode()

    report = parse_report(raw)

    assert report.type == PLAIN_BOUNCE
    (feedback,) = report.feedback
    assert (feedback.kind, feedback.recipient, feedback.message_ref) == ("hard_bounce", ANN, ref)


def test_a_plain_warning_is_a_soft_bounce(message):
    ref = message.message_ref()
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        f"X-Original-To: bounce+{ref}@bounces.example\r\n"
        "Subject: Warning: message delayed\r\n\r\n"
        f"This message has not yet been delivered to {ANN}.\r\n"
        "550 5.1.1 said the last host, but delivery attempts will continue.\r\n"
    ).encode()

    (feedback,) = parse_report(raw).feedback

    assert (feedback.kind, feedback.recipient) == ("soft_bounce", ANN)


def arf(message, feedback_type, *, part_type="message/rfc822", rcpt_lines=None):
    raw = render("arf_yahoo", tokens=message, recipient=ANN)
    raw = raw.replace(b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode())
    raw = raw.replace(
        b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nX-Apparently-To",
        f"Content-Type: {part_type}\r\n\r\nX-Apparently-To".encode(),
    )
    if rcpt_lines is not None:
        raw = raw.replace(f"Original-Rcpt-To: <{ANN}>".encode(), rcpt_lines.encode())
    return raw


@pytest.mark.parametrize("feedback_type", ["opt-out", "opt-out-list"])
def test_an_arf_opt_out_is_an_unsubscribe(message, feedback_type):
    (feedback,) = parse_report(arf(message, feedback_type)).feedback

    assert (feedback.kind, feedback.code, feedback.recipient) == (
        "unsubscribed",
        feedback_type,
        ANN,
    )
    assert feedback.message_ref == message.message_ref()


@pytest.mark.parametrize("part_type", ["text/rfc822-header", "text/rfc822-headers"])
def test_the_original_headers_are_read_from_either_header_part(message, part_type):
    # Without Original-Mail-From only the returned headers carry our reference.
    raw = arf(message, "abuse", part_type=part_type).replace(
        b"Original-Mail-From: <bounce+", b"Original-Mail-From: <nobody+"
    )

    (feedback,) = parse_report(raw).feedback

    assert feedback.message_ref == message.message_ref()


def test_every_original_rcpt_to_is_kept(message):
    lines = f"Original-Rcpt-To: <{ANN}>\r\nOriginal-Rcpt-To: ann@forward.example"
    report = parse_report(arf(message, "abuse", rcpt_lines=lines))

    mid = "<1715684561.283712.yahoo.arf.42@arf.mail.yahoo.com>"
    assert [(f.kind, f.recipient, f.event_id) for f in report.feedback] == [
        ("complained", ANN, f"{mid}:{ANN}"),
        ("complained", "ann@forward.example", f"{mid}:ann@forward.example"),
    ]
