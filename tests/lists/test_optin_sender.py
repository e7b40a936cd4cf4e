"""The double opt-in e-mail's From (issue 17, finding 4): the company name is only ever the display
name of the service's own address, and the envelope sender is that address too."""

import email
from email import policy

import pytest
from django.core import mail
from django.core.mail.message import sanitize_address

from accounts.services import account_profile_update, account_sign_up
from config.errors import ApplicationError
from lists.models import SubscriberStatus
from lists.services.optin import subscriber_send_confirmation
from tests.factories import AccountFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

SERVICE = "no-reply@consentmail.localhost"
HOSTILE = 'PayPal" <service@paypal.com> ('


def _send(company_name: str):
    """The confirmation for a subscriber of an account whose stored company name is
    `company_name` (written to the database as is, past any validation)."""
    account = AccountFactory(company_name=company_name)
    mailing_list = MailingListFactory(account=account, name="Garden notes")
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email="reader@example.org", status=SubscriberStatus.UNCONFIRMED
    )
    assert subscriber_send_confirmation(subscriber_id=subscriber.pk) is True
    (message,) = mail.outbox
    return message


def _envelope_sender(message) -> str:
    """MAIL FROM as Django's SMTP backend computes it from `from_email`."""
    return sanitize_address(message.from_email, "utf-8").rpartition("<")[2].rstrip(">")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "company_name",
    [
        HOSTILE,
        "PayPal <service@paypal.com>",
        'Ünïcode "Co" <a@b.example>, c@d.example',
        "=?utf-8?b?UGF5UGFs?=",
    ],
)
def test_a_hostile_company_name_is_only_the_display_name_of_our_address(company_name):
    message = _send(company_name)

    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    (sender,) = parsed["From"].addresses
    assert sender.addr_spec == SERVICE
    assert len(parsed.get_all("From")) == 1
    assert _envelope_sender(message) == SERVICE
    assert message.to == ["reader@example.org"]


@pytest.mark.django_db
def test_the_finding_4_name_shows_as_typed_and_mail_from_is_ours():
    message = _send(HOSTILE)

    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (HOSTILE, SERVICE)
    assert _envelope_sender(message) == SERVICE


@pytest.mark.django_db(transaction=True)
def test_over_real_smtp_the_envelope_and_the_from_are_the_services_own(settings, mail_sink):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    account = AccountFactory(company_name=HOSTILE)
    subscriber = SubscriberFactory(
        mailing_list=MailingListFactory(account=account, name="Garden notes"),
        email="reader@example.org",
        status=SubscriberStatus.UNCONFIRMED,
    )

    subscriber_send_confirmation(subscriber_id=subscriber.pk)

    stored = mail_sink.wait_for(to="reader@example.org", subject="Please confirm")
    assert stored.message["X-Sink-Mail-From"].strip() == SERVICE
    (sender,) = stored.message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (HOSTILE, SERVICE)
    assert len(mail_sink.messages()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("company_name", ["PayPal\r <service@paypal.com>", "Acme\nBcc: x", "A\x00"])
def test_a_company_name_with_a_line_break_or_control_is_refused(company_name):
    account = AccountFactory(company_name="Acme Ltd")

    with pytest.raises(ApplicationError) as refused:
        account_profile_update(
            account=account,
            company_name=company_name,
            contact_name="Pat",
            phone="+1 555 0100",
            postal_address="1 Main Street",
        )

    assert refused.value.field == "company_name"
    assert "single line" in refused.value.message
    account.refresh_from_db()
    assert account.company_name == "Acme Ltd"


@pytest.mark.django_db
def test_sign_up_refuses_a_company_name_with_a_carriage_return():
    with pytest.raises(ApplicationError) as refused:
        account_sign_up(
            company_name="PayPal\r <service@paypal.com>",
            contact_name="Pat",
            email="pat@acme.example",
            phone="+1 555 0100",
            postal_address="1 Main Street",
            password="a long enough passphrase 42",
            accepted_terms=True,
            accepted_privacy=True,
        )

    assert (refused.value.field, refused.value.message) == (
        "company_name",
        "Use a single line of plain text: this contains a line break or a control character "
        "(U+000D).",
    )
    assert not mail.outbox


@pytest.mark.django_db
def test_the_profile_page_shows_the_error_on_the_company_name(client):
    from tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    original = user.account.company_name

    page = client.post(
        "/account/profile/",
        {
            "company_name": "Acme\u2028Bcc: x",
            "contact_name": "Pat",
            "phone": "+1 555 0100",
            "postal_address": "1 Main Street",
        },
    )

    assert page.status_code == 200
    assert "(U+2028)" in page.text
    user.account.refresh_from_db()
    assert user.account.company_name == original
