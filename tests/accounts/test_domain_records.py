"""The records the domain page spells out, their live checks against a real local DNS server,
and DKIM key rotation without a gap."""

import pytest
from django.utils import timezone

from accounts import dkim, services
from accounts import dns as sender_dns
from accounts.models import SenderDomain
from accounts.selectors import sender_domain_records, sender_domain_records_found
from config.coded_text import render

pytestmark = pytest.mark.django_db


def said(check: dict) -> list[str]:
    """A stored check's messages (coded text) in the active language."""
    return [render(message) for message in check["messages"]]


INCLUDE = "_spf.sender.consentmail.test"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SPF_INCLUDE = INCLUDE
    settings.DMARC_REPORT_ADDRESS = ""
    dkim.clear_key_cache()


def _records(domain: SenderDomain) -> dict:
    return {record.key: record for record in sender_domain_records(sender_domain=domain)}


def _check(user, domain: SenderDomain) -> SenderDomain:
    return services.sender_domain_verify(account=user.account, domain_id=domain.pk)


def test_a_new_domain_lists_every_record_to_publish_unchecked(user):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")

    records = _records(domain)

    assert list(records) == ["ownership", "dkim", "spf", "dmarc"]
    assert {record.status for record in records.values()} == {"unchecked"}
    assert (records["ownership"].type, records["ownership"].name) == ("TXT", "news.acme.test")
    assert records["ownership"].value == domain.txt_record_value
    assert records["dkim"].name == f"{domain.signing_selector}._domainkey.news.acme.test"
    assert records["dkim"].value == f"v=DKIM1; k=rsa; p={domain.signing_public_key}"
    assert records["spf"].value == f"v=spf1 include:{INCLUDE} ~all"
    assert records["dmarc"].name == "_dmarc.news.acme.test"
    assert records["dmarc"].value == (
        "v=DMARC1; p=none; rua=mailto:dmarc-reports@news.acme.test; adkim=r; aspf=r"
    )


def test_each_check_turns_found_as_its_record_appears(user, dns_server):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    published: dict[str, list] = {}

    domain = _check(user, domain)
    assert {key: r.status for key, r in _records(domain).items()} == {
        "ownership": "missing",
        "dkim": "missing",
        "spf": "missing",
        "dmarc": "missing",
    }
    # Publish exactly what the page says, one record at a time.
    for key in ("ownership", "dkim", "spf", "dmarc"):
        record = _records(domain)[key]
        published.setdefault(record.name, []).append(record.value)
        dns_server.set_records(published)
        domain = _check(user, domain)
        assert _records(domain)[key].status == "found", _records(domain)[key]

    assert domain.is_verified
    assert domain.dkim_published_at is not None
    assert sender_domain_records_found(sender_domain=domain)


def test_an_spf_record_for_someone_else_is_wrong_and_ours_is_merged_into_it(user, dns_server):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    theirs = "v=spf1 ip4:192.0.2.0/24 include:_spf.google.com ~all"
    dns_server.set_records({"news.acme.test": [domain.txt_record_value, theirs]})

    spf = _records(_check(user, domain))["spf"]

    assert spf.status == "wrong"
    assert spf.seen == [theirs]
    assert "does not authorise us" in render(spf.messages[0])
    assert spf.value == f"v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:{INCLUDE} ~all"
    assert spf.note


@pytest.mark.parametrize(
    ("existing", "merged"),
    [
        ([], f"v=spf1 include:{INCLUDE} ~all"),
        (["v=spf1 mx -all"], f"v=spf1 mx include:{INCLUDE} -all"),
        (["v=spf1 a mx"], f"v=spf1 a mx include:{INCLUDE}"),
        (["v=spf1 redirect=_spf.other.test"], f"v=spf1 include:{INCLUDE} redirect=_spf.other.test"),
        (["v=spf1"], f"v=spf1 include:{INCLUDE}"),
        ([f"v=spf1 include:{INCLUDE} -all"], f"v=spf1 include:{INCLUDE} -all"),
        (["google-site-verification=x", "v=spf1 ?all"], f"v=spf1 include:{INCLUDE} ?all"),
    ],
)
def test_spf_record_to_publish_keeps_the_domains_own(existing, merged):
    assert sender_dns.spf_record_to_publish(existing, INCLUDE) == merged


