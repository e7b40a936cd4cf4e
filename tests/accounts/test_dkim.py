"""DKIM: our key pairs, their encryption at rest, signing (OpenSSL's RSA under dkimpy's
canonicalisation) checked by dkimpy's own verifier, and a message sent through real SMTP that
verifies against the key published on a real local DNS server, aligned for DMARC."""

import base64
import time
from datetime import date
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from accounts import dkim, services
from accounts import dns as sender_dns
from accounts import selectors as account_selectors
from accounts.models import SenderDomain
from campaigns.delivery import SmtpTransport
from campaigns.rendering import CampaignContent, Recipient, compile_campaign
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

MESSAGE = (
    b"From: Acme News <news@news.acme.test>\r\n"
    b"To: ann@example.org\r\n"
    b"Subject: Our winter menu\r\n"
    b"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1.2@news.acme.test>\r\n"
    b"List-Unsubscribe: <https://mail.example.test/u/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Ann,\r\n\r\nour winter menu.\r\n"
)


@pytest.fixture(autouse=True)
def _fresh_keys():
    dkim.clear_key_cache()
    yield
    dkim.clear_key_cache()


@pytest.fixture(scope="module")
def key_pair():
    return dkim.generate_key_pair()


def _key(key_pair, selector="cm1", domain="news.acme.test") -> dkim.SigningKey:
    return dkim.signing_key_from(
        selector=selector, domain=domain, encrypted_private_key=key_pair.encrypted_private_key
    )


def _dns_of(records: dict[str, str]):
    """A dkimpy dnsfunc answering from `records` (name -> TXT value)."""

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip(".").lower(), "").encode() or None

    return dnsfunc


def _verifies(message: bytes, key_pair, selector="cm1", domain="news.acme.test") -> bool:
    published = {f"{selector}._domainkey.{domain}": dkim.txt_record_value(key_pair.public_key)}
    return dkimpy.verify(message, dnsfunc=_dns_of(published))


def _tags(message: bytes) -> dict[bytes, bytes]:
    header = dkimpy.DKIM(message).headers[0]
    assert header[0] == b"DKIM-Signature"
    return dkimpy.util.parse_tag_value(header[1])


# --- keys ----------------------------------------------------------------------------------------


def test_a_key_pair_is_2048_bit_rsa_and_stored_encrypted(key_pair):
    assert b"PRIVATE KEY" not in key_pair.encrypted_private_key.encode()
    pem = dkim.decrypt_private_key(key_pair.encrypted_private_key)
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert private_key.key_size == 2048
    # p= is the public half of that very key.
    public = serialization.load_der_public_key(base64.b64decode(key_pair.public_key))
    assert public.public_numbers() == private_key.public_key().public_numbers()
    assert dkim.txt_record_value(key_pair.public_key) == f"v=DKIM1; k=rsa; p={key_pair.public_key}"


def test_another_secret_cannot_read_the_keys(key_pair, settings):
    settings.DKIM_KEY_SECRET = "not-the-secret-the-keys-were-encrypted-with"

    with pytest.raises(dkim.DkimKeyError):
        dkim.decrypt_private_key(key_pair.encrypted_private_key)


def test_selectors_are_ours_and_never_repeat(settings):
    settings.DKIM_SELECTOR_PREFIX = "cmx"
    selectors = {dkim.new_selector() for _ in range(50)}

    assert len(selectors) == 50
    assert all(s.startswith(f"cmx{timezone.now():%Y%m}") for s in selectors)


def test_adding_a_domain_gives_it_a_key_and_a_selector_of_ours(user):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")

    assert domain.signing_selector.startswith("cm")
    assert domain.signing_public_key
    signing_key = dkim.signing_key_from(
        selector=domain.signing_selector,
        domain=domain.domain,
        encrypted_private_key=domain.signing_key,
    )
    assert dkim.public_key_value(signing_key.private_key) == domain.signing_public_key


