"""Sender domains: adding, DNS verification against a real local DNS server, isolation.

The `dns_server` fixture runs dnsmasq on 127.0.0.1 (a dnslib stand-in locally when dnsmasq is not
installed) and points DNS_NAMESERVERS at it; names are under the reserved .test TLD.
"""

import socket
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts import dns as sender_dns
from accounts import services
from accounts.models import SenderDomain
from config.coded_text import render
from config.errors import ApplicationError, NotFound
from tests.dns_server import free_port
from tests.factories import SenderDomainFactory

pytestmark = pytest.mark.django_db


def said(check: dict) -> list[str]:
    """A stored check's messages (coded text) in the active language."""
    return [render(message) for message in check["messages"]]


LIST_URL = "/api/v1/sender-domains/"
DKIM_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu5Zp8Ub1dQ4k0m9ZC0mXGvq0lJrl8YV2B8sO4lC6Xh1QxD4"
    "YqS0wX9o2n5Zc0bJ3fO8pW7kQn4Hh5QkVdQ1mK3nJmQ4j8tLz7b2K1sYv9Wc6XgR2dP0fH8uE3aT5yN7iO4lM1kJ2hG"
    "9fD6sA3qW0eR8tY5uI2oP7lK4jH1gF6dS3aZ0xC9vB2nM5QIDAQAB"
)


def detail_url(domain_id: int) -> str:
    return f"/api/v1/sender-domains/{domain_id}/"


def verify_url(domain_id: int) -> str:
    return f"/api/v1/sender-domains/{domain_id}/verify/"


def publish(dns_server, domain: SenderDomain, **overrides) -> None:
    """A well set-up domain: token, SPF -all with our include, DMARC p=reject, our DKIM key at
    our selector (we sign: the test settings' backend is not an ESP's).

    The SPF record and the DKIM key come as multi-string TXT records, as providers publish them.
    Pass apex=/dmarc=/dkim= lists to replace a part, selector= to put the DKIM key elsewhere.
    """
    name = domain.domain
    ours = domain.signing_public_key
    records = {
        name: overrides.get(
            "apex",
            [
                domain.txt_record_value,
                (
                    "v=spf1 ip4:192.0.2.0/24 ",
                    f"include:_spf.mailer.test include:{settings.SPF_INCLUDE} -all",
                ),
                "google-site-verification=unrelated",
            ],
        ),
        f"_dmarc.{name}": overrides.get(
            "dmarc", ["v=DMARC1; p=reject; rua=mailto:dmarc@example.test"]
        ),
        f"{overrides.get('selector', domain.signing_selector)}._domainkey.{name}": overrides.get(
            "dkim", [("v=DKIM1; k=rsa; p=", ours[:200], ours[200:])]
        ),
    }
    dns_server.set_records(records)


def add(account, domain="news.example.test", selector="s1") -> SenderDomain:
    return services.sender_domain_add(account=account, domain=domain, dkim_selector=selector)


def statuses(findings: dict) -> dict:
    return {check: findings[check]["status"] for check in ("verification", "spf", "dmarc", "dkim")}


@pytest.fixture(autouse=True)
def _never_the_system_resolver(settings):
    """Until a test sets a server, lookups go to a closed local port, never out of 127.0.0.1."""
    settings.DNS_NAMESERVERS = [f"127.0.0.1:{free_port()}"]
    settings.DNS_TIMEOUT = 0.5


@pytest.fixture
def esp_backend(settings):
    """Mail goes out through an ESP (anymail): the DKIM checked is the ESP's, at the selector
    the user gave, and SPF is not required to include ours."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def unanswering_nameserver(settings):
    """DNS_NAMESERVERS on 127.0.0.1 ports where no DNS server answers: one bound but silent, one
    closed. Yields the list; the resolver times out (or is refused) on each."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    settings.DNS_TIMEOUT = 0.5
    try:
        yield [f"127.0.0.1:{silent.getsockname()[1]}", f"127.0.0.1:{free_port()}"]
    finally:
        silent.close()


# --- Adding ---------------------------------------------------------------------------------


