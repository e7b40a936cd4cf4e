"""Tokens under attack: tampered (bit flips, cuts, swapped kinds and ids, another key), expired
and replayed tokens of every kind the product hands out (the message links /u/ /r/ /c/ /o/, the
double opt-in link, the e-mail verification link, the password reset link, API keys) get a
friendly 4xx or the same idempotent page again, never a 500, and never act on anyone but the
person they name.
"""

import base64
import re
import time
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode
from hypothesis import given
from hypothesis import strategies as st

from accounts.services import api_token_create, api_token_revoke, email_verification_token
from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import BadToken, MessageTokens, TokenKind, unpack
from complaints.models import FeedbackEvent, FeedbackKind
from lists.models import ConsentEvent, ConsentRecord, Subscriber, SubscriberStatus, Suppression
from lists.services.optin import subscription_confirm_token
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.security.conftest import FUZZ


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


TOKEN = MessageTokens(campaign_id=41, subscriber_id=97).unsubscribe()
# A genuine token written in base64's standard alphabet ("+" and "/" for "-" and "_"): the first
# of the same recipient's campaigns whose token has one of them (TOKEN itself may have none).
_STANDARD_ALPHABET = next(
    token.replace("-", "+").replace("_", "/")
    for token in (
        MessageTokens(campaign_id=41 + n, subscriber_id=97).unsubscribe() for n in range(1000)
    )
    if "-" in token or "_" in token
)


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=26), flip=st.integers(min_value=1, max_value=255)
)
def test_any_flipped_byte_is_a_bad_token(position, flip):
    raw = _raw(TOKEN)
    raw[position] ^= flip
    with pytest.raises(BadToken):
        unpack(_b64(raw), kind=TokenKind.UNSUBSCRIBE)


@FUZZ
@given(text=st.text(max_size=80))
def test_any_text_is_a_bad_token_or_a_genuine_one(text):
    try:
        data = unpack(text, kind=TokenKind.UNSUBSCRIBE)
    except BadToken:
        return
    assert text == TOKEN and (data.campaign_id, data.subscriber_id) == (41, 97)


def test_cuts_extensions_swaps_and_other_keys_are_bad_tokens(settings):
    raw = _raw(TOKEN)
    swapped = raw[:1] + raw[7:13] + raw[1:7] + raw[13:]  # subscriber and campaign ids swapped
    test_flag = bytearray(raw)
    test_flag[0] ^= 0x1  # a real message's link passed off as a test's, or the reverse
    for forged in (
        TOKEN[:-1],
        TOKEN[:20],
        TOKEN + "A",
        TOKEN + "AAAA",
        _b64(swapped),
        _b64(test_flag),
        _STANDARD_ALPHABET,
        TOKEN + "=",
        " " + TOKEN,
        "",
    ):
        with pytest.raises(BadToken):
            unpack(forged, kind=TokenKind.UNSUBSCRIBE)
    # Each kind only opens its own door.
    for kind in (TokenKind.REPORT, TokenKind.CLICK, TokenKind.OPEN, TokenKind.MESSAGE):
        with pytest.raises(BadToken):
            unpack(TOKEN, kind=kind)
    # A rotated key still opens the links already sent; any other key does not.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a new key" * 5, [settings.SECRET_KEY]
    assert unpack(TOKEN, kind=TokenKind.UNSUBSCRIBE).subscriber_id == 97
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(BadToken):
        unpack(TOKEN, kind=TokenKind.UNSUBSCRIBE)


# --- the public token pages ---------------------------------------------------------------------

ROUTES = ["/u/{}/", "/r/{}/", "/c/{}/", "/o/{}.gif", "/confirm/{}/", "/verify/{}/"]


@FUZZ
@given(
    token=st.one_of(
        st.text(min_size=1, max_size=120),
        st.binary(min_size=1, max_size=60).map(_b64),
        st.just(TOKEN[:-2] + "zz"),
        st.just("A" * 10_000),
        st.just("..%2F..%2Fetc%2Fpasswd"),
    ),
    route=st.sampled_from(ROUTES),
    method=st.sampled_from(["GET", "POST", "HEAD"]),
)
def test_any_token_on_any_public_link_is_answered_without_a_500(db, client, token, route, method):
    response = client.generic(method, route.format(quote(token, safe="")))
    if route.startswith("/o/"):  # the pixel is served for any token
        assert response.status_code in (200, 404, 405)
    else:
        assert response.status_code in (404, 405), response.status_code
    assert not FeedbackEvent.objects.exists()


@FUZZ
@given(uid=st.text(min_size=1, max_size=40), token=st.text(min_size=1, max_size=60))
def test_any_password_reset_link_is_answered_without_a_500(db, client, uid, token):
    url = f"/password-reset/{quote(uid, safe='')}/{quote(token, safe='')}/"
    response = client.get(url)
    assert response.status_code in (200, 302, 404)
    if response.status_code == 200:
        assert not response.context["validlink"]


