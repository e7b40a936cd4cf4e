"""A test send goes through the real SMTP backend to a real SMTP server (the aiosmtpd sink)."""

import email
import re
from email import policy

import pytest

from campaigns.tokens import TokenKind, unpack


@pytest.fixture
def smtp(settings, mail_sink):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    settings.VERP_ENABLED = True
    settings.BOUNCE_DOMAIN = "bounces.mailer.example"
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"
    return mail_sink


def test_a_test_send_arrives_over_smtp_with_footer_headers_and_verp(
    token_client, campaign_fields, subscriber, smtp
):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    response = token_client.post(
        f"/api/v1/campaigns/{campaign_id}/test/", {"subscriber_id": subscriber.pk}
    )

    assert response.status_code == 201
    stored = smtp.wait_for(to=token_client.user.email, subject="[Test] Hello Ann")
    raw = stored.message.as_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    ref = message["X-Message-Ref"]
    assert message["X-Sink-Mail-From"].strip() == f"bounce+{ref}@bounces.mailer.example"
    assert message["From"] == "Acme News <news@news.acme.example>"
    assert message["Message-ID"] == f"<{ref}@news.acme.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = re.search(r"/u/([A-Za-z0-9_-]+)/", message["List-Unsubscribe"]).group(1)
    data = unpack(token, kind=TokenKind.UNSUBSCRIBE)
    assert (data.campaign_id, data.subscriber_id, data.is_test) == (
        campaign_id,
        subscriber.pk,
        True,
    )
    assert "Hi Ann Lee" in stored.html
    assert 'id="compliance-footer"' in stored.html
    assert "subscribed to “Monthly news”" in stored.text
    assert f"/u/{token}/" in stored.text


def test_a_test_send_is_dkim_signed_with_the_accounts_key_before_the_domain_is_verified(
    token_client, campaign_fields, subscriber, sender_domain, smtp
):
    """Issue 21: a test send goes through our SMTP path as the very bytes recipients get,
    signed with the account's own key for the From domain, verified or not (it goes only to
    the user's own address)."""
    import dkim as dkimpy

    from accounts import dkim
    from accounts import services as account_services

    dkim.clear_key_cache()
    domain = account_services.sender_domain_ensure_key(sender_domain=sender_domain)
    domain.verified_at = None
    domain.save(update_fields=["verified_at"])
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    response = token_client.post(f"/api/v1/campaigns/{campaign_id}/test/")

    assert response.status_code == 201, response.json()
    stored = smtp.wait_for(to=token_client.user.email, subject="[Test] Hello")
    raw = (smtp.directory / stored.name).read_bytes()
    published = {
        f"{domain.signing_selector}._domainkey.news.acme.example.": dkim.txt_record_value(
            domain.signing_public_key
        ).encode()
    }
    assert dkimpy.verify(raw, dnsfunc=lambda name, timeout=5: published.get(name.decode()))
    assert f"s={domain.signing_selector};" in stored.message["DKIM-Signature"]
    assert "d=news.acme.example;" in stored.message["DKIM-Signature"]
    # Submitting still needs the domain verified.
    submitted = token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/")
    assert submitted.status_code == 400
    assert "not verified yet" in str(submitted.json())