def test_api_add_domain_returns_the_txt_record_to_publish(token_client):
    response = token_client.post(
        LIST_URL, {"domain": "  News.Example.TEST. ", "dkim_selector": "S1"}, format="json"
    )

    assert response.status_code == 201, response.data
    body = response.json()
    domain = SenderDomain.objects.get(pk=body["id"])
    assert domain.account == token_client.user.account
    assert body["domain"] == "news.example.test"
    assert body["dkim_selector"] == "s1"
    assert body["verified"] is False
    assert body["verified_at"] is None
    assert body["txt_record"] == {
        "type": "TXT",
        "name": "news.example.test",
        "value": f"consentmail-verification={domain.verification_token}",
    }
    assert len(domain.verification_token) == 32


def test_each_domain_gets_its_own_token(user):
    first = add(user.account, "a.example.test")
    second = add(user.account, "b.example.test")

    assert first.verification_token != second.verification_token


def test_api_add_accepts_an_internationalised_domain(token_client):
    response = token_client.post(LIST_URL, {"domain": "bücher.example.test"}, format="json")

    assert response.status_code == 201, response.data
    assert response.json()["domain"] == "xn--bcher-kva.example.test"


@pytest.mark.parametrize(
    "value",
    [
        "http://x.com",
        "https://x.com/path",
        "a@b.com",
        "nodot",
        "-bad-.com",
        "bad-.com",
        "exa mple.com",
        "under_score.com",
        "a..b.com",
        "",
        f"{'a' * 64}.com",
        "192.0.2.10",
    ],
)
def test_api_add_refuses_a_malformed_domain_with_a_field_error(token_client, value):
    response = token_client.post(LIST_URL, {"domain": value}, format="json")

    assert response.status_code == 400
    assert "domain" in response.json(), response.json()
    assert not SenderDomain.objects.exists()


def test_api_add_refuses_a_duplicate(token_client):
    assert token_client.post(LIST_URL, {"domain": "news.example.test"}).status_code == 201

    response = token_client.post(LIST_URL, {"domain": "NEWS.example.test."}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "domain": ["news.example.test is already one of your sender domains."]
    }
    assert SenderDomain.objects.count() == 1


def test_another_account_may_add_the_same_domain_with_another_token(user, other_user):
    mine = add(user.account)
    theirs = add(other_user.account)

    assert mine.domain == theirs.domain
    assert mine.verification_token != theirs.verification_token


@pytest.mark.parametrize("selector", ["s 1", "s1;", "s/1", "x" * 64])
def test_api_add_refuses_a_bad_dkim_selector(token_client, selector):
    response = token_client.post(
        LIST_URL, {"domain": "news.example.test", "dkim_selector": selector}, format="json"
    )

    assert response.status_code == 400
    assert "dkim_selector" in response.json()
    assert not SenderDomain.objects.exists()


# --- The local DNS server itself --------------------------------------------------------------


def test_txt_records_reads_the_local_server(dns_server):
    dns_server.set_records(
        {
            "example.test": ["one", ("two ", "parts"), ""],
            "deep.name.example.test": ["x"],
        }
    )
    resolver = sender_dns.build_resolver()

    assert sorted(sender_dns.txt_records("example.test", resolver=resolver)) == [
        "",
        "one",
        "two parts",
    ]
    assert sender_dns.txt_records("EXAMPLE.test.", resolver=resolver) != []
    # NXDOMAIN, and NOERROR without an answer (a name above another), are both "no record".
    assert sender_dns.txt_records("absent.example.test", resolver=resolver) == []
    assert sender_dns.txt_records("name.example.test", resolver=resolver) == []
    assert sender_dns.txt_records("elsewhere.invalid", resolver=resolver) == []


def test_dns_server_is_dnsmasq_in_ci(dns_server):
    from tests.conftest import IN_CI

    assert dns_server.address == f"127.0.0.1:{dns_server.port}"
    if IN_CI:
        assert dns_server.kind == "dnsmasq"


def test_resolver_honours_a_port_per_nameserver(settings):
    settings.DNS_NAMESERVERS = ["127.0.0.1:5353", "127.0.0.2", "10.0.0.1:53"]
    settings.DNS_TIMEOUT = 1.5

    resolver = sender_dns.build_resolver()

    assert [(ns.address, ns.port) for ns in resolver.nameservers] == [
        ("127.0.0.1", 5353),
        ("127.0.0.2", 53),
        ("10.0.0.1", 53),
    ]
    assert resolver.lifetime == 1.5