@pytest.fixture
def sent(user):
    """A campaign sent to Ann and Bob of one list: each has a real message's links."""
    mailing_list = MailingListFactory(account=user.account)
    ann = SubscriberFactory(mailing_list=mailing_list, email="ann@example.org")
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org")
    campaign = CampaignFactory(account=user.account, lists=[mailing_list], status="holding")
    for subscriber in (ann, bob):
        Delivery.objects.create(
            campaign=campaign,
            subscriber=subscriber,
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
        )
    return campaign, ann, bob


def _withdrawals(subscriber) -> int:
    return ConsentRecord.objects.filter(subscriber=subscriber, event=ConsentEvent.WITHDRAWN).count()


@pytest.mark.parametrize("one_click", [False, True])
def test_an_unsubscribe_replayed_acts_once_and_only_on_its_own_recipient(client, sent, one_click):
    campaign, ann, bob = sent
    url = f"/u/{MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk).unsubscribe()}/"
    body = {"List-Unsubscribe": "One-Click"} if one_click else {}

    answers = [client.post(url, body).status_code for _ in range(3)]

    assert answers == ([200] * 3 if one_click else [302] * 3)
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert (ann.status, bob.status) == (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUBSCRIBED)
    assert FeedbackEvent.objects.filter(kind=FeedbackKind.UNSUBSCRIBED).count() == 1
    assert (_withdrawals(ann), _withdrawals(bob)) == (1, 0)
    assert Suppression.objects.count() == 1
    assert client.get(url).status_code == 200  # the page still answers: "you are unsubscribed"


def test_a_report_replayed_is_one_complaint_and_a_token_never_crosses_kinds(client, sent):
    campaign, ann, bob = sent
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk)

    for _ in range(3):
        assert client.post(f"/r/{tokens.report()}/", {"comment": "again"}).status_code == 302
    # Ann's unsubscribe token on the report page, her report token on the unsubscribe page,
    # her click token anywhere but /c/: refused.
    assert client.post(f"/r/{tokens.unsubscribe()}/").status_code == 404
    assert client.post(f"/u/{tokens.report()}/").status_code == 404
    assert client.post(f"/u/{tokens.click(0)}/").status_code == 404

    assert FeedbackEvent.objects.filter(kind=FeedbackKind.COMPLAINED).count() == 1
    bob.refresh_from_db()
    assert bob.status == SubscriberStatus.SUBSCRIBED


def test_a_test_messages_token_changes_nothing_however_often_it_is_used(client, sent):
    campaign, ann, _ = sent
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk, is_test=True)
    for _ in range(2):
        client.post(f"/u/{tokens.unsubscribe()}/", {"List-Unsubscribe": "One-Click"})
        client.post(f"/r/{tokens.report()}/")
    ann.refresh_from_db()
    assert ann.status == SubscriberStatus.SUBSCRIBED
    assert not Suppression.objects.exists()


def test_the_links_of_an_erased_subscriber_answer_without_acting(client, sent):
    campaign, ann, _ = sent
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk)
    Subscriber.objects.filter(pk=ann.pk).delete()

    assert client.get(f"/u/{tokens.unsubscribe()}/").status_code == 200
    assert client.post(f"/u/{tokens.unsubscribe()}/").status_code == 302
    assert client.post(f"/r/{tokens.report()}/").status_code == 302
    assert client.get(f"/c/{tokens.click(99)}/").status_code == 404  # no such link in it
    assert not FeedbackEvent.objects.exists()


# --- double opt-in --------------------------------------------------------------------------


@pytest.fixture
def unconfirmed(user):
    mailing_list = MailingListFactory(account=user.account)
    return SubscriberFactory(
        mailing_list=mailing_list, email="una@example.org", status=SubscriberStatus.UNCONFIRMED
    )


def _confirmations(subscriber) -> int:
    return ConsentRecord.objects.filter(subscriber=subscriber, event=ConsentEvent.CONFIRMED).count()


def test_confirming_twice_confirms_once(client, unconfirmed):
    url = reverse("subscribe_confirm", args=[subscription_confirm_token(unconfirmed)])

    assert client.get(url).status_code == 200  # a mail scanner's GET changes nothing
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == SubscriberStatus.UNCONFIRMED

    assert [client.post(url).status_code for _ in range(2)] == [200, 200]
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == SubscriberStatus.SUBSCRIBED
    assert _confirmations(unconfirmed) == 1


def test_an_expired_confirmation_link_is_a_friendly_404_and_confirms_nothing(
    client, unconfirmed, settings, monkeypatch
):
    url = reverse("subscribe_confirm", args=[subscription_confirm_token(unconfirmed)])
    later = time.time() + settings.SUBSCRIBE_CONFIRM_MAX_AGE + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 404
        assert "invalid or has expired" in response.content.decode()
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == SubscriberStatus.UNCONFIRMED


