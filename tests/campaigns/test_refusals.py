"""A refusal at hand-over is a bounce like any other: through real SMTP to an aiosmtpd server
that refuses as told, the failed delivery carries its class (hard, soft, blocked), a hard one
ends the subscription and suppresses the address account-wide and platform-wide, and three soft
bounces over a week suppress it for the account."""

import inspect
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.utils import timezone

from campaigns import delivery, sending
from campaigns.bounces import BounceClass, BounceVerdict
from campaigns.delivery import PermanentError, _smtp_error
from campaigns.models import Delivery, DeliveryStatus
from campaigns.refusals import refusal_apply, soft_bounce_rule_apply
from lists.models import PlatformSuppression, Subscriber, Suppression
from lists.services.suppression import platform_address_hash
from tests.campaigns.factories import CampaignFactory, submitted_campaign, subscribe_many
from tests.dns_server import free_port

pytestmark = pytest.mark.django_db

REPLIES = {
    "gone": "550 5.1.1 <{}>: Recipient address rejected: User unknown",
    "full": "552 5.2.2 Mailbox full",
    "spam": "554 5.7.1 Message rejected as spam",
    "sender": "553 5.1.8 Sender address rejected: Domain not found",
    "bare": "550 Requested action not taken: mailbox unavailable",
}


