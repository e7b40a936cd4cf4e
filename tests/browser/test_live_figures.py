"""The campaign page's figures follow its live timeline without a reload (issue 23, item 5): when
the timeline says every message is sent, the figures below say so too."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import delivery
from campaigns import views as campaign_views
from campaigns.models import Campaign
from moderation import services as moderation
from tests.browser.conftest import log_in
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_figures_move_with_the_timeline(page, site, settings, monkeypatch, screenshot):
    settings.HOLD_SECONDS = 3600
    monkeypatch.setattr(campaign_views, "PROGRESS_POLL_SECONDS", 1)
    user = UserFactory(email="lee@bakery.example")
    SenderDomainFactory(
        account=user.account, domain="news.bakery.example", verified_at=timezone.now()
    )
    mailing_list = MailingListFactory(account=user.account, name="Bakery news")
    subscribe_many(mailing_list, 120)
    campaign = submitted_campaign(
        mailing_list, from_email="news@news.bakery.example", subject="Cakes are here"
    )
    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )

    # Loaded during the hold: the probe's 12 are sent.
    log_in(page, site, user)
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    page.evaluate("window.stillTheSamePage = true")
    sent = page.locator("#figure-sent td")
    expect(sent).to_have_text(["12", "12"])

    # The hold ends, the probe is judged and the rest released; the workers send it.
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now())
    with monkeypatch.context() as patch:
        patch.setattr(delivery, "dispatch", lambda *, campaign_id: 0)
        assert moderation.holds_evaluate() == {campaign.pk: "green"}
    expect(page.locator("#releasing")).to_contain_text("12 of 120 sent.")
    expect(page.locator("#figure-pending td")).to_have_text(["0", "108"])
    delivery.dispatch(campaign_id=campaign.pk)

    expect(page.locator("#finished")).to_contain_text("Sent to every recipient")
    expect(sent).to_have_text(["12", "120"])
    expect(page.locator("#figure-pending td")).to_have_text(["0", "0"])
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "campaign-live-figures")