def test_verify_asks_the_nameserver_on_its_own_port(user, dns_server, settings):
    """A second, dead nameserver listed after the live one must not take over its port."""
    domain = add(user.account)
    publish(dns_server, domain)
    settings.DNS_NAMESERVERS = [dns_server.address, f"127.0.0.1:{free_port()}"]

    assert services.sender_domain_verify(account=user.account, domain_id=domain.pk).is_verified


# --- Verification succeeds ----------------------------------------------------------------------


def test_api_verify_succeeds_when_the_token_is_published(token_client, dns_server):
    domain_id = token_client.post(
        LIST_URL, {"domain": "news.example.test", "dkim_selector": "s1"}, format="json"
    ).json()["id"]
    domain = SenderDomain.objects.get(pk=domain_id)
    publish(dns_server, domain)

    response = token_client.post(verify_url(domain_id))

    assert response.status_code == 200, response.data
    body = response.json()
    assert body["verified"] is True
    assert body["verified_at"] is not None
    assert body["last_checked_at"] is not None
    findings = body["findings"]
    assert statuses(findings) == {"verification": "ok", "spf": "ok", "dmarc": "ok", "dkim": "ok"}
    assert findings["verification"]["records"] == [domain.txt_record_value]
    assert findings["spf"]["records"] == [
        "v=spf1 ip4:192.0.2.0/24 include:_spf.mailer.test include:_spf.consentmail.localhost -all"
    ]
    assert "'-all'" in said(findings["spf"])[0]
    assert said(findings["dmarc"]) == ["DMARC policy is p=reject."]
    # We sign, so the key checked is ours at our selector, not the "s1" given.
    assert f"{domain.signing_selector}._domainkey.news.example.test" in (said(findings["dkim"])[0])
    assert findings["dkim"]["records"] == [f"v=DKIM1; k=rsa; p={domain.signing_public_key}"]
    # The stored state matches, and GET shows it.
    domain.refresh_from_db()
    assert domain.is_verified
    assert token_client.get(detail_url(domain_id)).json()["verified"] is True


def test_verify_again_keeps_the_first_verification_time(user, dns_server):
    domain = add(user.account)
    publish(dns_server, domain)
    first = services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    second = services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    assert second.verified_at == first.verified_at
    assert second.last_checked_at >= first.last_checked_at


def test_token_among_other_records_and_with_spaces_verifies(user, dns_server):
    domain = add(user.account, selector="")
    dns_server.set_txt(
        domain.domain, ["v=spf1 -all", f"  {domain.txt_record_value} ", "other=thing"]
    )

    domain = services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    assert domain.is_verified
    assert domain.findings["dkim"]["status"] == "missing"
    assert said(domain.findings["dkim"]) == [
        f"{domain.signing_selector}._domainkey.{domain.domain} has no DKIM key record."
    ]


# --- Verification fails -------------------------------------------------------------------------


