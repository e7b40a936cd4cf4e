"""Amazon SES events through SNS at /webhooks/amazon_ses/tracking/: trusted only when the SNS
signature verifies against a certificate from an SNS host, the basic auth matches and (when
listed) the topic is ours. The certificate is a test one, served by a stand-in for the fetcher:
nothing leaves 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from complaints import sns
from complaints.models import FeedbackEvent
from lists.models import PlatformSuppression
from lists.services.suppression import suppression_reason
from tests.complaints.payloads import basic_auth, counters, load, state, stats

pytestmark = pytest.mark.django_db

URL = "/webhooks/amazon_ses/tracking/"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:consentmail-ses-events"


def _certificate(key, *, not_before: datetime, not_after: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeAmazon:
    """Serves certificates by URL and records every request the app makes."""

    certificates: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    def get(self, url: str, *, max_bytes: int) -> bytes:
        self.requests.append(url)
        if url in self.certificates:
            return self.certificates[url]
        if url.startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"):
            return b"<ConfirmSubscriptionResponse/>"
        raise OSError(f"unexpected request to {url}")


@pytest.fixture
def amazon(monkeypatch, signing_key):
    now = datetime.now(UTC)
    pem = _certificate(
        signing_key, not_before=now - timedelta(days=1), not_after=now + timedelta(days=30)
    )
    fake = FakeAmazon(certificates={CERT_URL: pem})
    monkeypatch.setattr(sns, "http_get", fake.get)
    return fake


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:s3cret-webhook-pass"}
    settings.SNS_TOPIC_ARNS = [TOPIC]


def sign(message: dict, key, *, version: str = "1", cert_url: str = CERT_URL) -> dict:
    message = dict(message, SignatureVersion=version, SigningCertURL=cert_url)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - AWS's v1
    signature = key.sign(sns.canonical_string(message), padding.PKCS1v15(), digest)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


def notification(ses_event: dict, *, message_id: str = "5b6c6d1a-0f6e-5d0e-9a3c-2d1e1f0a9b01"):
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(ses_event),
        "Timestamp": "2025-11-20T09:14:03.120Z",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&x=1",
    }


def post(client, message: dict, *, auth: dict | None = None):
    headers = basic_auth() if auth is None else auth
    return client.post(
        URL,
        data=json.dumps(message),
        content_type="text/plain; charset=UTF-8",  # as SNS sends it
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=message["Type"],
        HTTP_X_AMZ_SNS_MESSAGE_ID=message["MessageId"],
        HTTP_X_AMZ_SNS_TOPIC_ARN=message.get("TopicArn", ""),
        **headers,
    )


def test_a_signed_permanent_bounce_hard_bounces_the_delivery_and_suppresses_everywhere(
    client, token_client, amazon, signing_key, tokens, delivery, campaign, account
):
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())

    response = post(client, sign(notification(event), signing_key))

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "bounced"
    assert after["delivery"]["hard_bounced_at"] is not None
    assert suppression_reason(account=account, email="ann.lee@example.org") == "hard_bounce"
    assert PlatformSuppression.objects.count() == 1
    feedback = FeedbackEvent.objects.get()
    assert (feedback.source, feedback.kind, feedback.outcome) == (
        "amazon_ses",
        "hard_bounce",
        "applied",
    )
    assert feedback.event_id == "5b6c6d1a-0f6e-5d0e-9a3c-2d1e1f0a9b01/ann.lee@example.org"
    assert feedback.code == "5.1.1"
    assert "User unknown" in feedback.detail
    assert amazon.requests == [CERT_URL]
    assert counters(stats(token_client, campaign)) == {
        "delivered": 0,
        "opened": 0,
        "clicked": 0,
        "hard_bounced": 1,
        "soft_bounced": 0,
        "unsubscribed": 0,
        "complained": 0,
    }


def test_signature_version_2_is_verified_with_sha256(
    client, token_client, amazon, signing_key, tokens, delivery, campaign, account
):
    event = load("ses_complaint.json", message_ref=tokens.message_ref())

    response = post(client, sign(notification(event), signing_key, version="2"))

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "complained"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"
    assert FeedbackEvent.objects.get().code == "abuse"
    assert stats(token_client, campaign)["complained"] == 1


def test_a_version_1_signature_presented_as_version_2_is_refused(
    client, amazon, signing_key, tokens, delivery
):
    event = load("ses_complaint.json", message_ref=tokens.message_ref())
    message = sign(notification(event), signing_key, version="1")
    message["SignatureVersion"] = "2"
    before = state(delivery)

    response = post(client, message)

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_transient_bounce_is_soft(
    client, token_client, amazon, signing_key, tokens, delivery, campaign
):
    event = load("ses_bounce_transient.json", message_ref=tokens.message_ref())

    response = post(client, sign(notification(event), signing_key))

    assert response.status_code == 200
    after = state(delivery)
    assert after["delivery"]["soft_bounced_at"] is not None
    assert after["delivery"]["hard_bounced_at"] is None
    assert after["subscriber_status"] == "subscribed"
    assert after["suppressions"] == []
    assert FeedbackEvent.objects.get().code == "4.2.2"
    assert counters(stats(token_client, campaign))["soft_bounced"] == 1


def test_delivery_open_and_click_are_counted(
    client, token_client, amazon, signing_key, tokens, delivery, campaign
):
    ref = tokens.message_ref()
    for number, name in enumerate(("ses_delivery.json", "ses_open.json", "ses_click.json")):
        message = notification(load(name, message_ref=ref), message_id=f"msg-{number}")
        assert post(client, sign(message, signing_key)).status_code == 200

    assert counters(stats(token_client, campaign)) == {
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "hard_bounced": 0,
        "soft_bounced": 0,
        "unsubscribed": 0,
        "complained": 0,
    }
    after = state(delivery)
    assert after["subscriber_status"] == "subscribed"
    assert None not in (
        after["delivery"]["delivered_at"],
        after["delivery"]["opened_at"],
        after["delivery"]["clicked_at"],
    )
    assert after["tracking_events"] == 2
    # The certificate was fetched once for the three messages.
    assert amazon.requests == [CERT_URL]


def test_a_tampered_message_is_refused_and_changes_nothing(
    client, amazon, signing_key, tokens, delivery
):
    complaint = load("ses_complaint.json", message_ref=tokens.message_ref())
    message = sign(notification(complaint), signing_key)
    bounce = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    message["Message"] = json.dumps(bounce)  # the signature is for the complaint
    before = state(delivery)

    response = post(client, message)

    assert response.status_code == 403
    assert state(delivery) == before


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/SimpleNotificationService-abc.pem",
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.txt",
        "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "https://user@sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
def test_a_certificate_url_off_the_sns_hosts_is_refused_without_fetching_it(
    client, amazon, signing_key, tokens, delivery, cert_url
):
    amazon.certificates[cert_url] = amazon.certificates[CERT_URL]  # served, were it asked
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), signing_key, cert_url=cert_url))

    assert response.status_code == 403
    assert amazon.requests == []
    assert state(delivery) == before


def test_a_signature_by_another_key_is_refused(client, amazon, tokens, delivery):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), forger))

    assert response.status_code == 403
    assert state(delivery) == before


def test_an_expired_certificate_is_refused(client, amazon, signing_key, tokens, delivery):
    long_ago = datetime.now(UTC) - timedelta(days=400)
    amazon.certificates[CERT_URL] = _certificate(
        signing_key, not_before=long_ago, not_after=long_ago + timedelta(days=365)
    )
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), signing_key))

    assert response.status_code == 403
    assert state(delivery) == before


def test_an_unlisted_topic_is_refused(client, amazon, signing_key, tokens, delivery):
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    message = notification(event)
    message["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic"
    before = state(delivery)

    response = post(client, sign(message, signing_key))

    assert response.status_code == 403
    assert amazon.requests == []
    assert state(delivery) == before


def test_an_unreachable_certificate_answers_503_so_sns_retries(
    client, amazon, signing_key, tokens, delivery
):
    amazon.certificates.clear()
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), signing_key))

    assert response.status_code == 503
    assert state(delivery) == before


@pytest.mark.parametrize(
    ("auth", "status"),
    [({}, 401), (basic_auth("hooks:wrong"), 403), (basic_auth("someone:s3cret-webhook-pass"), 403)],
)
def test_missing_or_wrong_basic_auth_is_refused_before_anything_is_fetched(
    client, amazon, signing_key, tokens, delivery, auth, status
):
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), signing_key), auth=auth)

    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Basic ")
    assert amazon.requests == []
    assert state(delivery) == before


def test_the_same_notification_twice_changes_nothing_the_second_time(
    client, amazon, signing_key, tokens, delivery, subscriber
):
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    message = sign(notification(event), signing_key)
    assert post(client, message).status_code == 200
    once = state(delivery)

    response = post(client, message)

    assert response.status_code == 200
    assert state(delivery) == once
    assert once["feedback_events"] == 1
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1


def test_a_subscription_confirmation_is_verified_then_confirmed_at_its_subscribe_url(
    client, amazon, signing_key, delivery
):
    message = sign(load("sns_subscription_confirmation.json", message_ref=""), signing_key)
    before = state(delivery)

    response = post(client, message)

    assert response.status_code == 200
    assert amazon.requests == [CERT_URL, message["SubscribeURL"]]
    assert state(delivery) == before


def test_a_forged_subscription_confirmation_is_not_confirmed(client, amazon, signing_key, delivery):
    message = sign(load("sns_subscription_confirmation.json", message_ref=""), signing_key)
    message["SubscribeURL"] = message["SubscribeURL"].replace("123456789012", "999999999999")

    response = post(client, message)

    assert response.status_code == 403
    assert amazon.requests == [CERT_URL]


def test_with_auto_confirm_off_a_subscription_is_only_logged(
    client, settings, amazon, signing_key, caplog
):
    settings.ANYMAIL = dict(settings.ANYMAIL, AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS=False)
    message = sign(load("sns_subscription_confirmation.json", message_ref=""), signing_key)

    response = post(client, message)

    assert response.status_code == 200
    assert amazon.requests == [CERT_URL]
    assert message["Token"] in caplog.text


def test_without_a_secret_or_topic_list_the_webhook_refuses_everything(
    client, settings, amazon, signing_key, tokens, delivery
):
    settings.ANYMAIL = {}
    settings.SNS_TOPIC_ARNS = []
    event = load("ses_bounce_permanent.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, sign(notification(event), signing_key), auth={})

    assert response.status_code == 503
    assert amazon.requests == []
    assert state(delivery) == before


def test_a_body_that_is_not_json_is_refused(client, amazon):
    response = client.post(
        URL,
        data="not json",
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        **basic_auth(),
    )

    assert response.status_code == 403
    assert FeedbackEvent.objects.count() == 0


def test_canonical_string_follows_aws_order_and_skips_an_absent_subject():
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": TOPIC,
        "Message": "hello",
        "Timestamp": "2025-11-20T09:14:03.120Z",
        "SignatureVersion": "1",
    }
    with_subject = copy.deepcopy(message) | {"Subject": "Hi"}

    assert (
        sns.canonical_string(message)
        == (
            f"Message\nhello\nMessageId\nm-1\nTimestamp\n2025-11-20T09:14:03.120Z\n"
            f"TopicArn\n{TOPIC}\nType\nNotification\n"
        ).encode()
    )
    assert b"Subject\nHi\nTimestamp" in sns.canonical_string(with_subject)
