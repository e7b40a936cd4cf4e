"""The template library, the starters, "save as template" and "duplicate campaign" (issue 22):
services, API and pages."""

import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from campaigns import email_templates
from campaigns.models import Campaign, CampaignStatus, CampaignVersion, Delivery, EmailTemplate
from campaigns.rendering import compile_campaign
from campaigns.selectors import draft_content, sample_recipient
from campaigns.starters import CONTENT_END, CONTENT_START, STARTERS, starter_html
from config.errors import ApplicationError, NotFound
from tests.campaigns.factories import CampaignFactory, with_approved_version
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"


@pytest.fixture
def account(user):
    return user.account


@pytest.fixture
def template(account, user):
    return email_templates.template_create(
        account=account,
        created_by=user,
        name="Monthly letter",
        subject="Our news",
        html_body="<p>Hello {{ subscriber.name }}</p>",
    )


def _other_client():
    other = UserFactory()
    _, key = api_token_create(user=other, name="other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- services ------------------------------------------------------------------------------------


def test_create_checks_name_and_content(account, user):
    with pytest.raises(ApplicationError) as missing:
        email_templates.template_create(account=account, created_by=user, name=" ", html_body="x")
    with pytest.raises(ApplicationError) as bad_tag:
        email_templates.template_create(
            account=account, created_by=user, name="T", html_body="<p>{{ }}</p>"
        )
    with pytest.raises(ApplicationError) as two_lines:
        email_templates.template_create(
            account=account, created_by=user, name="T", subject="a\nb", html_body="<p>x</p>"
        )

    assert missing.value.field == "name"
    assert bad_tag.value.field == "html_body"
    assert two_lines.value.field == "subject"
    assert EmailTemplate.objects.count() == 0


def test_another_accounts_template_is_not_found(template):
    other = UserFactory().account

    assert email_templates.template_get(account=other, template_id=template.pk) is None
    with pytest.raises(NotFound):
        email_templates.template_update(account=other, template_id=template.pk, name="Mine")
    with pytest.raises(NotFound):
        email_templates.template_delete(account=other, template_id=template.pk)
    template.refresh_from_db()
    assert template.name == "Monthly letter"


def test_save_as_template_copies_content_only(account, user, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list], name="November")

    saved = email_templates.template_from_campaign(
        account=account, campaign_id=campaign.pk, created_by=user
    )

    assert (saved.name, saved.subject, saved.html_body, saved.text_body) == (
        "November",
        campaign.subject,
        campaign.html_body,
        campaign.text_body,
    )
    assert saved.account == account


def test_duplicate_is_a_fresh_draft_with_content_sender_and_lists(account, user, mailing_list):
    original = CampaignFactory(account=account, lists=[mailing_list], name="November")
    original = with_approved_version(original)
    Campaign.objects.filter(pk=original.pk).update(
        status=CampaignStatus.SENT, verdict={"tier": "green"}, moderation_note="Fine"
    )
    Delivery.objects.create(campaign=original, subscriber_id=1, provider="other")

    copy = email_templates.campaign_duplicate(
        account=account, campaign_id=original.pk, created_by=user
    )

    assert copy.pk != original.pk
    assert copy.name == "November (copy)"
    assert copy.status == CampaignStatus.DRAFT
    assert (copy.subject, copy.from_name, copy.from_email, copy.html_body) == (
        original.subject,
        original.from_name,
        original.from_email,
        original.html_body,
    )
    assert list(copy.lists.all()) == [mailing_list]
    assert copy.approved_version is None and copy.submitted_version is None
    assert copy.approved_at is None and copy.verdict == {} and copy.moderation_note == ""
    assert CampaignVersion.objects.filter(campaign=copy).count() == 0
    assert Delivery.objects.filter(campaign=copy).count() == 0
    assert copy.changes.count() == 0


def test_duplicate_keeps_the_campaigns_segments(account, user, mailing_list):
    from campaigns.segment_services import segment_create

    segment = segment_create(account=account, name="Readers", lists=[mailing_list.pk])
    original = CampaignFactory(account=account, lists=[mailing_list])
    original.segments.set([segment])

    copy = email_templates.campaign_duplicate(
        account=account, campaign_id=original.pk, created_by=user
    )

    assert list(copy.segments.all()) == [segment]


def test_duplicate_of_another_accounts_campaign_is_not_found(user, mailing_list):
    theirs = CampaignFactory(lists=[])
    with pytest.raises(NotFound):
        email_templates.campaign_duplicate(
            account=user.account, campaign_id=theirs.pk, created_by=user
        )
    assert Campaign.objects.count() == 1