def test_api_verify_without_any_record_is_missing(token_client, dns_server):
    domain = add(token_client.user.account)

    response = token_client.post(verify_url(domain.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["verified"] is False
    assert body["verified_at"] is None
    assert body["last_checked_at"] is not None
    assert statuses(body["findings"]) == {
        "verification": "missing",
        "spf": "missing",
        "dmarc": "missing",
        "dkim": "missing",
    }
    assert domain.txt_record_value in said(body["findings"]["verification"])[0]


def test_api_verify_with_another_token_is_an_error(token_client, dns_server):
    domain = add(token_client.user.account)
    publish(dns_server, domain, apex=["consentmail-verification=0123456789abcdef", "v=spf1 -all"])

    body = token_client.post(verify_url(domain.pk)).json()

    assert body["verified"] is False
    assert body["findings"]["verification"]["status"] == "error"
    assert body["findings"]["verification"]["records"] == [
        "consentmail-verification=0123456789abcdef"
    ]
    assert "token differs" in said(body["findings"]["verification"])[0]


def test_token_of_another_domain_on_this_name_does_not_verify(user, other_user, dns_server):
    mine = add(user.account)
    theirs = add(other_user.account)
    publish(dns_server, theirs)

    mine = services.sender_domain_verify(account=user.account, domain_id=mine.pk)

    assert not mine.is_verified
    assert mine.findings["verification"]["status"] == "error"


def test_verification_is_withdrawn_when_the_record_disappears(token_client, dns_server):
    domain = add(token_client.user.account)
    publish(dns_server, domain)
    assert token_client.post(verify_url(domain.pk)).json()["verified"] is True

    dns_server.set_txt(domain.domain, ["v=spf1 -all"])
    body = token_client.post(verify_url(domain.pk)).json()

    assert body["verified"] is False
    assert body["findings"]["verification"]["status"] == "missing"
    domain.refresh_from_db()
    assert domain.verified_at is None


def test_verify_with_a_domain_too_long_for_its_dmarc_name(user, dns_server):
    """_dmarc.<253 characters> cannot exist: that is "missing", not a server error."""
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 56, "test"])
    assert len(name) == 253
    domain = add(user.account, name, selector="s1")
    dns_server.set_txt(name, [domain.txt_record_value, "v=spf1 -all"])

    domain = services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    assert domain.is_verified
    assert domain.findings["dmarc"]["status"] == "missing"
    assert domain.findings["dkim"]["status"] == "missing"


# --- SPF, DMARC, DKIM judgements ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spf_records", "status", "message"),
    [
        (["v=spf1 include:_spf.mailer.test include:{ours} -all"], "ok", "'-all'"),
        (["v=spf1 include:{ours} ~all"], "ok", "'~all'"),
        (["v=spf1 +include:{ours}. ~all"], "ok", "authorises us"),
        (["v=spf1 redirect={ours}"], "warning", "no 'all'"),
        (["v=spf1 +all"], "error", "'+all'"),
        (["v=spf1 a mx all"], "error", "'+all'"),
        (["v=spf1 include:{ours} ?all"], "warning", "'?all'"),
        (["v=spf1 include:{ours}"], "warning", "no 'all'"),
        # An SPF record that authorises only someone else is not "ok" (the case).
        (["v=spf1 include:_spf.mailer.test -all"], "error", "does not authorise us"),
        (["v=spf1 include:spf.sendall"], "error", "does not authorise us"),
        (["v=spf1 -include:{ours} ~all"], "error", "does not authorise us"),
        (["v=spf1 include:{ours}.evil.test ~all"], "error", "does not authorise us"),
        (["v=spf1 -all", "v=spf1 include:{ours} ~all"], "error", "More than one"),
        (["V=SPF1 MX INCLUDE:{OURS} -ALL"], "ok", "'-all'"),
        (["v=spf10 -all"], "missing", "no SPF"),
        ([], "missing", "no SPF"),
    ],
)
def test_spf_judgement(user, dns_server, spf_records, status, message):
    domain = add(user.account)
    include = settings.SPF_INCLUDE
    spf_records = [
        record.replace("{ours}", include).replace("{OURS}", include.upper())
        for record in spf_records
    ]
    publish(dns_server, domain, apex=[domain.txt_record_value, *spf_records])

    spf = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings["spf"]

    assert spf["status"] == status, spf
    assert message in " ".join(said(spf))


def test_spf_does_not_make_or_break_ownership(user, dns_server):
    domain = add(user.account)
    publish(dns_server, domain, apex=[domain.txt_record_value, "v=spf1 +all"])

    domain = services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    assert domain.is_verified
    assert domain.findings["spf"]["status"] == "error"


@pytest.mark.parametrize(
    ("dmarc_records", "status", "message"),
    [
        (["v=DMARC1; p=reject; rua=mailto:d@example.test"], "ok", "p=reject"),
        (["v=DMARC1;p=quarantine;rua=mailto:d@example.test"], "ok", "p=quarantine"),
        (["v=DMARC1; p=none; rua=mailto:d@example.test"], "warning", "p=none"),
        (["v=DMARC1; P=None"], "warning", "No 'rua='"),
        (["v=DMARC1; rua=mailto:d@example.test"], "error", "no valid 'p='"),
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], "error", "More than one"),
        (["some other text"], "missing", "no DMARC record"),
        ([], "missing", "no DMARC record"),
    ],
)
def test_dmarc_judgement(user, dns_server, dmarc_records, status, message):
    domain = add(user.account)
    publish(dns_server, domain, dmarc=dmarc_records)

    dmarc = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings[
        "dmarc"
    ]

    assert dmarc["status"] == status, dmarc
    assert message in " ".join(said(dmarc))