def test_a_domain_added_before_we_signed_gets_its_key_once(user):
    domain = SenderDomain.objects.create(
        account=user.account, domain="old.acme.test", verification_token="a" * 32
    )

    first = services.sender_domain_ensure_key(sender_domain=domain)
    selector, public_key = first.signing_selector, first.signing_public_key
    again = services.sender_domain_ensure_key(sender_domain=SenderDomain.objects.get(pk=domain.pk))

    assert selector and public_key
    assert (again.signing_selector, again.signing_public_key) == (selector, public_key)


# --- signing -------------------------------------------------------------------------------------


def test_a_signed_message_verifies_with_dkimpy(key_pair):
    signed = dkim.sign_with(MESSAGE, _key(key_pair))

    assert signed.endswith(MESSAGE)
    assert _verifies(signed, key_pair)
    tags = _tags(signed)
    assert tags[b"a"] == b"rsa-sha256"
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == b"news.acme.test"
    assert tags[b"s"] == b"cm1"
    signed_headers = [h.strip() for h in tags[b"h"].split(b":")]
    # From oversigned; the headers that matter are all covered.
    assert signed_headers.count(b"from") == 2
    for name in (b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"mime-version"):
        assert name in signed_headers
    assert b"list-unsubscribe-post" in signed_headers


def test_a_real_signature_in_front_of_a_built_message_is_trusted_and_verifies(key_pair):
    from campaigns.mime import MimeBytes, raw_message, signed_in_front

    built = raw_message(_rendered("news@news.acme.test"))

    signed = signed_in_front(built, lambda unsigned: dkim.sign_with(unsigned, _key(key_pair)))

    # The transport skips re-checking line ends for MimeBytes: the signature kept that.
    assert isinstance(signed, MimeBytes)
    assert signed.dot_lines == built.dot_lines
    assert _verifies(bytes(signed), key_pair)


def test_openssl_signs_exactly_what_dkimpys_own_rsa_would(key_pair, monkeypatch):
    """RSASSA-PKCS1-v1_5 is deterministic: same hash, same key, same b=. So replacing dkimpy's
    pure-Python RSA (about 10 ms) with OpenSSL's changes nothing but the time."""
    monkeypatch.setattr(time, "time", lambda: 1796550000)
    key = _key(key_pair)

    ours = dkim.sign_with(MESSAGE, key)
    theirs = dkimpy.sign(
        MESSAGE,
        b"cm1",
        b"news.acme.test",
        key.pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(dkim.SIGNED_HEADERS),
    )

    assert ours == theirs + MESSAGE


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: b"From: Mallory <ceo@news.acme.test>\r\n" + m,  # a second From (oversigned)
        lambda m: m.replace(b"our winter menu", b"our summer menu"),
        lambda m: m.replace(b"Subject: Our winter menu", b"Subject: Urgent: pay now"),
        lambda m: m.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""),
    ],
)
def test_a_changed_message_no_longer_verifies(key_pair, tamper):
    signed = dkim.sign_with(MESSAGE, _key(key_pair))
    signature, _, rest = signed.partition(b"From: ")

    assert not _verifies(signature + tamper(b"From: " + rest), key_pair)


def test_relaxed_canonicalisation_survives_refolding_and_case(key_pair):
    signed = dkim.sign_with(MESSAGE, _key(key_pair))
    refolded = signed.replace(b"Subject: Our winter menu", b"SUBJECT:   Our\r\n\twinter   menu")

    assert _verifies(refolded, key_pair)


def test_dkim_sign_uses_only_a_verified_domains_key_unless_told_the_account(user, other_user):
    mine = services.sender_domain_add(account=user.account, domain="news.acme.test")

    # Not verified: a campaign's message goes unsigned; the account's own test send is signed.
    assert dkim.dkim_sign(MESSAGE, "news.acme.test") == MESSAGE
    assert _tags(dkim.dkim_sign(MESSAGE, "news.acme.test", account_id=user.account_id))[b"s"] == (
        mine.signing_selector.encode()
    )
    # Another account never signs with this account's key, even for the same domain.
    theirs = services.sender_domain_add(account=other_user.account, domain="news.acme.test")
    signed = dkim.dkim_sign(MESSAGE, "NEWS.acme.test", account_id=other_user.account_id)
    assert _tags(signed)[b"s"] == theirs.signing_selector.encode()
    assert dkim.dkim_sign(MESSAGE, "other.acme.test", account_id=user.account_id) == MESSAGE

    SenderDomain.objects.filter(pk=mine.pk).update(verified_at=timezone.now())
    dkim.clear_key_cache()
    assert _tags(dkim.dkim_sign(MESSAGE, "news.acme.test"))[b"s"] == (
        mine.signing_selector.encode()
    )