# --- starters and the footer ---------------------------------------------------------------------


@pytest.mark.parametrize("starter", STARTERS, ids=lambda s: s.key)
def test_every_starter_compiles_with_our_footer_and_one_region(account, starter):
    html = starter_html(starter.key)
    content = draft_content(
        account=account,
        subject=str(starter.subject),
        from_name="Acme",
        from_email="news@acme.example",
        html_body=html,
    )

    message = compile_campaign(content).render(sample_recipient(None), is_test=True)

    assert html.count(CONTENT_START) == 1 and html.count(CONTENT_END) == 1
    assert html.index(CONTENT_START) < html.index(CONTENT_END)
    assert 'id="compliance-footer"' in message.html
    # Fluid: the container narrows (no fixed width without max-width), tables lay it out.
    assert "max-width:600px" in message.html.replace(" ", "")
    assert "<table" in message.html
    assert "<style" not in message.html


@pytest.mark.parametrize(
    "attack",
    [
        "<style>#compliance-footer{display:none}</style><p>Hi</p>",
        '<p>Hi</p><div style="position:absolute;top:0;left:0;width:100%;height:100%">x</div>',
        "<table><tr><td><p>Unclosed",
        '<p style="margin-bottom:-900px">Hi</p>',
        "<!-- content:end --></td></tr></table></body></html><p>after</p>",
    ],
)
def test_a_template_cannot_remove_or_hide_the_footer(account, user, mailing_list, attack):
    template = email_templates.template_create(
        account=account, created_by=user, name="Sneaky", html_body=attack
    )
    start = email_templates.template_start(account, {"template": str(template.pk)})
    campaign = CampaignFactory(account=account, lists=[mailing_list], **start)

    from campaigns.selectors import campaign_preview

    html = campaign_preview(account=account, campaign=campaign).message.html

    footer_at = html.index('id="compliance-footer"')
    assert "display:none" not in html.replace(" ", "")
    assert "position:" not in html and "-900px" not in html
    # The footer comes after the author's content, outside it, and carries the unsubscribe link.
    assert html.index('<div class="campaign-content">') < html.rindex("</div>", 0, footer_at)
    assert "/u/" in html[footer_at:]


def test_template_start_ignores_another_accounts_template(template):
    other = UserFactory().account

    assert email_templates.template_start(other, {"template": str(template.pk)}) == {}
    assert email_templates.template_start(template.account, {"template": "junk"}) == {}
    assert email_templates.template_start(template.account, {"starter": "digest"})[
        "html_body"
    ] == starter_html("digest")


# --- API -----------------------------------------------------------------------------------------


def test_api_crud(token_client):
    created = token_client.post(
        "/api/v1/templates/",
        {"name": "Letter", "subject": "Hi", "html_body": "<p>Hello</p>"},
        format="json",
    )
    assert created.status_code == 201
    template_id = created.json()["id"]

    listed = token_client.get("/api/v1/templates/").json()
    changed = token_client.patch(
        f"/api/v1/templates/{template_id}/", {"name": "Letter 2"}, format="json"
    )
    deleted = token_client.delete(f"/api/v1/templates/{template_id}/")

    assert listed["count"] == 1 and listed["results"][0]["name"] == "Letter"
    assert changed.status_code == 200 and changed.json()["name"] == "Letter 2"
    assert deleted.status_code == 204
    assert token_client.get(f"/api/v1/templates/{template_id}/").status_code == 404
    assert not EmailTemplate.objects.exists()


def test_api_bad_content_is_a_400_on_the_field(token_client):
    response = token_client.post(
        "/api/v1/templates/",
        {"name": "Bad", "html_body": "<p>{{ }}</p>"},
        format="json",
    )
    assert response.status_code == 400
    assert "html_body" in response.json()


def test_api_another_accounts_template_is_a_404(template):
    client = _other_client()

    assert client.get(f"/api/v1/templates/{template.pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/templates/{template.pk}/", {"name": "x"}, format="json").status_code
        == 404
    )
    assert client.delete(f"/api/v1/templates/{template.pk}/").status_code == 404
    assert client.get("/api/v1/templates/").json()["count"] == 0
    assert EmailTemplate.objects.filter(pk=template.pk, name="Monthly letter").exists()


