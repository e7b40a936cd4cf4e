"""The sender's browser pages for campaigns: the list, the editor and its live preview, the
campaign page with its findings, test sends and the moves through moderation."""

import re
from html import unescape
from types import SimpleNamespace

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AccountState
from campaigns.models import Campaign, CampaignStatusChange, CampaignTestSend
from campaigns.states import CampaignStatus
from tests.campaigns.factories import CampaignFactory
from tests.factories import SenderDomainFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

# The content analyser is another app's; here it says what each test needs it to say.
FINDINGS: list[dict] = []
BLOCKING = {
    "code": "link.shortener",
    "severity": "block",
    "reason": "Links through URL shorteners hide where they lead.",
    "where": "body",
    "excerpt": "bit.ly/x",
}
REVIEW = {
    "code": "subject.all_caps",
    "severity": "review",
    "reason": "The subject is mostly capitals.",
    "where": "subject",
    "excerpt": "BIG NEWS",
}


def stub_analyser(campaign):
    return [SimpleNamespace(as_dict=lambda finding=finding: dict(finding)) for finding in FINDINGS]


@pytest.fixture(autouse=True)
def analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_views.stub_analyser"
    FINDINGS.clear()
    yield FINDINGS
    FINDINGS.clear()


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def campaign(account, sender_domain, mailing_list, subscriber):
    return CampaignFactory(
        account=account,
        name="November news",
        lists=[mailing_list],
        from_email="news@news.acme.example",
    )


@pytest.fixture
def foreign_campaign(other_user):
    other_list = MailingListFactory(account=other_user.account)
    SubscriberFactory(mailing_list=other_list)
    return CampaignFactory(account=other_user.account, lists=[other_list])


def _text(response) -> str:
    return unescape(response.content.decode())