@pytest.mark.parametrize(
    ("dkim_records", "status", "message"),
    [
        ([("v=DKIM1; k=rsa; ", f"p={DKIM_KEY}")], "ok", "k=rsa"),
        ([f"v=DKIM1; k=ed25519; p={DKIM_KEY[:44]}"], "ok", "k=ed25519"),
        (["v=DKIM1; k=rsa; p="], "error", "revoked"),
        (["v=DKIM1; k=rsa; p= ; n=rotated"], "error", "revoked"),
        (["n=see help=https://example.test/dkim"], "missing", "no DKIM key"),
        ([], "missing", "no DKIM key"),
    ],
)
def test_dkim_judgement_of_an_esps_key(
    user, dns_server, esp_backend, dkim_records, status, message
):
    domain = add(user.account)
    publish(dns_server, domain, selector="s1", dkim=dkim_records)

    dkim = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings["dkim"]

    assert dkim["status"] == status, dkim
    assert message in " ".join(said(dkim))


def test_an_esps_dkim_is_looked_up_at_the_selector_of_the_domain(user, dns_server, esp_backend):
    domain = add(user.account, selector="mail")
    publish(dns_server, domain, selector="s1", dkim=[f"v=DKIM1; k=rsa; p={DKIM_KEY}"])

    dkim = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings["dkim"]

    assert dkim["status"] == "missing"
    assert "mail._domainkey.news.example.test" in said(dkim)[0]


# --- The DNS cannot be asked ----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["silent", "closed"])
def test_api_verify_when_the_nameserver_does_not_answer_changes_nothing(
    token_client, settings, unanswering_nameserver, which
):
    checked = timezone.now() - timedelta(days=1)
    domain = SenderDomainFactory(
        account=token_client.user.account,
        verified_at=checked,
        last_checked_at=checked,
        findings={"verification": {"status": "ok", "records": [], "messages": []}},
    )
    settings.DNS_NAMESERVERS = [unanswering_nameserver[0 if which == "silent" else 1]]

    response = token_client.post(verify_url(domain.pk))

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("The DNS check could not be completed"), detail
    assert "Try again" in detail
    domain.refresh_from_db()
    assert domain.verified_at == checked
    assert domain.last_checked_at == checked
    assert domain.findings == {"verification": {"status": "ok", "records": [], "messages": []}}


def test_service_verify_when_the_nameserver_does_not_answer_raises(
    user, settings, unanswering_nameserver
):
    domain = add(user.account)
    settings.DNS_NAMESERVERS = unanswering_nameserver

    with pytest.raises(ApplicationError, match="could not be completed"):
        services.sender_domain_verify(account=user.account, domain_id=domain.pk)

    domain.refresh_from_db()
    assert domain.last_checked_at is None
    assert domain.findings == {}


# --- Listing, deleting, isolation, token scope ----------------------------------------------------


def test_api_list_shows_only_the_accounts_domains(token_client, other_user):
    add(token_client.user.account, "b.example.test")
    add(token_client.user.account, "a.example.test")
    add(other_user.account, "theirs.example.test")

    body = token_client.get(LIST_URL).json()

    assert body["count"] == 2
    assert [row["domain"] for row in body["results"]] == ["a.example.test", "b.example.test"]


def test_api_delete_removes_the_domain(token_client):
    domain = add(token_client.user.account)

    assert token_client.delete(detail_url(domain.pk)).status_code == 204
    assert not SenderDomain.objects.filter(pk=domain.pk).exists()
    assert token_client.delete(detail_url(domain.pk)).status_code == 404
    assert token_client.get(detail_url(domain.pk)).status_code == 404