def test_a_dkim_key_that_is_not_ours_is_wrong_with_what_we_saw(user, dns_server):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    other = dkim.generate_key_pair().public_key
    name = f"{domain.signing_selector}._domainkey.news.acme.test"
    dns_server.set_records({name: [f"v=DKIM1; k=rsa; p={other}"]})

    record = _records(_check(user, domain))["dkim"]

    assert record.status == "wrong"
    assert record.seen == [f"v=DKIM1; k=rsa; p={other}"]
    assert domain.dkim_published_at is None


def test_the_dmarc_reporting_address_comes_from_the_setting(user, settings):
    settings.DMARC_REPORT_ADDRESS = "dmarc@reports.consentmail.test"
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")

    assert _records(domain)["dmarc"].value == (
        "v=DMARC1; p=none; rua=mailto:dmarc@reports.consentmail.test; adkim=r; aspf=r"
    )


@pytest.mark.parametrize(
    ("domain", "organisational"),
    [
        ("news.acme.co.uk", "acme.co.uk"),
        ("a.b.c.example.com", "example.com"),
        ("shop.example.github.io", "example.github.io"),  # a private suffix of the list
        ("co.uk", "co.uk"),
        ("News.Example.COM.", "example.com"),
    ],
)
def test_the_organisational_domain_comes_from_the_public_suffix_list(domain, organisational):
    assert sender_dns.organisational_domain(domain) == organisational


def test_dmarc_of_the_organisational_domain_applies_not_an_intermediate_ones(user, dns_server):
    """RFC 7489: the fallback is the organisational domain's record (public suffix list), not the
    nearest parent's: _dmarc.shop.acme.co.uk does not govern news.shop.acme.co.uk."""
    domain = services.sender_domain_add(account=user.account, domain="news.shop.acme.co.uk")
    dns_server.set_records(
        {
            "_dmarc.shop.acme.co.uk": ["v=DMARC1; p=reject"],
            "_dmarc.acme.co.uk": ["v=DMARC1; p=quarantine; sp=none; rua=mailto:d@acme.co.uk"],
        }
    )

    dmarc = _check(user, domain).findings["dmarc"]

    assert dmarc["records"] == ["v=DMARC1; p=quarantine; sp=none; rua=mailto:d@acme.co.uk"]
    assert said(dmarc)[0] == "Inherited from acme.co.uk: the policy for subdomains is none."


# --- rotation ------------------------------------------------------------------------------------


def test_a_rotation_switches_keys_only_once_the_new_one_is_published(user, dns_server):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    old_selector, old_key = domain.signing_selector, domain.signing_public_key
    current = _records(domain)["dkim"]
    dns_server.set_records(
        {"news.acme.test": [domain.txt_record_value], current.name: [current.value]}
    )
    domain = _check(user, domain)
    SenderDomain.objects.filter(pk=domain.pk).update(verified_at=timezone.now())

    rotated = services.sender_domain_rotate_key(account=user.account, domain_id=domain.pk)
    again = services.sender_domain_rotate_key(account=user.account, domain_id=domain.pk)

    assert again.next_signing_selector == rotated.next_signing_selector  # idempotent
    assert rotated.next_signing_selector not in ("", old_selector)
    new = _records(rotated)["dkim_next"]
    assert new.status == "unchecked"
    # Not published yet: a check keeps the old key, and mail is still signed with it.
    domain = _check(user, rotated)
    assert domain.signing_selector == old_selector
    assert _records(domain)["dkim_next"].status == "missing"
    signed = dkim.dkim_sign(b"From: a@news.acme.test\r\n\r\nHi\r\n", "news.acme.test")
    assert f"s={old_selector};".encode() in signed

    dns_server.set_records(
        {
            "news.acme.test": [domain.txt_record_value],
            current.name: [current.value],
            new.name: [new.value],
        }
    )
    domain = _check(user, domain)

    assert domain.signing_selector == rotated.next_signing_selector
    assert domain.signing_public_key == rotated.next_signing_public_key
    assert domain.next_signing_selector == ""
    assert (domain.retired_signing_selector, domain.retired_signing_public_key) == (
        old_selector,
        old_key,
    )
    records = _records(domain)
    assert records["dkim"].status == "found"
    assert records["dkim_retired"].name == f"{old_selector}._domainkey.news.acme.test"
    assert "dkim_next" not in records
    signed = dkim.dkim_sign(b"From: a@news.acme.test\r\n\r\nHi\r\n", "news.acme.test")
    assert f"s={domain.signing_selector};".encode() in signed


