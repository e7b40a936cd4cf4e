"""The dashboard's getting-started checklist walks the whole path: e-mail, company, domain
records (with their live checks), list, subscribers, draft, test send, submission."""

import re

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import SenderDomain
from campaigns.models import CampaignTestSend
from campaigns.selectors import getting_started
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

STEPS = ["email", "profile", "domain", "list", "subscribers", "draft", "test", "submit"]


def _states(client) -> dict[str, str]:
    html = client.get("/dashboard/").content.decode()
    found = re.findall(r'<li id="step-(\w+)"><span class="badge[^"]*">(Done|To do)</span>', html)
    return dict(found)


def _all_found(domain: SenderDomain) -> dict:
    def ok(name):
        return {"status": "ok", "records": [], "messages": []}

    return {
        "verification": ok("verification"),
        "spf": ok("spf"),
        "dmarc": ok("dmarc"),
        "dkim": ok("dkim"),
        "dkim_selector": domain.signing_selector,
        "dkim_next_selector": "",
    }


def test_each_step_is_done_as_the_account_gets_there(client, user):
    client.force_login(user)
    user.email_verified_at = None
    user.save()
    account = user.account
    account.phone = ""
    account.save()

    assert _states(client) == dict.fromkeys(STEPS, "To do")

    user.email_verified_at = timezone.now()
    user.save()
    account.phone = "+44 20 7946 0000"
    account.save()
    domain = services.sender_domain_add(account=account, domain="news.acme.test")
    assert _states(client)["domain"] == "To do"
    domain.verified_at = timezone.now()
    domain.findings = _all_found(domain)
    domain.save()
    mailing_list = MailingListFactory(account=account)
    assert [_states(client)[step] for step in STEPS[:5]] == ["Done"] * 4 + ["To do"]
    SubscriberFactory(mailing_list=mailing_list)
    campaign = CampaignFactory(account=account, status="draft", from_email="a@news.acme.test")
    assert [_states(client)[step] for step in STEPS] == ["Done"] * 6 + ["To do"] * 2
    CampaignTestSend.objects.create(
        campaign=campaign, account=account, sent_by=user, to_email=user.email
    )
    campaign.submitted_at = timezone.now()
    campaign.save()

    assert _states(client) == dict.fromkeys(STEPS, "Done")


def test_the_domain_step_shows_each_records_live_check(client, user):
    client.force_login(user)
    domain = services.sender_domain_add(account=user.account, domain="news.acme.test")
    findings = _all_found(domain)
    findings["spf"] = {"status": "error", "records": ["v=spf1 -all"], "messages": []}
    domain.findings = findings
    domain.verified_at = timezone.now()
    domain.save()

    html = client.get("/dashboard/").content.decode()

    assert _states(client)["domain"] == "To do"
    assert f'href="/account/domains/{domain.pk}/">Publish your sender domain' in html
    assert re.search(r'class="badge ok" id="step-record-ownership"', html)
    assert re.search(r'class="badge ok" id="step-record-dkim"', html)
    assert re.search(r'class="badge missing" id="step-record-spf"', html)


def test_the_facts_come_in_one_query_and_never_from_another_account(
    user, other_user, django_assert_num_queries
):
    other_list = MailingListFactory(account=other_user.account)
    SubscriberFactory(mailing_list=other_list)
    CampaignFactory(account=other_user.account, submitted_at=timezone.now())

    with django_assert_num_queries(1):
        facts = getting_started(account=user.account)

    assert facts == type(facts)(
        has_list=False,
        has_subscribers_or_import=False,
        has_campaign=False,
        has_test_send=False,
        has_submitted=False,
    )


def test_a_welcome_message_is_not_the_campaign_the_checklist_asks_for(user):
    from campaigns.models import CampaignKind

    welcome = CampaignFactory(account=user.account, kind=CampaignKind.WELCOME)
    welcome.submitted_at = timezone.now()
    welcome.save(update_fields=["submitted_at"])

    facts = getting_started(account=user.account)

    assert (facts.has_campaign, facts.has_submitted) == (False, False)
    CampaignFactory(account=user.account, submitted_at=timezone.now())
    facts = getting_started(account=user.account)
    assert (facts.has_campaign, facts.has_submitted) == (True, True)