def test_api_read_only_token_cannot_write(read_only_token_client, template, mailing_list):
    campaign = CampaignFactory(account=template.account, lists=[mailing_list])
    client = read_only_token_client

    assert client.get("/api/v1/templates/").status_code == 200
    assert (
        client.post(
            "/api/v1/templates/", {"name": "x", "html_body": "<p>x</p>"}, format="json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/templates/{template.pk}/").status_code == 403
    assert client.post(f"/api/v1/campaigns/{campaign.pk}/duplicate/").status_code == 403
    assert client.post(f"/api/v1/campaigns/{campaign.pk}/save-as-template/").status_code == 403
    assert EmailTemplate.objects.count() == 1
    assert Campaign.objects.count() == 1


def test_api_duplicate_and_save_as_template(token_client, account, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list], name="Spring")

    duplicated = token_client.post(f"/api/v1/campaigns/{campaign.pk}/duplicate/")
    saved = token_client.post(
        f"/api/v1/campaigns/{campaign.pk}/save-as-template/", {"name": "Spring layout"}
    )

    assert duplicated.status_code == 201
    assert duplicated.json()["status"] == "draft"
    assert duplicated.json()["lists"] == [mailing_list.pk]
    assert duplicated.json()["id"] != campaign.pk
    assert saved.status_code == 201
    assert saved.json()["name"] == "Spring layout"
    assert saved.json()["html_body"] == campaign.html_body


def test_api_duplicate_of_another_accounts_campaign_is_a_404(account, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list])
    client = _other_client()

    assert client.post(f"/api/v1/campaigns/{campaign.pk}/duplicate/").status_code == 404
    assert client.post(f"/api/v1/campaigns/{campaign.pk}/save-as-template/").status_code == 404
    assert Campaign.objects.count() == 1 and not EmailTemplate.objects.exists()


def test_api_starters(token_client):
    starters = token_client.get("/api/v1/templates/starters/").json()

    assert [s["key"] for s in starters] == ["newsletter", "announcement", "digest", "promotion"]
    assert all(CONTENT_START in s["html_body"] for s in starters)


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def test_pages_list_preview_edit_delete(browser, template):
    index = browser.get("/templates/")
    preview = browser.get(f"/templates/{template.pk}/")
    starter = browser.get("/templates/starters/promotion/")
    edited = browser.post(
        f"/templates/{template.pk}/edit/",
        {"name": "Renamed", "subject": "", "html_body": "<p>New</p>", "text_body": ""},
    )
    deleted = browser.post(f"/templates/{template.pk}/delete/")

    assert index.status_code == 200 and b"Monthly letter" in index.content
    assert b"Product promotion" in index.content
    assert preview.status_code == 200 and b"compliance-footer" in preview.content
    assert starter.status_code == 200 and b"compliance-footer" in starter.content
    assert edited.status_code == 302
    assert deleted.status_code == 302
    assert not EmailTemplate.objects.exists()


def test_pages_another_accounts_template_is_a_404(client, template):
    client.force_login(UserFactory())

    assert client.get(f"/templates/{template.pk}/").status_code == 404
    assert client.get(f"/templates/{template.pk}/edit/").status_code == 404
    assert client.post(f"/templates/{template.pk}/delete/").status_code == 404
    assert EmailTemplate.objects.filter(pk=template.pk).exists()


def test_new_campaign_from_starter_and_from_template(browser, template):
    from_starter = browser.get("/campaigns/new/?starter=newsletter").content.decode()
    from_template = browser.get(f"/campaigns/new/?template={template.pk}").content.decode()

    assert "content:start" in from_starter
    assert "data-visual-editor" in from_starter
    assert re.search(r'name="subject"[^>]*value="Our news"', from_template)


def test_campaign_page_duplicate_and_save_as_template(browser, account, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list], name="Autumn")

    page = browser.get(f"/campaigns/{campaign.pk}/").content.decode()
    duplicated = browser.post(f"/campaigns/{campaign.pk}/duplicate/")
    saved = browser.post(f"/campaigns/{campaign.pk}/save-as-template/", {"name": ""})

    assert 'id="campaign-duplicate"' in page and 'id="campaign-save-as-template"' in page
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert duplicated["Location"] == f"/campaigns/{copy.pk}/edit/"
    assert saved.status_code == 302
    assert EmailTemplate.objects.get().name == "Autumn"
    assert copy.created_at <= timezone.now()


def test_the_template_list_does_not_load_the_bodies(client, user, template):
    client.force_login(user)
    response = client.get("/templates/")
    assert response.status_code == 200
    listed = list(response.context["templates"])
    assert [item.pk for item in listed] == [template.pk]
    assert {"html_body", "text_body"} <= listed[0].get_deferred_fields()