def test_api_another_accounts_domain_is_not_found(token_client, other_user, dns_server):
    theirs = add(other_user.account)
    publish(dns_server, theirs)

    assert token_client.get(detail_url(theirs.pk)).status_code == 404
    assert token_client.post(verify_url(theirs.pk)).status_code == 404
    assert token_client.delete(detail_url(theirs.pk)).status_code == 404
    assert token_client.get(LIST_URL).json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.last_checked_at is None
    assert not theirs.is_verified


def test_services_refuse_another_accounts_domain(user, other_user):
    theirs = add(other_user.account)

    with pytest.raises(NotFound):
        services.sender_domain_verify(account=user.account, domain_id=theirs.pk)
    with pytest.raises(NotFound):
        services.sender_domain_delete(account=user.account, domain_id=theirs.pk)
    assert SenderDomain.objects.filter(pk=theirs.pk).exists()


def test_read_only_token_can_read_but_not_change(read_only_token_client):
    domain = add(read_only_token_client.user.account)

    assert read_only_token_client.get(LIST_URL).status_code == 200
    assert read_only_token_client.get(detail_url(domain.pk)).status_code == 200
    response = read_only_token_client.post(LIST_URL, {"domain": "x.example.test"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "This API token is read-only."}
    assert read_only_token_client.post(verify_url(domain.pk)).status_code == 403
    assert read_only_token_client.delete(detail_url(domain.pk)).status_code == 403
    assert list(SenderDomain.objects.values_list("domain", flat=True)) == [domain.domain]


def test_api_needs_a_token(api_client, user):
    domain = add(user.account)

    assert api_client.get(LIST_URL).status_code == 401
    assert api_client.post(verify_url(domain.pk)).status_code == 401


# --- Browser pages ------------------------------------------------------------------------------


def test_page_add_then_verify(client, user, dns_server):
    client.force_login(user)

    response = client.post(
        "/account/domains/", {"domain": "Shop.Example.test", "dkim_selector": ""}
    )

    domain = SenderDomain.objects.get(account=user.account)
    assert domain.domain == "shop.example.test"
    assert response.status_code == 302
    assert response["Location"] == f"/account/domains/{domain.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert domain.txt_record_value in page
    assert "Not verified" in page

    response = client.post(f"/account/domains/{domain.pk}/verify/", follow=True)
    page = response.content.decode()
    assert "Add a TXT record on shop.example.test with the value" in page
    assert "Not verified" in page

    publish(dns_server, domain)
    response = client.post(f"/account/domains/{domain.pk}/verify/", follow=True)

    page = response.content.decode()
    assert response.redirect_chain == [(f"/account/domains/{domain.pk}/", 302)]
    assert "shop.example.test is verified." in page
    assert 'id="domain-status">Verified<' in page
    assert "DMARC policy is p=reject." in page
    domain.refresh_from_db()
    assert domain.is_verified


def test_page_add_refuses_a_malformed_domain(client, user):
    client.force_login(user)

    response = client.post("/account/domains/", {"domain": "http://x.com"})

    assert response.status_code == 200
    assert "Enter a bare domain name such as example.com." in response.content.decode()
    assert not SenderDomain.objects.exists()


def test_page_verify_reports_an_unanswering_nameserver(
    client, user, settings, unanswering_nameserver
):
    client.force_login(user)
    domain = add(user.account)
    settings.DNS_NAMESERVERS = unanswering_nameserver[:1]

    response = client.post(f"/account/domains/{domain.pk}/verify/", follow=True)

    assert "The DNS check could not be completed" in response.content.decode()
    domain.refresh_from_db()
    assert domain.last_checked_at is None


def test_pages_of_another_accounts_domain_are_not_found(client, user, other_user):
    theirs = add(other_user.account)
    client.force_login(user)

    assert client.get(f"/account/domains/{theirs.pk}/").status_code == 404
    assert client.post(f"/account/domains/{theirs.pk}/verify/").status_code == 404
    assert client.post(f"/account/domains/{theirs.pk}/delete/").status_code == 404
    assert theirs.domain not in client.get("/account/domains/").content.decode()
    assert SenderDomain.objects.filter(pk=theirs.pk).exists()


# --- DMARC inheritance, dotted selectors, addresses on IDN domains ------------------------------


def test_dmarc_of_the_parent_domain_governs_a_subdomain_without_its_own(user, dns_server):
    domain = add(user.account)  # news.example.test
    publish(dns_server, domain, dmarc=[])
    dns_server.set_txt("_dmarc.example.test", ["v=DMARC1; p=none; sp=reject; rua=mailto:d@x.test"])

    dmarc = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings[
        "dmarc"
    ]

    assert dmarc["status"] == "ok"
    assert said(dmarc)[0] == ("Inherited from example.test: the policy for subdomains is reject.")


def test_a_dotted_dkim_selector_is_accepted_and_looked_up(user, dns_server, esp_backend):
    domain = add(user.account, selector="2026.Mail")
    assert domain.dkim_selector == "2026.mail"
    dns_server.set_records(
        {
            domain.domain: [domain.txt_record_value],
            f"2026.mail._domainkey.{domain.domain}": [f"v=DKIM1; k=rsa; p={DKIM_KEY}"],
        }
    )

    dkim = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings["dkim"]

    assert dkim["status"] == "ok"


@pytest.mark.parametrize("selector", ["a..b", ".s1", "s1."])
def test_empty_selector_labels_are_refused(user, selector):
    with pytest.raises(ApplicationError):
        add(user.account, selector=selector)
    assert SenderDomain.objects.count() == 0


def test_the_verified_domain_of_an_address_is_found_for_idn_and_case(user):
    from accounts.selectors import sender_domain_for_address

    domain = add(user.account, domain="bücher.test")
    assert sender_domain_for_address(account=user.account, email="shop@BÜCHER.test") is None
    SenderDomain.objects.filter(pk=domain.pk).update(verified_at=timezone.now())

    found = sender_domain_for_address(account=user.account, email="shop@BÜCHER.test")

    assert found is not None and found.domain == "xn--bcher-kva.test"
    assert sender_domain_for_address(account=user.account, email="shop@other.test") is None
    assert sender_domain_for_address(account=user.account, email="no-at-sign") is None


# --- The scheduled re-check ---------------------------------------------------------------------


def test_the_scheduled_recheck_withdraws_a_removed_token_and_keeps_the_rest(user, dns_server):
    from accounts.tasks import recheck_sender_domains

    kept, removed, fresh = (add(user.account, f"{n}.example.test") for n in ("kept", "gone", "new"))
    dns_server.set_records({d.domain: [d.txt_record_value] for d in (kept, removed, fresh)})
    for domain in (kept, removed, fresh):
        services.sender_domain_verify(account=user.account, domain_id=domain.pk)
    long_ago = timezone.now() - timedelta(days=2)
    SenderDomain.objects.filter(pk__in=[kept.pk, removed.pk]).update(last_checked_at=long_ago)
    dns_server.set_records({kept.domain: [kept.txt_record_value]})

    assert recheck_sender_domains.delay().get() == {"checked": 2, "withdrawn": 1, "failed": 0}
    assert recheck_sender_domains.delay().get() == {"checked": 0, "withdrawn": 0, "failed": 0}

    states = dict(SenderDomain.objects.values_list("domain", "verified_at"))
    assert states[kept.domain] is not None
    assert states[removed.domain] is None
    assert states[fresh.domain] is not None  # checked recently: not due, left alone


def test_the_scheduled_recheck_keeps_state_when_dns_cannot_be_asked(user, settings):
    domain = SenderDomainFactory(
        account=user.account,
        verified_at=timezone.now(),
        last_checked_at=timezone.now() - timedelta(days=2),
    )

    counts = services.sender_domains_recheck(older_than=timedelta(hours=24))

    assert counts == {"checked": 0, "withdrawn": 0, "failed": 1}
    domain.refresh_from_db()
    assert domain.is_verified


def test_an_invalid_inherited_sp_falls_back_to_the_parents_p(user, dns_server):
    domain = add(user.account)
    publish(dns_server, domain, dmarc=[])
    dns_server.set_txt("_dmarc.example.test", ["v=DMARC1; p=none; sp=bogus; rua=mailto:d@x.test"])

    dmarc = services.sender_domain_verify(account=user.account, domain_id=domain.pk).findings[
        "dmarc"
    ]

    assert dmarc["status"] == "warning"
    assert said(dmarc)[0] == "Inherited from example.test: the policy for subdomains is none."
