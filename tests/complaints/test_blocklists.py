"""The blocklist watch (complaints.blocklists) against a real DNS server on 127.0.0.1 serving
listed and unlisted names, Spamhaus's "query refused" return codes among them; the verdict that
sends a listed From domain's campaign to review; what moderators and the sender see."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import SenderDomain
from campaigns.verdict import ProbeFigures, Thresholds, judge, with_blocklisted_domain
from complaints import blocklists
from complaints.blocklists import (
    blocklists_check,
    domain_query_name,
    ip_query_name,
)
from complaints.models import BlocklistListing
from complaints.tasks import check_blocklists
from config.coded_text import render
from moderation.models import AccountFlag
from tests.campaigns.factories import (
    approve_now,
    end_hold_now,
    submitted_campaign,
    subscribe_many,
)
from tests.factories import SenderDomainFactory, UserFactory

pytestmark = pytest.mark.django_db

IP_ZONE = "zen.bl.test"
DOMAIN_ZONE = "dbl.bl.test"
LISTED_IP = "192.0.2.10"
CLEAN_IP = "192.0.2.20"


@pytest.fixture
def watch(settings, dns_server):
    settings.DNSBL_IP_ZONES = [IP_ZONE]
    settings.DNSBL_DOMAIN_ZONES = [DOMAIN_ZONE]
    settings.SENDING_IPS = [LISTED_IP, CLEAN_IP]
    return dns_server


def publish(server, *, a: dict[str, list[str]], txt: dict[str, list[str]] | None = None) -> None:
    server.a_records = {name: list(addresses) for name, addresses in a.items()}
    server.set_records(txt or {})


def listings():
    return list(
        BlocklistListing.objects.order_by("kind", "subject", "zone").values_list(
            "kind", "subject", "zone", "codes", "reason", "cleared_at"
        )
    )


def test_query_names_reverse_the_ip_and_append_the_zone():
    assert ip_query_name("192.0.2.10", "zen.spamhaus.org") == "10.2.0.192.zen.spamhaus.org"
    assert ip_query_name(" 2001:db8::1 ", "zen.spamhaus.org.") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"
    )
    assert domain_query_name("news.acme.example", "dbl.spamhaus.org") == (
        "news.acme.example.dbl.spamhaus.org"
    )
    with pytest.raises(ValueError):
        ip_query_name("not-an-ip", "zen.spamhaus.org")


def test_no_zone_configured_asks_nothing_and_records_nothing(settings, sender_domain):
    settings.DNSBL_IP_ZONES = []
    settings.DNSBL_DOMAIN_ZONES = []
    settings.SENDING_IPS = [LISTED_IP]

    summary = blocklists_check()

    assert summary.as_dict() == {
        "checked": 0,
        "listed": 0,
        "opened": 0,
        "cleared": 0,
        "errors": [],
    }
    assert BlocklistListing.objects.count() == 0


def test_listed_ip_and_domain_are_recorded_with_codes_and_reason(watch, sender_domain):
    SenderDomainFactory(domain="unverified.example", verified_at=None)
    clean = SenderDomainFactory(domain="clean.example", verified_at=timezone.now())
    publish(
        watch,
        a={
            f"10.2.0.192.{IP_ZONE}": ["127.0.0.2", "127.0.0.4"],
            f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"],
            f"unverified.example.{DOMAIN_ZONE}": ["127.0.1.2"],
        },
        txt={
            f"10.2.0.192.{IP_ZONE}": ["Listed by SBL, see https://check.example/sbl"],
            f"news.acme.example.{DOMAIN_ZONE}": ["spam domain"],
        },
    )

    summary = blocklists_check()

    # Two IPs and two verified domains, one zone each; the unverified domain is never asked.
    assert summary.as_dict() == {
        "checked": 4,
        "listed": 2,
        "opened": 2,
        "cleared": 0,
        "errors": [],
    }
    assert listings() == [
        ("domain", "news.acme.example", DOMAIN_ZONE, ["127.0.1.2"], "spam domain", None),
        (
            "ip",
            LISTED_IP,
            IP_ZONE,
            ["127.0.0.2", "127.0.0.4"],
            "Listed by SBL, see https://check.example/sbl",
            None,
        ),
    ]
    domain_listing = BlocklistListing.objects.get(kind="domain")
    assert domain_listing.sender_domain == sender_domain
    sender_domain.refresh_from_db()
    assert sender_domain.blocklisted_at == domain_listing.first_seen_at
    assert sender_domain.blocklist_zones == [DOMAIN_ZONE]
    clean.refresh_from_db()
    assert (clean.blocklisted_at, clean.blocklist_zones) == (None, [])


def test_a_second_run_changes_nothing_but_last_seen(watch, sender_domain):
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"]})
    blocklists_check()
    first = BlocklistListing.objects.get()
    sender_domain.refresh_from_db()
    listed_since = sender_domain.blocklisted_at

    summary = blocklists_check()

    assert (summary.opened, summary.listed, summary.cleared) == (0, 1, 0)
    again = BlocklistListing.objects.get()
    assert again.pk == first.pk
    assert again.first_seen_at == first.first_seen_at
    assert again.last_seen_at > first.last_seen_at
    assert again.cleared_at is None
    sender_domain.refresh_from_db()
    assert sender_domain.blocklisted_at == listed_since


def test_a_delisted_name_is_cleared_and_a_relisting_opens_a_new_listing(watch, sender_domain):
    publish(
        watch,
        a={
            f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"],
            f"10.2.0.192.{IP_ZONE}": ["127.0.0.2"],
        },
    )
    blocklists_check()

    publish(watch, a={})
    summary = blocklists_check()

    assert (summary.opened, summary.listed, summary.cleared) == (0, 0, 2)
    assert BlocklistListing.objects.filter(cleared_at=None).count() == 0
    assert BlocklistListing.objects.count() == 2
    sender_domain.refresh_from_db()
    assert (sender_domain.blocklisted_at, sender_domain.blocklist_zones) == (None, [])

    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.3"]})
    blocklists_check()

    assert BlocklistListing.objects.count() == 3
    reopened = BlocklistListing.objects.get(cleared_at=None)
    assert (reopened.kind, reopened.codes) == ("domain", ["127.0.1.3"])


@pytest.mark.parametrize("code", ["127.255.255.252", "127.255.255.254", "127.255.255.255"])
def test_query_refused_codes_are_errors_not_listings(watch, sender_domain, code):
    publish(
        watch,
        a={f"news.acme.example.{DOMAIN_ZONE}": [code], f"10.2.0.192.{IP_ZONE}": [code]},
    )

    summary = blocklists_check()

    assert (summary.listed, summary.opened) == (0, 0)
    assert summary.errors == [
        f"10.2.0.192.{IP_ZONE}: the zone refused the query ({code})",
        f"news.acme.example.{DOMAIN_ZONE}: the zone refused the query ({code})",
    ]
    assert BlocklistListing.objects.count() == 0
    sender_domain.refresh_from_db()
    assert sender_domain.blocklisted_at is None


def test_a_refused_query_leaves_an_open_listing_open(watch, sender_domain):
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"]})
    blocklists_check()
    sender_domain.refresh_from_db()
    since = sender_domain.blocklisted_at

    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.255.255.254"]})
    summary = blocklists_check()

    assert summary.cleared == 0
    assert BlocklistListing.objects.get().cleared_at is None
    sender_domain.refresh_from_db()
    assert sender_domain.blocklisted_at == since


def test_an_answer_outside_127_is_an_error(watch, sender_domain):
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["192.0.2.1"]})

    summary = blocklists_check()

    assert summary.errors == [
        f"news.acme.example.{DOMAIN_ZONE}: not a blocklist answer (192.0.2.1)"
    ]
    assert BlocklistListing.objects.count() == 0


def test_an_unreachable_server_is_an_error_and_clears_nothing(watch, settings, sender_domain):
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"]})
    blocklists_check()
    watch.stop()
    settings.DNS_TIMEOUT = 0.3

    summary = blocklists_check()

    assert summary.listed == 0 and summary.cleared == 0
    assert len(summary.errors) == 3
    assert BlocklistListing.objects.get().cleared_at is None


def test_listings_no_longer_watched_are_cleared(watch, settings, sender_domain):
    publish(
        watch,
        a={
            f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"],
            f"10.2.0.192.{IP_ZONE}": ["127.0.0.2"],
        },
    )
    blocklists_check()
    settings.SENDING_IPS = [CLEAN_IP]
    SenderDomain.objects.filter(pk=sender_domain.pk).update(verified_at=None)

    summary = blocklists_check()

    assert summary.cleared == 2
    assert BlocklistListing.objects.filter(cleared_at=None).count() == 0
    sender_domain.refresh_from_db()
    assert (sender_domain.blocklisted_at, sender_domain.blocklist_zones) == (None, [])


def test_one_question_per_domain_and_zone_whatever_the_accounts(watch, sender_domain, monkeypatch):
    twin = SenderDomainFactory(domain="news.acme.example", verified_at=timezone.now())
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"]})
    asked = []
    real = blocklists.zone_answer
    monkeypatch.setattr(
        blocklists, "zone_answer", lambda name, **kw: asked.append(name) or real(name, **kw)
    )

    blocklists_check()

    assert asked.count(f"news.acme.example.{DOMAIN_ZONE}") == 1
    assert set(BlocklistListing.objects.values_list("sender_domain_id", flat=True)) == {
        sender_domain.pk,
        twin.pk,
    }


def test_the_task_runs_the_check_and_is_safe_twice(watch, sender_domain):
    publish(watch, a={f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"]})

    first = check_blocklists()
    second = check_blocklists()

    assert (first["opened"], second["opened"]) == (1, 0)
    assert BlocklistListing.objects.count() == 1


def test_beat_runs_the_check_every_blocklist_check_seconds():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["check-blocklists"] == {
        "task": "complaints.check_blocklists",
        "schedule": settings.BLOCKLIST_CHECK_SECONDS,
    }
    assert (settings.DNSBL_IP_ZONES, settings.DNSBL_DOMAIN_ZONES, settings.SENDING_IPS) == (
        [],
        [],
        [],
    )


# --- the verdict -------------------------------------------------------------------------------


def test_with_blocklisted_domain_sends_a_green_verdict_to_review():
    green = judge(ProbeFigures(sent=100, opens=20), Thresholds.from_settings())
    assert green.rule == "green"

    verdict = with_blocklisted_domain(green, domain="acme.example", zones=["dbl.bl.test"])

    assert (verdict.tier, verdict.rule, verdict.flag_account) == (
        "review",
        "domain_blocklisted",
        False,
    )
    assert verdict.reasons[0] == (
        "The From domain acme.example is listed on dbl.bl.test: mail from it is likely to be "
        "refused or filtered, so a moderator decides whether the rest goes."
    )
    assert verdict.reasons[1:] == green.reasons
    assert with_blocklisted_domain(green, domain="acme.example", zones=[]) is green


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


def test_a_listed_from_domain_sends_the_campaign_to_review(
    mailing_list, moderator, django_capture_on_commit_callbacks
):
    subscribe_many(mailing_list, 40)
    campaign = submitted_campaign(mailing_list)
    domain = campaign.from_email.rpartition("@")[2]
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    SenderDomain.objects.filter(account=campaign.account, domain=domain).update(
        blocklisted_at=timezone.now() - timedelta(hours=1), blocklist_zones=[DOMAIN_ZONE]
    )

    assert end_hold_now(campaign, django_capture_on_commit_callbacks) == {campaign.pk: "review"}

    assert campaign.status == "review"
    assert campaign.verdict["rule"] == "domain_blocklisted"
    assert render(campaign.verdict["reasons"][0]).startswith(
        f"The From domain {domain} is listed on {DOMAIN_ZONE}:"
    )
    assert campaign.deliveries.filter(is_probe=False, status="waiting").count() == 36
    assert not AccountFlag.objects.filter(account=campaign.account).exists()


@pytest.mark.parametrize(
    ("language", "rule_text"),
    [("en", "The From domain is on a blocklist"), ("ru", "Домен отправителя в чёрном списке")],
)
def test_the_sender_reads_the_blocklist_rule_on_the_campaign_page(
    client, user, mailing_list, moderator, django_capture_on_commit_callbacks, language, rule_text
):
    subscribe_many(mailing_list, 40)
    campaign = submitted_campaign(mailing_list)
    domain = campaign.from_email.rpartition("@")[2]
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    SenderDomain.objects.filter(account=campaign.account, domain=domain).update(
        blocklisted_at=timezone.now(), blocklist_zones=[DOMAIN_ZONE]
    )
    end_hold_now(campaign, django_capture_on_commit_callbacks)
    client.force_login(user)

    html = client.get(
        reverse("campaign_detail", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()

    # The rule in words; its code only as data, never shown (issue 23, item 2).
    assert f'<span id="verdict-rule" data-rule="domain_blocklisted">{rule_text}</span>' in html


def test_a_listing_of_another_domain_does_not_hold_the_campaign(
    mailing_list, moderator, django_capture_on_commit_callbacks
):
    subscribe_many(mailing_list, 40)
    campaign = submitted_campaign(mailing_list)
    SenderDomainFactory(
        account=campaign.account,
        domain="other.example",
        verified_at=timezone.now(),
        blocklisted_at=timezone.now(),
        blocklist_zones=[DOMAIN_ZONE],
    )
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)

    assert end_hold_now(campaign, django_capture_on_commit_callbacks) == {campaign.pk: "green"}
    assert campaign.verdict["rule"] == "green"


# --- what people see ---------------------------------------------------------------------------


def listed_domain(sender_domain, *, cleared=False):
    now = timezone.now()
    listing = BlocklistListing.objects.create(
        kind="domain",
        subject=sender_domain.domain,
        zone=DOMAIN_ZONE,
        sender_domain=sender_domain,
        codes=["127.0.1.2"],
        reason="spam domain",
        cleared_at=now if cleared else None,
    )
    if not cleared:
        SenderDomain.objects.filter(pk=sender_domain.pk).update(
            blocklisted_at=listing.first_seen_at, blocklist_zones=[DOMAIN_ZONE]
        )
    return listing


@pytest.mark.parametrize(
    ("language", "heading", "badge"),
    [("en", "Blocklists", "Listed"), ("ru", "Чёрные списки", "В списке")],
)
def test_moderators_see_the_accounts_domain_listings(
    client, moderator, sender_domain, language, heading, badge
):
    listing = listed_domain(sender_domain)
    client.force_login(moderator)

    response = client.get(
        reverse("moderation_account", args=[sender_domain.account_id]),
        HTTP_ACCEPT_LANGUAGE=language,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="listing-{listing.pk}"' in html
    assert heading in html
    assert f'<span class="badge error">{badge}</span> news.acme.example' in html
    assert "spam domain" in html


def test_an_account_without_listings_says_so(client, moderator, sender_domain):
    client.force_login(moderator)

    response = client.get(reverse("moderation_account", args=[sender_domain.account_id]))

    assert 'id="no-blocklistings"' in response.content.decode()


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "The service's sending IPs"), ("ru", "Сервисные IP-адреса отправки")],
)
def test_moderators_see_the_sending_ip_listings(
    client, moderator, sender_domain, settings, language, heading
):
    settings.SENDING_IPS = [LISTED_IP]
    settings.DNSBL_IP_ZONES = [IP_ZONE]
    ip = BlocklistListing.objects.create(
        kind="ip", subject=LISTED_IP, zone=IP_ZONE, codes=["127.0.0.2"], reason="SBL"
    )
    old = BlocklistListing.objects.create(
        kind="ip", subject=CLEAN_IP, zone=IP_ZONE, codes=["127.0.0.3"], cleared_at=timezone.now()
    )
    domain = listed_domain(sender_domain)
    client.force_login(moderator)

    response = client.get(reverse("moderation_blocklists"), HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    assert response.status_code == 200
    assert heading in html
    assert html.index(f'id="listing-{ip.pk}"') < html.index(f'id="listing-{old.pk}"')
    assert f'id="listing-{domain.pk}"' in html
    assert sender_domain.account.company_name in html


def test_the_blocklists_page_is_for_staff_only(client, user):
    client.force_login(user)

    response = client.get(reverse("moderation_blocklists"))

    assert response.status_code in (302, 403, 404)


@pytest.mark.parametrize(
    ("language", "text", "badge"),
    [
        ("en", "This domain is on a blocklist: dbl.bl.test", "Blocklisted"),
        ("ru", "Этот домен в чёрном списке: dbl.bl.test", "В чёрном списке"),
    ],
)
def test_the_sender_sees_the_listing_on_the_domain_pages(
    client, user, sender_domain, language, text, badge
):
    listed_domain(sender_domain)
    client.force_login(user)

    page = client.get(
        reverse("sender_domain", args=[sender_domain.pk]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    index = client.get(reverse("sender_domains"), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert 'id="blocklisted-banner"' in page
    assert text in page
    assert f'<span class="badge error blocklisted">{badge}</span>' in index


def test_the_sender_sees_no_banner_once_cleared(client, user, sender_domain):
    listed_domain(sender_domain, cleared=True)
    client.force_login(user)

    page = client.get(reverse("sender_domain", args=[sender_domain.pk])).content.decode()

    assert 'id="blocklisted-banner"' not in page


@pytest.mark.parametrize(
    ("language", "subject"),
    [("en", "news.acme.example is on a blocklist"), ("ru", "news.acme.example в чёрном списке")],
)
def test_a_new_domain_listing_notifies_the_account_once(
    watch, user, sender_domain, django_capture_on_commit_callbacks, language, subject
):
    from accounts.models import Notification

    user.language = language
    user.save(update_fields=["language"])
    publish(
        watch,
        a={
            f"news.acme.example.{DOMAIN_ZONE}": ["127.0.1.2"],
            f"10.2.0.192.{IP_ZONE}": ["127.0.0.2"],
        },
        txt={f"news.acme.example.{DOMAIN_ZONE}": ["spam domain"]},
    )

    with django_capture_on_commit_callbacks() as callbacks:
        blocklists_check()
        blocklists_check()

    notification = Notification.objects.get()
    assert notification.account == sender_domain.account
    with translation.override(language):
        assert render(notification.subject) == subject
        body = render(notification.body)
    assert notification.level == "warning"
    assert notification.link == reverse("sender_domain", args=[sender_domain.pk])
    assert DOMAIN_ZONE in body and "127.0.1.2" in body
    assert body.endswith("spam domain")
    assert len(callbacks) == 1  # the one e-mail of the one notification