def _words(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", _text(response)).split())


def _form_data(fields: dict, **changes) -> dict:
    return {**fields, **changes, "action": "save"}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _set_status(campaign: Campaign, status: str) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()


# --- access --------------------------------------------------------------------------------------


def test_pages_need_a_login(client, campaign):
    for url in (
        reverse("campaigns"),
        reverse("campaign_create"),
        reverse("campaign_detail", args=[campaign.pk]),
        reverse("campaign_edit", args=[campaign.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_another_accounts_campaign_is_a_404_on_every_page(owner, foreign_campaign):
    pk = foreign_campaign.pk
    for name in ("campaign_detail", "campaign_edit", "campaign_cancel", "campaign_delete"):
        assert owner.get(reverse(name, args=[pk])).status_code == 404, name
    for name in (
        "campaign_edit",
        "campaign_preview",
        "campaign_test_send",
        "campaign_submit",
        "campaign_withdraw",
        "campaign_cancel",
        "campaign_delete",
    ):
        assert owner.post(reverse(name, args=[pk]), {"subject": "x"}).status_code == 404, name

    foreign_campaign.refresh_from_db()
    assert foreign_campaign.status == CampaignStatus.DRAFT
    assert foreign_campaign.subject == "News for {{ subscriber.first_name | default('you') }}"
    assert not CampaignStatusChange.objects.exists()
    assert not CampaignTestSend.objects.exists()
    assert mail.outbox == []


def test_the_nav_links_to_campaigns_and_marks_the_section(owner, campaign):
    response = owner.get(reverse("campaign_detail", args=[campaign.pk]))

    assert re.search(r'<a href="/campaigns/" aria-current="page">Campaigns</a>', _text(response))


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_each_campaign_with_its_status_badge(owner, account, campaign):
    sent = CampaignFactory(account=account, name="October news", lists=[campaign.lists.first()])
    _set_status(sent, CampaignStatus.SENT)
    waiting = CampaignFactory(account=account, name="Winter sale")
    _set_status(waiting, CampaignStatus.SUBMITTED)

    response = owner.get(reverse("campaigns"))

    assert response.status_code == 200
    page = _text(response)
    assert '<span class="badge status status-draft">Draft</span>' in page
    assert '<span class="badge status status-sent">Sent</span>' in page
    assert '<span class="badge status status-submitted">Submitted for moderation</span>' in page
    rows = re.findall(r'<a href="/campaigns/(\d+)/">([^<]+)</a>', page)
    assert rows == [
        (str(waiting.pk), "Winter sale"),
        (str(sent.pk), "October news"),
        (str(campaign.pk), "November news"),
    ]
    assert "Monthly news" in page
    assert 'href="/campaigns/new/"' in page


def test_the_list_filters_by_status(owner, account, campaign):
    sent = CampaignFactory(account=account, name="October news")
    _set_status(sent, CampaignStatus.SENT)

    response = owner.get(reverse("campaigns"), {"status": "sent"})

    assert re.findall(r'<a href="/campaigns/\d+/">([^<]+)</a>', _text(response)) == ["October news"]


def test_the_empty_list_explains_what_to_do_and_links_to_sender_domains(owner, other_user):
    CampaignFactory(account=other_user.account, name="Not yours")

    response = owner.get(reverse("campaigns"))

    words = _words(response)
    assert "No campaigns yet" in words
    assert "Not yours" not in words
    assert "You can write, preview and test a campaign now; to submit it, verify a" in words
    assert f'href="{reverse("sender_domains")}"' in _text(response)


def test_the_empty_list_does_not_ask_for_a_domain_once_one_is_verified(owner, sender_domain):
    response = owner.get(reverse("campaigns"))

    assert "No campaigns yet" in _words(response)
    assert 'id="need-domain"' not in _text(response)


# --- the editor ----------------------------------------------------------------------------------


def test_the_new_campaign_form_offers_the_accounts_lists_and_domains(
    owner, account, sender_domain, mailing_list, other_user
):
    MailingListFactory(account=other_user.account, name="Someone else's list")
    SenderDomainFactory(account=account, domain="unverified.example")

    response = owner.get(reverse("campaign_create"))

    page = _text(response)
    assert response.status_code == 200
    assert f'name="lists" value="{mailing_list.pk}"' in page
    assert "Someone else's list" not in page
    # Every domain of the account is offered (a draft may use one not verified yet); the hint
    # names those a campaign can be submitted from.
    assert (
        '<datalist id="from-domains"><option value="@news.acme.example"></option>'
        '<option value="@unverified.example"></option></datalist>'
    ) in page
    assert (
        "Any address for a draft; to submit, it must be on a verified sender domain of yours: "
        "news.acme.example."
    ) in page
    assert f'value="{account.company_name}"' in page  # the From name starts as the company's
    # The preview pane already shows the footer, for a made-up recipient.
    assert '<iframe id="preview-html" class="mail-frame" sandbox=""' in page
    assert "Unsubscribe" in page


def test_create_saves_a_draft_and_redirects_to_it(owner, user, campaign_fields, mailing_list):
    response = owner.post(reverse("campaign_create"), _form_data(campaign_fields))

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    assert campaign.account == user.account
    assert campaign.created_by == user
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.name == "November news"
    assert campaign.from_email == "news@news.acme.example"
    assert list(campaign.lists.all()) == [mailing_list]
    followed = owner.get(response["Location"])
    assert _messages(followed) == [
        "Draft “November news” saved. Send yourself a test, then submit it for moderation."
    ]


def test_a_draft_from_an_unverified_domain_is_saved_and_its_page_says_what_is_missing(
    owner, campaign_fields
):
    response = owner.post(
        reverse("campaign_create"), _form_data(campaign_fields, from_email="news@elsewhere.example")
    )

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert campaign.from_email == "news@elsewhere.example"
    page = owner.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert (
        '<p class="errorlist nonfield" id="submit-sender-missing">news@elsewhere.example is not '
        "on a sender domain of your account. Add elsewhere.example under Sender domains"
    ) in page


def test_an_invalid_from_address_is_an_error_on_the_field_and_saves_nothing(owner, campaign_fields):
    response = owner.post(
        reverse("campaign_create"), _form_data(campaign_fields, from_email="news@")
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["from_email"]
    assert errors[0].startswith("Not a valid e-mail address: ")
    assert 'value="news@"' in response.content.decode()  # what was typed is kept
    assert not Campaign.objects.exists()


def test_missing_fields_and_lists_are_errors_and_save_nothing(owner, campaign_fields):
    data = _form_data(campaign_fields, subject="", name="")
    del data["lists"]

    response = owner.post(reverse("campaign_create"), data)

    errors = response.context["form"].errors
    assert errors["lists"] == ["Choose at least one list or segment."]
    assert errors["subject"] == ["This field is required."]
    assert errors["name"] == ["This field is required."]
    assert not Campaign.objects.exists()


def test_another_accounts_list_cannot_be_chosen(owner, campaign_fields, other_user):
    foreign = MailingListFactory(account=other_user.account)

    response = owner.post(
        reverse("campaign_create"), _form_data(campaign_fields, lists=[foreign.pk])
    )

    assert response.status_code == 200
    assert "lists" in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_a_bad_merge_tag_is_an_error_on_its_field(owner, campaign_fields):
    response = owner.post(
        reverse("campaign_create"),
        _form_data(campaign_fields, html_body="<p>{{ settings.SECRET_KEY }}</p>"),
    )

    errors = response.context["form"].errors
    assert list(errors) == ["html_body"]
    assert "{{settings.SECRET_KEY}} is not allowed" in errors["html_body"][0]
    assert not Campaign.objects.exists()


def test_the_preview_button_without_javascript_shows_the_posted_content_and_saves_nothing(
    owner, campaign_fields, subscriber
):
    data = {**campaign_fields, "action": "preview", "name": ""}
    data["html_body"] = "<p>Dear {{ subscriber.name }}, our autumn menu is here.</p>"

    response = owner.post(reverse("campaign_create"), data)

    assert response.status_code == 200
    assert not Campaign.objects.exists()
    preview = response.context["preview"]
    assert preview["errors"] == {}
    assert "Dear Ann Lee, our autumn menu is here." in preview["html"]
    assert preview["subject"] == "Hello Ann"
    # Shown in the sandboxed frame, escaped into its srcdoc attribute; no "required" errors.
    page = response.content.decode()
    assert 'srcdoc="&lt;!DOCTYPE html&gt;' in page
    assert "Dear Ann Lee, our autumn menu is here." in unescape(page)
    assert "This field is required." not in page
    assert 'value="Hello {{ subscriber.first_name | default(&#x27;friend&#x27;) }}"' in page


def test_the_preview_button_shows_compile_errors_in_the_preview(owner, campaign_fields):
    data = {**campaign_fields, "action": "preview", "subject": "Hi {{ settings.DEBUG }}"}

    response = owner.post(reverse("campaign_create"), data)

    assert not Campaign.objects.exists()
    labels = [label for label, _ in response.context["preview_errors"]]
    assert labels == ["Subject"]
    assert "{{settings.DEBUG}} is not allowed" in _words(response)


def test_the_edit_page_shows_the_saved_campaign_and_saves_changes(owner, campaign, mailing_list):
    page = owner.get(reverse("campaign_edit", args=[campaign.pk]))
    assert page.status_code == 200
    assert 'value="November news"' in page.content.decode()
    assert f'name="lists" value="{mailing_list.pk}" id="id_lists_0" checked' in _text(page)

    data = {
        "name": "November news (final)",
        "lists": [mailing_list.pk],
        "subject": "Our November",
        "from_name": "Acme",
        "from_email": "hello@news.acme.example",
        "reply_to": "desk@acme.example",
        "html_body": "<p>New things.</p>",
        "text_body": "",
        "action": "save",
    }
    response = owner.post(reverse("campaign_edit", args=[campaign.pk]), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    campaign.refresh_from_db()
    assert (campaign.name, campaign.subject, campaign.from_email, campaign.reply_to) == (
        "November news (final)",
        "Our November",
        "hello@news.acme.example",
        "desk@acme.example",
    )


def test_editing_a_submitted_campaign_redirects_to_its_page(owner, campaign):
    _set_status(campaign, CampaignStatus.SUBMITTED)

    response = owner.get(reverse("campaign_edit", args=[campaign.pk]))
    posted = owner.post(
        reverse("campaign_edit", args=[campaign.pk]),
        {"name": "Changed", "subject": "Changed", "action": "save"},
    )

    for result in (response, posted):
        assert result.status_code == 302
        assert result["Location"] == reverse("campaign_detail", args=[campaign.pk])
    followed = owner.get(response["Location"])
    assert (
        "This campaign is submitted for moderation: only draft or rejected campaigns can be edited."
        in _messages(followed)
    )
    campaign.refresh_from_db()
    assert campaign.name == "November news"


def test_a_rejected_campaign_can_be_edited(owner, campaign):
    _set_status(campaign, CampaignStatus.REJECTED)

    response = owner.get(reverse("campaign_edit", args=[campaign.pk]))

    assert response.status_code == 200
    assert 'id="rejected-note"' in response.content.decode()


# --- the live preview (JSON) ---------------------------------------------------------------------


def test_the_preview_endpoint_returns_the_message_with_its_footer(
    owner, campaign_fields, subscriber
):
    response = owner.post(reverse("campaign_preview_new"), campaign_fields)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["errors"] == {}
    assert data["subject"] == "Hello Ann"
    assert data["from"] == "Acme News <news@news.acme.example>"
    assert data["to"] == "Ann Lee <ann.lee@example.org>"
    assert data["is_sample"] is False
    assert data["recipient"] == {
        "email": "ann.lee@example.org",
        "name": "Ann Lee",
        "subscriber_id": subscriber.pk,
    }
    assert data["recipients"] == [{"id": subscriber.pk, "label": "Ann Lee <ann.lee@example.org>"}]
    assert "Hi Ann Lee, see" in data["html"]
    for part in (data["html"], data["text"]):
        assert "Unsubscribe" in part
        assert "/u/" in part
        assert "Monthly news" in part  # why they get it: the list they subscribed to
    assert "Hi Ann Lee, see new" in data["text"]  # made from the HTML
    assert not Campaign.objects.exists()


def test_the_preview_endpoint_reports_a_forbidden_merge_tag(owner, campaign_fields):
    response = owner.post(
        reverse("campaign_preview_new"),
        {**campaign_fields, "html_body": "<p>{{ settings.SECRET_KEY }}</p>"},
    )

    data = response.json()
    assert response.status_code == 200
    assert list(data["errors"]) == ["html_body"]
    assert "{{settings.SECRET_KEY}} is not allowed" in data["errors"]["html_body"][0]
    assert data["html"] == data["text"] == data["subject"] == ""
    assert "test-secret-key" not in response.content.decode()


def test_the_preview_uses_a_sample_recipient_without_lists_or_subscribers(owner, campaign_fields):
    response = owner.post(reverse("campaign_preview_new"), {**campaign_fields, "lists": []})

    data = response.json()
    assert data["is_sample"] is True
    assert data["to"] == "Jane Doe <jane.doe@example.com>"
    assert data["subject"] == "Hello Jane"
    assert "Unsubscribe" in data["html"]


def test_the_preview_as_a_chosen_subscriber(owner, campaign_fields, mailing_list, subscriber):
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org", name="Bob Stone")

    response = owner.post(
        reverse("campaign_preview_new"), {**campaign_fields, "subscriber_id": bob.pk}
    )

    data = response.json()
    assert data["errors"] == {}
    assert data["subject"] == "Hello Bob"
    assert data["recipient"]["subscriber_id"] == bob.pk


def test_the_preview_never_reads_another_accounts_lists_or_subscribers(
    owner, campaign_fields, other_user
):
    foreign_list = MailingListFactory(account=other_user.account, name="Their list")
    stranger = SubscriberFactory(
        mailing_list=foreign_list, email="secret@example.org", name="Secret Person"
    )

    response = owner.post(
        reverse("campaign_preview_new"),
        {**campaign_fields, "lists": [foreign_list.pk], "subscriber_id": stranger.pk},
    )

    data = response.json()
    assert data["is_sample"] is True
    assert data["errors"] == {
        "subscriber_id": [
            "That subscriber is not on the chosen lists; showing the first one instead."
        ]
    }
    body = response.content.decode()
    assert "secret@example.org" not in body
    assert "Their list" not in body


def test_the_preview_of_a_saved_campaign_uses_the_posted_unsaved_content(owner, campaign):
    response = owner.post(
        reverse("campaign_preview", args=[campaign.pk]),
        {
            "lists": [campaign.lists.first().pk],
            "subject": "Unsaved subject",
            "from_name": "Acme",
            "from_email": "news@news.acme.example",
            "html_body": "<p>Unsaved body</p>",
        },
    )

    data = response.json()
    assert data["subject"] == "Unsaved subject"
    assert "Unsaved body" in data["html"]
    campaign.refresh_from_db()
    assert campaign.subject == "News for {{ subscriber.first_name | default('you') }}"


def test_the_preview_endpoint_takes_only_posts(owner):
    assert owner.get(reverse("campaign_preview_new")).status_code == 405


# --- the campaign page ---------------------------------------------------------------------------


def test_the_campaign_page_shows_summary_preview_history_and_actions(owner, user, campaign):
    response = owner.get(reverse("campaign_detail", args=[campaign.pk]))

    assert response.status_code == 200
    page = _text(response)
    words = _words(response)
    assert '<span class="badge status status-draft">Draft</span>' in page
    assert 'id="recipient-count">1</span> subscribed address' in page
    assert "Acme News &lt;news@news.acme.example&gt;" in response.content.decode()
    # The preview, as the first subscriber, sandboxed.
    assert re.search(
        r'<iframe id="preview-html" class="mail-frame" sandbox="" title="[^"]+" '
        r'srcdoc="&lt;!DOCTYPE html&gt;',
        response.content.decode(),
    )
    assert "Hello Ann Lee" in page
    assert re.search(r'<pre class="mail" id="preview-text"[^>]*>Hello Ann Lee', page)
    assert "Unsubscribe: http" in page
    assert "Created as a draft" in words
    assert "The automatic checks found nothing to flag." in words
    assert f"Send a test to {user.email}" in words
    for url in (
        reverse("campaign_edit", args=[campaign.pk]),
        reverse("campaign_submit", args=[campaign.pk]),
        reverse("campaign_test_send", args=[campaign.pk]),
        reverse("campaign_cancel", args=[campaign.pk]),
        reverse("campaign_delete", args=[campaign.pk]),
    ):
        assert f'"{url}"' in page
    assert reverse("campaign_withdraw", args=[campaign.pk]) not in page


def test_the_campaign_page_previews_as_a_chosen_subscriber(owner, campaign, mailing_list):
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org", name="Bob Stone")

    response = owner.get(reverse("campaign_detail", args=[campaign.pk]), {"subscriber": bob.pk})

    assert response.context["preview"]["recipient"]["subscriber_id"] == bob.pk
    assert "Hello Bob Stone" in _text(response)
    assert f'<input type="hidden" name="subscriber_id" value="{bob.pk}">' in _text(response)


def test_the_campaign_page_groups_the_findings_and_explains_blocking_ones(
    owner, campaign, analyser
):
    analyser.extend([BLOCKING, REVIEW])

    response = owner.get(reverse("campaign_detail", args=[campaign.pk]))

    words = _words(response)
    assert "Must be fixed before submitting" in words
    assert "Links through URL shorteners hide where they lead. In the body: bit.ly/x" in words
    assert "A moderator will look at these" in words
    assert "The subject is mostly capitals." in words
    assert words.index("Must be fixed") < words.index("A moderator will look")
    assert 'id="submit-blocked"' in _text(response)


def test_a_submitted_campaign_shows_the_findings_it_was_submitted_with(owner, campaign, analyser):
    _set_status(campaign, CampaignStatus.SUBMITTED)
    Campaign.objects.filter(pk=campaign.pk).update(findings=[REVIEW])
    analyser.append(BLOCKING)  # the analyser now would say otherwise: not what was submitted

    response = owner.get(reverse("campaign_detail", args=[campaign.pk]))

    words = _words(response)
    assert "Content checks when submitted" in words
    assert "The subject is mostly capitals." in words
    assert "URL shorteners" not in words
    assert reverse("campaign_withdraw", args=[campaign.pk]) in _text(response)
    assert reverse("campaign_edit", args=[campaign.pk]) not in _text(response)


# --- submit, withdraw, cancel, delete ------------------------------------------------------------


def test_submit_moves_the_campaign_to_moderation(owner, user, campaign, analyser):
    analyser.append(REVIEW)

    response = owner.post(reverse("campaign_submit", args=[campaign.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED
    assert campaign.findings == [REVIEW]
    change = CampaignStatusChange.objects.get()
    assert (change.old_status, change.new_status, change.actor) == ("draft", "submitted", user)
    followed = owner.get(response["Location"])
    assert _messages(followed)[0].startswith("Submitted for moderation.")
    assert '<span class="badge status status-submitted">Submitted for moderation</span>' in _text(
        followed
    )


def test_a_refused_submission_shows_the_message_and_the_findings(owner, campaign, analyser):
    analyser.extend([BLOCKING, REVIEW])

    response = owner.post(reverse("campaign_submit", args=[campaign.pk]), follow=True)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignStatusChange.objects.exists()
    assert _messages(response) == [
        "The campaign cannot be submitted: Links through URL shorteners hide where they lead."
    ]
    words = _words(response)
    assert "Must be fixed before submitting" in words
    assert "bit.ly/x" in words


def test_a_submission_with_no_one_to_send_to_is_refused_with_the_reason(owner, account):
    empty_list = MailingListFactory(account=account)
    campaign = CampaignFactory(account=account, lists=[empty_list])

    response = owner.post(reverse("campaign_submit", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    assert _messages(response) == [
        "The campaign's lists have no subscribed addresses: there is no one to send to."
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_withdraw_takes_a_submission_back_to_draft(owner, campaign):
    owner.post(reverse("campaign_submit", args=[campaign.pk]), follow=True)

    response = owner.post(reverse("campaign_withdraw", args=[campaign.pk]), follow=True)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert _messages(response) == ["Withdrawn from moderation: the campaign is a draft again."]


def test_withdrawing_an_approved_campaign_is_refused_with_a_message(owner, campaign):
    _set_status(campaign, CampaignStatus.APPROVED)

    response = owner.post(reverse("campaign_withdraw", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    assert _messages(response) == ["Only a campaign waiting for moderation can be withdrawn."]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED


def test_cancel_asks_first_then_cancels_with_the_reason(owner, user, campaign):
    page = owner.get(reverse("campaign_cancel", args=[campaign.pk]))
    assert page.status_code == 200
    assert "Cancel the campaign" in _words(page)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    response = owner.post(
        reverse("campaign_cancel", args=[campaign.pk]), {"reason": "Wrong month"}, follow=True
    )

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    change = CampaignStatusChange.objects.get()
    assert (change.new_status, change.reason, change.actor) == ("cancelled", "Wrong month", user)
    assert _messages(response) == ["Campaign “November news” cancelled."]
    assert "Wrong month" in _words(response)


def test_a_sent_campaign_cannot_be_cancelled_or_deleted(owner, campaign):
    _set_status(campaign, CampaignStatus.SENT)

    for name in ("campaign_cancel", "campaign_delete"):
        response = owner.post(reverse(name, args=[campaign.pk]))
        assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    page = owner.get(reverse("campaign_detail", args=[campaign.pk]))
    assert reverse("campaign_cancel", args=[campaign.pk]) not in _text(page)
    assert reverse("campaign_delete", args=[campaign.pk]) not in _text(page)


def test_delete_asks_first_then_deletes(owner, campaign):
    page = owner.get(reverse("campaign_delete", args=[campaign.pk]))
    assert page.status_code == 200
    assert Campaign.objects.filter(pk=campaign.pk).exists()

    response = owner.post(reverse("campaign_delete", args=[campaign.pk]), follow=True)

    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert response.redirect_chain[-1][0] == reverse("campaigns")
    assert _messages(response) == ["Campaign “November news” deleted."]


# --- test sends ----------------------------------------------------------------------------------


def test_a_test_send_mails_the_user_with_test_in_the_subject(owner, user, campaign, subscriber):
    response = owner.post(reverse("campaign_test_send", args=[campaign.pk]), follow=True)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "[Test] News for Ann"
    assert "Unsubscribe" in message.body
    assert _messages(response) == [
        f"Test sent to {user.email}. Its links are test links: following them changes nothing."
    ]
    sent = CampaignTestSend.objects.get()
    assert (sent.campaign, sent.to_email) == (campaign, user.email)
    assert re.search(rf"\d\d:\d\d</time> to {re.escape(user.email)}", _text(response))


def test_a_test_send_as_a_chosen_subscriber(owner, user, campaign, mailing_list):
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org", name="Bob Stone")

    response = owner.post(
        reverse("campaign_test_send", args=[campaign.pk]), {"subscriber_id": bob.pk}
    )

    assert response["Location"] == reverse("campaign_detail", args=[campaign.pk]) + (
        f"?subscriber={bob.pk}"
    )
    assert [m.subject for m in mail.outbox] == ["[Test] News for Bob"]
    assert mail.outbox[0].to == [user.email]


def test_a_test_send_to_an_unverified_address_is_refused_with_a_message(owner, user, campaign):
    user.email_verified_at = None
    user.save()

    response = owner.post(reverse("campaign_test_send", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    assert _messages(response) == [
        "The test was not sent. Verify your own e-mail address first: tests are sent to it."
    ]
    assert mail.outbox == []
    assert not CampaignTestSend.objects.exists()


def test_test_sends_are_rate_limited_with_a_message(owner, campaign, settings):
    settings.TEST_SENDS_PER_HOUR = 1
    owner.post(reverse("campaign_test_send", args=[campaign.pk]))

    response = owner.post(reverse("campaign_test_send", args=[campaign.pk]), follow=True)

    assert len(mail.outbox) == 1
    assert _messages(response)[-1] == (
        "The test was not sent. At most 1 test sends an hour; try again later."
    )


# --- a frozen account ----------------------------------------------------------------------------


@pytest.fixture
def frozen(account):
    account.state = AccountState.FROZEN
    account.state_reason = "Too many complaints."
    account.save()
    return account


def test_a_frozen_account_sees_a_banner_and_refusals_never_a_500(
    owner, campaign, campaign_fields, frozen
):
    for url in (
        reverse("campaigns"),
        reverse("campaign_create"),
        reverse("campaign_detail", args=[campaign.pk]),
        reverse("campaign_edit", args=[campaign.pk]),
    ):
        page = owner.get(url)
        assert page.status_code == 200, url
        assert "Your account is frozen. Campaigns cannot be created" in _words(page), url
        assert "Reason: Too many complaints." in _words(page), url

    created = owner.post(reverse("campaign_create"), _form_data(campaign_fields))
    assert created.status_code == 200
    assert created.context["form"].non_field_errors()[0].startswith("Your account is frozen")

    for name in ("campaign_submit", "campaign_test_send"):
        response = owner.post(reverse(name, args=[campaign.pk]), follow=True)
        assert response.status_code == 200
        assert "Your account is frozen" in _messages(response)[0]

    assert Campaign.objects.get() == campaign
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert mail.outbox == []


# --- CSRF ----------------------------------------------------------------------------------------


def test_every_post_needs_the_csrf_token(user, campaign, campaign_fields):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    pk = campaign.pk

    for url in (
        reverse("campaign_create"),
        reverse("campaign_preview_new"),
        reverse("campaign_edit", args=[pk]),
        reverse("campaign_preview", args=[pk]),
        reverse("campaign_test_send", args=[pk]),
        reverse("campaign_submit", args=[pk]),
        reverse("campaign_withdraw", args=[pk]),
        reverse("campaign_cancel", args=[pk]),
        reverse("campaign_delete", args=[pk]),
    ):
        assert browser.post(url, _form_data(campaign_fields)).status_code == 403, url

    assert Campaign.objects.get() == campaign
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.name == "November news"
    assert mail.outbox == []

    # With the token the editor's page carries (as its script sends it), the preview works.
    page = browser.get(reverse("campaign_create"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    response = browser.post(
        reverse("campaign_preview_new"),
        {**campaign_fields, "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 200
    assert response.json()["errors"] == {}
