"""campaigns.bounces: one reading of a failure for every path (hand-over refusals, DSNs,
plain-text bounces, ESP events): hard, soft, blocked or no bounce, and the code it went by."""

import pytest

from campaigns.bounces import BounceClass, classify_bounce, enhanced_statuses

HARD, SOFT, BLOCKED, NONE = (
    BounceClass.HARD,
    BounceClass.SOFT,
    BounceClass.BLOCKED,
    BounceClass.NOT_BOUNCE,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("5.1.1", HARD),
        ("5.1.2", HARD),
        ("5.1.10", HARD),
        ("5.2.1", HARD),
        ("5.4.4", HARD),
        ("5.2.2", SOFT),  # mailbox full
        ("5.4.7", SOFT),  # delivery time expired
        ("5.3.4", BLOCKED),  # message too big: our content
        ("5.1.7", BLOCKED),  # the sender's address refused
        ("5.1.8", BLOCKED),
        ("5.7.1", BLOCKED),
        ("5.7.26", BLOCKED),
        ("5.6.0", BLOCKED),
        ("4.2.2", SOFT),
        ("4.7.1", SOFT),  # greylisting, a temporary block
        ("4.0.0", SOFT),
        ("2.0.0", NONE),
    ],
)
def test_a_status_alone(status, expected):
    verdict = classify_bounce(status=status)

    assert (verdict.kind, verdict.code) == (expected, status)


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected", "code"),
    [
        # The most specific code found wins over X.0.0 (issue 18).
        ("5.0.0", "smtp; 550 5.7.1 Message rejected as spam", BLOCKED, "5.7.1"),
        ("5.0.0", "smtp; 452 4.2.2 Mailbox full", SOFT, "4.2.2"),
        ("5.0.0", "smtp; 550 5.0.0 <ann@example.org>... User unknown", HARD, "5.0.0"),
        ("5.0.0", "smtp; 554 5.0.0 Service unavailable", SOFT, "5.0.0"),
        ("5.0.0", "smtp; 550 5.0.0 refused", HARD, "5.0.0"),  # as a bare 550
        ("5.0.0", "", SOFT, "5.0.0"),  # says nothing about the address
        # Of equal specificity, the Status field's.
        ("5.1.1", "smtp; 550 5.7.1 relaying denied", HARD, "5.1.1"),
        # A basic code in the Status field (Action: failed, Status: 553 ...).
        ("553 mailbox name not allowed", "", HARD, "553"),
        # Exchange Online's unknown recipient.
        ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied", HARD, "5.4.1"),
        # A 5.7.1 whose words name an unknown recipient.
        ("5.7.1", "550 5.7.1 <ann@example.org>: user unknown", HARD, "5.7.1"),
        ("5.7.1", "550 5.7.1 user unknown; blocked by policy", BLOCKED, "5.7.1"),
    ],
)
def test_the_status_with_its_diagnostic(status, diagnostic, expected, code):
    verdict = classify_bounce(status=status, diagnostic=diagnostic, action="failed")

    assert (verdict.kind, verdict.code) == (expected, code)


@pytest.mark.parametrize(
    ("smtp_code", "text", "expected"),
    [
        # A bare 550/551/553 is read one way on every path.
        (550, "Requested action not taken: mailbox unavailable", HARD),
        (551, "User not local", HARD),
        (553, "Mailbox name not allowed", HARD),
        (552, "Requested mail action aborted: exceeded storage allocation", SOFT),
        (554, "Transaction failed", SOFT),
        # Words decide over the bare code.
        (550, "Message rejected as spam by Content Filtering", BLOCKED),
        (554, "Your IP is listed in Spamhaus", BLOCKED),
        (550, "Sender address rejected: not owned by user", BLOCKED),
        (552, "Requested mail action aborted, mailbox not found", HARD),
        (550, "Mailbox full", SOFT),
        (554, "delivery error: dd This user doesn't have a yahoo.com account", HARD),
        (450, "Recipient address rejected: Greylisted", SOFT),
        (421, "Too many connections", SOFT),
    ],
)
def test_a_reply_at_hand_over(smtp_code, text, expected):
    verdict = classify_bounce(smtp_code=smtp_code, text=text, action="failed")

    assert (verdict.kind, verdict.code) == (expected, str(smtp_code))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No such user here", HARD),
        ("user unknown", HARD),
        ("The email account that you tried to reach does not exist", HARD),
        ("mailbox is full", SOFT),
        ("Over quota", SOFT),
        ("greylisted, please try again later", SOFT),
        ("Message blocked: blacklisted IP", BLOCKED),
        ("rejected due to DMARC policy", BLOCKED),
    ],
)
def test_words_where_there_is_no_code(text, expected):
    assert classify_bounce(text=text, action="failed").kind == expected


@pytest.mark.parametrize(
    ("action", "status", "expected", "certain"),
    [
        ("delayed", "4.4.7", SOFT, True),
        ("delayed", "5.1.1", SOFT, True),  # still being tried: never hard
        ("delivered", "2.0.0", NONE, True),
        ("relayed", "", NONE, True),
        ("expanded", "2.0.0", NONE, True),
        ("delivered", "5.0.0", NONE, False),  # contradicts itself
        ("failed", "", SOFT, False),  # the cautious reading
        ("", "", NONE, False),
    ],
)
def test_the_dsn_action(action, status, expected, certain):
    verdict = classify_bounce(status=status, action=action)

    assert (verdict.kind, verdict.certain) == (expected, certain)


def test_codes_that_are_not_statuses_are_not_read():
    assert enhanced_statuses("version 5.1.1.4 from 10.5.1.1, see #5.1.1.") == ["5.1.1"]
    assert classify_bounce(text="we moved to 192.168.5.1 last week").kind == NONE
