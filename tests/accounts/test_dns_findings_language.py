"""A sender domain's DNS findings are stored as codes and read in the reader's language, on the
domain page and in the API (issue 23); findings stored as sentences still read."""

from html import unescape

import pytest
from django.urls import reverse

from accounts import dns
from tests.factories import SenderDomainFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def domain(user):
    findings = dns.DomainFindings(
        verification=dns.check_verification("acme.example", "cm-verify=abc", []),
        spf=dns.check_spf("acme.example", []),
        dmarc=dns.check_dmarc("acme.example", ["v=DMARC1; p=none"]),
        dkim=dns.check_dkim("acme.example", "", []),
    )
    return SenderDomainFactory(
        account=user.account, domain="acme.example", findings=findings.as_dict()
    )


def test_the_findings_are_stored_as_codes(domain):
    assert domain.findings["spf"]["messages"] == [
        {"code": "accounts.dns.spf_missing", "params": {"domain": "acme.example"}}
    ]


def test_the_domain_page_shows_the_findings_in_the_readers_language(client, user, domain):
    user.language = "ru"
    user.save(update_fields=["language"])
    client.force_login(user)

    page = unescape(client.get(reverse("sender_domain", args=[domain.pk])).content.decode())

    assert "У acme.example нет SPF-записи." in page
    assert "Нет адреса 'rua=': вы не будете получать сводные отчёты." in page
    assert "publishes no SPF record" not in page


def test_the_api_gives_the_findings_in_the_requests_language(token_client, domain):
    url = f"/api/v1/sender-domains/{domain.pk}/"
    russian = token_client.get(url, headers={"accept-language": "ru"}).json()
    english = token_client.get(url, headers={"accept-language": "en"}).json()

    assert russian["findings"]["spf"]["messages"] == ["У acme.example нет SPF-записи."]
    assert english["findings"]["spf"]["messages"] == ["acme.example publishes no SPF record."]
    spf = next(record for record in russian["records"] if record["key"] == "spf")
    assert spf["messages"] == ["У acme.example нет SPF-записи."]


def test_findings_stored_as_sentences_still_read(client, user, domain):
    domain.findings["spf"]["messages"] = ["An old English sentence."]
    domain.save(update_fields=["findings"])
    client.force_login(user)

    page = unescape(client.get(reverse("sender_domain", args=[domain.pk])).content.decode())

    assert "An old English sentence." in page
