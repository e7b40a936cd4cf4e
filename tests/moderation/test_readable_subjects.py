"""The campaign index and the moderation queue show a subject's merge tags as readable
placeholders, not their template source (issue 23, item 1)."""

import pytest
from django.urls import reverse

from campaigns.templatetags.campaign_text import readable_subject
from tests.campaigns.factories import CampaignFactory
from tests.moderation.conftest import submit

pytestmark = pytest.mark.django_db

CAKES = "{{ subscriber.first_name | default('Hello') }}, our Christmas cakes are here"


@pytest.mark.parametrize(
    ("subject", "shown"),
    [
        (CAKES, "[first name or “Hello”], our Christmas cakes are here"),
        ("Hi {{subscriber.name}}!", "Hi [name]!"),
        (
            'For {{ subscriber.attributes.favourite_cake | d("you") }}',
            "For [favourite cake or “you”]",
        ),
        ("{{ list.name }} of {{ company.name }}", "[list name] of [company name]"),
        ("No tags at all", "No tags at all"),
    ],
)
def test_readable_subject(subject, shown):
    assert readable_subject(subject) == shown


def test_the_moderation_queue_shows_readable_subjects(client, moderator, mailing_list):
    submit(mailing_list, name="Cakes", subject=CAKES)
    client.force_login(moderator)

    page = client.get(reverse("moderation_queue")).content.decode()

    assert "[first name or “Hello”], our Christmas cakes are here" in page
    assert "subscriber.first_name" not in page


def test_the_campaign_index_shows_readable_subjects_in_the_senders_language(
    client, sender, mailing_list
):
    CampaignFactory(account=sender.account, lists=[mailing_list], subject=CAKES)
    client.force_login(sender)

    english = client.get(reverse("campaigns")).content.decode()
    sender.language = "ru"
    sender.save()
    russian = client.get(reverse("campaigns")).content.decode()

    assert "[first name or “Hello”], our Christmas cakes are here" in english
    assert "[имя или «Hello»], our Christmas cakes are here" in russian
    assert "subscriber.first_name" not in english + russian