class RefusingHandler:
    """Refuses at RCPT the addresses whose local part names a reply above."""

    def __init__(self):
        self.accepted: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = REPLIES.get(address.split("@")[0])
        if reply:
            return reply.format(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.accepted.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued as ABC123"


@pytest.fixture
def smtp_server(settings):
    handler = RefusingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    cache.clear()
    yield handler
    controller.stop()


def approve(campaign):
    """Approve as a moderator does (naming the version it waits with, where versions exist)."""
    extra = {}
    if "version_id" in inspect.signature(sending.campaign_approve).parameters:
        from tests.campaigns.factories import waiting_version

        extra["version_id"] = waiting_version(campaign)
    sending.campaign_approve(campaign_id=campaign.pk, actor=None, **extra)


@pytest.fixture
def probing(mailing_list, settings):
    settings.PROBE_SHARE = 1.0
    subscribe_many(mailing_list, 6, domains=("example.net",))
    for number, local_part in enumerate(REPLIES, start=1):
        Subscriber.objects.filter(email=f"r{number}@example.net").update(
            email=f"{local_part}@example.net"
        )
    campaign = submitted_campaign(mailing_list)
    approve(campaign)
    sending.campaign_start_probe(campaign_id=campaign.pk, seed=1)
    return campaign


def rows_by_email(campaign):
    emails = dict(Subscriber.objects.values_list("pk", "email"))
    return {emails[d.subscriber_id]: d for d in Delivery.objects.filter(campaign=campaign)}


def bounce_marks(row):
    return tuple(
        getattr(row, name) is not None
        for name in ("hard_bounced_at", "soft_bounced_at", "blocked_at")
    )


def test_each_refusal_is_recorded_as_the_bounce_it_is(smtp_server, probing):
    transport = delivery.open_transport()
    delivery.send_batch(campaign_id=probing.pk, transport=transport)
    transport.close()

    rows = rows_by_email(probing)
    failed = {email: row for email, row in rows.items() if row.status == DeliveryStatus.FAILED}
    assert {email: bounce_marks(row) for email, row in failed.items()} == {
        "gone@example.net": (True, False, False),
        "bare@example.net": (True, False, False),
        "full@example.net": (False, True, False),
        "spam@example.net": (False, False, True),
        "sender@example.net": (False, False, True),
    }
    assert failed["gone@example.net"].error.startswith("550 5.1.1")
    assert rows["r0@example.net"].status == DeliveryStatus.SENT
    assert bounce_marks(rows["r0@example.net"]) == (False, False, False)
    assert smtp_server.accepted == ["r0@example.net"]


def test_a_hard_refusal_ends_the_subscription_and_suppresses_everywhere(smtp_server, probing):
    transport = delivery.open_transport()
    delivery.send_batch(campaign_id=probing.pk, transport=transport)
    transport.close()

    statuses = dict(Subscriber.objects.values_list("email", "status"))
    assert statuses == {
        "gone@example.net": "bounced",
        "bare@example.net": "bounced",
        "full@example.net": "subscribed",
        "spam@example.net": "subscribed",
        "sender@example.net": "subscribed",
        "r0@example.net": "subscribed",
    }
    assert sorted(
        Suppression.objects.filter(account=probing.account).values_list("email", "reason")
    ) == [("bare@example.net", "hard_bounce"), ("gone@example.net", "hard_bounce")]
    assert set(PlatformSuppression.objects.values_list("email_hash", flat=True)) == {
        platform_address_hash("gone@example.net"),
        platform_address_hash("bare@example.net"),
    }


def test_our_own_failure_is_no_bounce():
    error = PermanentError("the address needs SMTPUTF8", refused_by_server=False)

    assert error.verdict() is None


@pytest.mark.parametrize(
    ("code", "reply", "expected"),
    [
        (550, b"5.1.1 No such user", BounceClass.HARD),
        (554, b"5.7.1 Rejected by policy", BounceClass.BLOCKED),
        (552, b"Mailbox full", BounceClass.SOFT),
        (553, b"", BounceClass.HARD),
    ],
)
def test_an_smtp_refusal_carries_its_reply(code, reply, expected):
    error = _smtp_error(code, reply)

    assert isinstance(error, PermanentError)
    assert (error.smtp_code, error.text) == (code, reply.decode())
    assert error.verdict().kind == expected


def test_an_esp_refusing_an_invalid_address_is_hard():
    error = PermanentError("All message recipients were rejected", esp_statuses={"invalid"})
    rejected = PermanentError("All message recipients were rejected", esp_statuses={"rejected"})

    assert error.verdict().kind == BounceClass.HARD
    # Refused for a reason the ESP keeps to itself: the cautious reading.
    assert rejected.verdict().kind == BounceClass.SOFT


def soft_bounces(subscriber, *days_ago):
    for days in days_ago:
        campaign = CampaignFactory(account=subscriber.mailing_list.account)
        Delivery.objects.create(
            campaign=campaign,
            subscriber_id=subscriber.pk,
            provider="other",
            status=DeliveryStatus.SENT,
            soft_bounced_at=timezone.now() - timedelta(days=days),
        )


@pytest.mark.parametrize(
    ("days_ago", "suppressed"),
    [
        ((8, 3, 0), True),
        ((7, 0, 0), True),
        ((6, 3, 0), False),  # three, but within a week
        ((20, 0), False),  # over a week, but two
        ((100, 8, 0), False),  # the oldest is too old to count
    ],
)
def test_three_soft_bounces_over_a_week_suppress_for_the_account(subscriber, days_ago, suppressed):
    soft_bounces(subscriber, *days_ago)

    assert soft_bounce_rule_apply(subscriber=subscriber) is suppressed
    found = list(Suppression.objects.values_list("email", "reason"))
    assert found == ([("ann.lee@example.org", "soft_bounces")] if suppressed else [])
    subscriber.refresh_from_db()
    assert subscriber.status == "subscribed"
    assert PlatformSuppression.objects.count() == 0


def test_a_soft_refusal_completes_the_rule(subscriber):
    soft_bounces(subscriber, 9, 4, 0)
    verdict = BounceVerdict(BounceClass.SOFT, "4.2.2", "status 4.2.2")

    assert refusal_apply(subscriber_id=subscriber.pk, email=subscriber.email, verdict=verdict)
    assert Suppression.objects.get().reason == "soft_bounces"


def test_a_block_changes_nothing_about_the_address(subscriber):
    verdict = BounceVerdict(BounceClass.BLOCKED, "5.7.1", "status 5.7.1")

    assert not refusal_apply(subscriber_id=subscriber.pk, email=subscriber.email, verdict=verdict)
    subscriber.refresh_from_db()
    assert subscriber.status == "subscribed"
    assert (Suppression.objects.count(), PlatformSuppression.objects.count()) == (0, 0)