def test_an_internationalised_from_domain_signs_with_its_a_label(user):
    domain = services.sender_domain_add(account=user.account, domain="bücher.example")
    SenderDomain.objects.filter(pk=domain.pk).update(verified_at=timezone.now())

    signed = dkim.dkim_sign(MESSAGE, "BÜCHER.example")

    assert domain.domain == "xn--bcher-kva.example"
    assert _tags(signed)[b"d"] == b"xn--bcher-kva.example"


def test_signing_can_be_turned_off(user, settings):
    services.sender_domain_add(account=user.account, domain="news.acme.test")
    settings.DKIM_SIGNING = False

    assert dkim.dkim_sign(MESSAGE, "news.acme.test", account_id=user.account_id) == MESSAGE


def test_keys_are_decrypted_once_per_process(user, django_assert_num_queries):
    services.sender_domain_add(account=user.account, domain="news.acme.test")
    with django_assert_num_queries(1):
        for _ in range(3):
            dkim.dkim_sign(MESSAGE, "news.acme.test", account_id=user.account_id)


# --- through real SMTP, verified against real DNS ------------------------------------------------


def _rendered(from_email: str):
    content = CampaignContent(
        campaign_id=7,
        account_id=3,
        subject="Hello {{ subscriber.name }}",
        from_name="Acme News",
        from_email=from_email,
        reply_to="",
        html_body="<p>Hello {{ subscriber.name }}, our winter menu. ¡Olé!</p>",
        text_body="Hello {{ subscriber.name }}, our winter menu. ¡Olé!",
        company_name="Acme Ltd",
        postal_address="1 Mill Lane, Leeds",
    )
    recipient = Recipient(
        subscriber_id=11,
        email="ann@example.org",
        name="Ann Smith",
        phone="",
        attributes={},
        list_id=5,
        list_name="Monthly news",
        consent_source="web_form",
        consented_at=date(2025, 1, 2),
    )
    return compile_campaign(content).render(recipient)


@pytest.mark.slow
def test_a_message_sent_through_smtp_verifies_against_the_published_key_and_aligns(
    settings, mail_sink, dns_server
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    account = AccountFactory()
    domain = services.sender_domain_add(account=account, domain="news.acme.test")
    # The records the domain page lists, published as the page says.
    records = {
        record.name: [record.value]
        for record in account_selectors.sender_domain_records(sender_domain=domain)
        if record.key in ("ownership", "dkim")
    }
    dns_server.set_records(records)
    domain = services.sender_domain_verify(account=account, domain_id=domain.pk)
    assert domain.is_verified
    assert domain.findings["dkim"]["status"] == "ok"

    transport = SmtpTransport()
    try:
        transport.send(_rendered("news@news.acme.test"))
    finally:
        transport.close()

    (stored,) = mail_sink.messages()
    raw = (Path(mail_sink.directory) / stored.name).read_bytes()
    resolver = sender_dns.build_resolver()

    def dnsfunc(name, timeout=5):
        found = sender_dns.txt_records(name.decode().rstrip("."), resolver=resolver)
        return found[0].encode() if found else None

    assert dkimpy.verify(raw, dnsfunc=dnsfunc)
    tags = _tags(raw.split(b"\r\n", 2)[2])  # past the sink's two X-Sink-* lines
    assert tags[b"s"] == domain.signing_selector.encode()
    # DMARC: DKIM passes for d=, which is the From domain itself (aligned, even strictly).
    from_domain = stored.message["From"].addresses[0].domain
    assert sender_dns.dmarc_aligned(from_domain, tags[b"d"].decode(), strict=True)
    assert sender_dns.dmarc_aligned("news.acme.test", "acme.test")
    assert not sender_dns.dmarc_aligned("news.acme.test", "acme.test", strict=True)
    assert not sender_dns.dmarc_aligned("shop.co.uk", "other.co.uk")