def test_another_account_cannot_rotate_a_domains_key(user, other_user):
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")

    with pytest.raises(services.NotFound):
        services.sender_domain_rotate_key(account=other_user.account, domain_id=domain.pk)

    domain.refresh_from_db()
    assert domain.next_signing_selector == ""


# --- the page ------------------------------------------------------------------------------------


def test_the_domain_page_shows_every_record_with_a_copy_button(client, user, dns_server):
    client.force_login(user)
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    dns_server.set_records(
        {"news.acme.test": [domain.txt_record_value, "v=spf1 include:_spf.other.test -all"]}
    )
    _check(user, domain)

    html = client.get(f"/account/domains/{domain.pk}/").content.decode()

    for key in ("ownership", "dkim", "spf", "dmarc"):
        assert f'id="record-{key}-value"' in html
        assert f'data-copy="record-{key}-value"' in html
    assert 'id="record-ownership-status">found<' in html
    assert 'id="record-spf-status">wrong<' in html
    assert 'id="record-dkim-status">missing<' in html
    assert "v=spf1 include:_spf.other.test -all" in html  # what we saw
    assert "the selector your mail provider signs with" not in html
    assert 'name="dkim_selector"' not in html  # we sign: no selector to give
    # The copy script is loaded once, at the end of the page, not inside the window's title.
    title = html[html.index("<title>") : html.index("</title>")]
    assert "<script" not in title
    assert html.count("js/copy-snippet") == 1


def test_a_domain_added_before_we_signed_gets_its_key_on_first_view(client, user):
    client.force_login(user)
    domain = SenderDomain.objects.create(
        account=user.account, domain="old.acme.test", verification_token="b" * 32
    )

    html = client.get(f"/account/domains/{domain.pk}/").content.decode()

    domain.refresh_from_db()
    assert domain.signing_selector and domain.signing_key
    assert f"{domain.signing_selector}._domainkey.old.acme.test" in html


def test_with_an_esp_the_page_says_the_esp_signs_and_asks_its_selector(client, user, settings):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    client.force_login(user)
    domain = services.sender_domain_add(
        account=user.account, domain="news.acme.test", dkim_selector="mx"
    )

    html = client.get(f"/account/domains/{domain.pk}/").content.decode()

    assert "Mail is sent through mailgun" in html
    assert "mx._domainkey.news.acme.test" in html
    assert 'name="dkim_selector"' in html
    assert domain.signing_selector not in html  # our key is not what receivers will see
    assert "Rotate the DKIM key" not in html


def test_the_rotate_button_makes_a_new_key(client, user):
    client.force_login(user)
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")

    response = client.post(f"/account/domains/{domain.pk}/rotate-key/")

    assert response.status_code == 302
    domain.refresh_from_db()
    assert domain.next_signing_selector
    assert client.post(f"/account/domains/{domain.pk + 999}/rotate-key/").status_code == 404


def test_the_api_lists_the_records_with_their_checks(token_client):
    body = token_client.post(
        "/api/v1/sender-domains/", {"domain": "news.acme.test"}, format="json"
    ).json()

    records = {record["key"]: record for record in body["records"]}
    assert list(records) == ["ownership", "dkim", "spf", "dmarc"]
    domain = SenderDomain.objects.get(pk=body["id"])
    assert records["dkim"] == {
        "key": "dkim",
        "type": "TXT",
        "name": f"{domain.signing_selector}._domainkey.news.acme.test",
        "value": f"v=DKIM1; k=rsa; p={domain.signing_public_key}",
        "status": "unchecked",
        "seen": [],
        "messages": [],
    }
    assert "signing_key" not in body and "private" not in str(body).lower()