def test_a_confirmation_link_never_confirms_anyone_else(client, unconfirmed):
    other = SubscriberFactory(
        mailing_list=unconfirmed.mailing_list,
        email="other@example.org",
        status=SubscriberStatus.UNCONFIRMED,
    )
    token = subscription_confirm_token(unconfirmed)
    payload, stamp, signature = token.split(":")
    others = signing.b64_encode(f'{{"s":{other.pk},"e":"{other.email}"}}'.encode()).decode()
    for forged in (
        f"{others}:{stamp}:{signature}",  # the other's payload under this one's signature
        signing.dumps({"s": other.pk, "e": other.email}, salt="another-salt"),
        f"{payload}:{stamp}:{signature[::-1]}",
        f"{payload}:{stamp}:{signature[:-3]}",
    ):
        assert client.post(reverse("subscribe_confirm", args=[forged])).status_code == 404
    # The address changed (erased and re-added, or edited): the old link is dead.
    Subscriber.objects.filter(pk=unconfirmed.pk).update(email="changed@example.org")
    assert client.post(reverse("subscribe_confirm", args=[token])).status_code == 404

    assert not Subscriber.objects.filter(status=SubscriberStatus.SUBSCRIBED).exists()


def test_a_confirmation_link_does_not_resubscribe_after_an_unsubscribe(client, unconfirmed):
    url = reverse("subscribe_confirm", args=[subscription_confirm_token(unconfirmed)])
    Subscriber.objects.filter(pk=unconfirmed.pk).update(
        status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )

    assert client.post(url).status_code == 404
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == SubscriberStatus.UNSUBSCRIBED


# --- e-mail verification ----------------------------------------------------------------------


@pytest.fixture
def unverified(db):
    return UserFactory(email="new@acme.example", email_verified_at=None)


def test_verifying_twice_keeps_the_first_time(client, unverified):
    url = reverse("verify_email", args=[email_verification_token(unverified)])

    assert client.get(url).status_code == 200
    unverified.refresh_from_db()
    first = unverified.email_verified_at
    assert first is not None
    assert client.get(url).status_code == 200
    unverified.refresh_from_db()
    assert unverified.email_verified_at == first


def test_expired_tampered_and_stale_verification_links_are_a_friendly_404(
    client, unverified, settings, monkeypatch
):
    token = email_verification_token(unverified)
    for forged in (token[:-2], token.replace(":", ";"), token + "x", "garbage"):
        assert client.get(reverse("verify_email", args=[forged])).status_code == 404

    unverified.email = "changed@acme.example"
    unverified.save(update_fields=["email"])
    assert client.get(reverse("verify_email", args=[token])).status_code == 404

    fresh = email_verification_token(unverified)
    later = time.time() + settings.EMAIL_VERIFICATION_MAX_AGE + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = client.get(reverse("verify_email", args=[fresh]))
    assert response.status_code == 404
    assert "invalid or has expired" in response.content.decode()
    unverified.refresh_from_db()
    assert unverified.email_verified_at is None


# --- password reset ---------------------------------------------------------------------------


def _reset_link(client, user) -> str:
    mail.outbox.clear()
    assert client.post(reverse("password_reset"), {"email": user.email}).status_code == 302
    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/password-reset/\S+/)", message.body).group(1)


def test_a_password_reset_link_works_once(client, user):
    link = _reset_link(client, user)
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url,
        {"new_password1": "a-new-long-password-1", "new_password2": "a-new-long-password-1"},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-password-1")

    again = client.get(link, follow=True)
    assert again.status_code == 200
    assert not again.context["validlink"]
    assert "This reset link is invalid or has been used." in again.content.decode()


def test_an_expired_password_reset_link_is_refused(client, user, settings, monkeypatch):
    link = _reset_link(client, user)
    later = datetime.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)

    response = client.get(link, follow=True)

    assert response.status_code == 200
    assert not response.context["validlink"]


def test_a_password_reset_link_is_bound_to_its_user_and_to_its_token(client, user, other_user):
    link = _reset_link(client, user)
    _, uid, token, _ = link.rsplit("/", 3)
    other_uid = _reset_link(client, other_user).rsplit("/", 3)[1]
    for forged in (
        f"/password-reset/{other_uid}/{token}/",  # one user's token on another's account
        f"/password-reset/{uid}/{token[:-1]}x/",
        f"/password-reset/{uid}/{token.split('-')[0]}-0000000000/",
        f"/password-reset/{urlsafe_base64_encode(b'999999')}/{token}/",  # nobody's
    ):
        response = client.get(forged, follow=True)
        assert response.status_code == 200
        assert not response.context["validlink"], forged
    assert user.check_password("correct-horse-battery")


# --- API keys -----------------------------------------------------------------------------------


def test_tampered_revoked_and_malformed_api_keys_are_a_401(api_client, user):
    token, key = api_token_create(user=user, name="ci")
    headers = [
        f"Token {key[:-1]}{'A' if key[-1] != 'A' else 'B'}",
        f"Token {key[:8]}",
        f"Token {key} extra",
        "Token ",
        "Token \x00",
        f"Bearer {key}",
        "Token " + "A" * 10_000,
        f"token {key}".upper(),
    ]
    for header in headers:
        api_client.credentials(HTTP_AUTHORIZATION=header)
        assert api_client.get("/api/v1/lists/").status_code in (401, 403), header

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/lists/").status_code == 200
    api_token_revoke(account=user.account, token_id=token.pk)
    assert api_client.get("/api/v1/lists/").status_code == 401
