"""The review page shows the consent proof behind the consent make-up: the proof text and the
uploaded file, which only staff can download, always as an attachment (issue 23, item 3)."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from lists.models import ConsentEvent, ConsentRecord, ConsentSource
from moderation import selectors
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.moderation.conftest import submit

pytestmark = pytest.mark.django_db

PAPER_PROOF = "Signed paper forms from the Christmas fair, kept in the office binder no. 4."


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def paper_form_subscribers(mailing_list, count: int, *, file_name: str = "fair-forms.pdf"):
    """`count` subscribers imported with one paper-form proof and one shared scan."""
    records = []
    for n in range(count):
        subscriber = SubscriberFactory(mailing_list=mailing_list, email=f"fair{n}@example.org")
        record = ConsentRecord(
            subscriber=subscriber,
            event=ConsentEvent.GRANTED,
            source=ConsentSource.PAPER_FORM,
            obtained_at=timezone.now(),
            proof=PAPER_PROOF,
        )
        if not records:
            record.proof_file.save(file_name, ContentFile(b"%PDF-1.4 forms"), save=False)
        else:
            record.proof_file = records[0].proof_file.name
        record.save()
        records.append(record)
    return records


def test_the_dossier_groups_the_lists_proofs_most_shared_first(sender):
    mailing_list = MailingListFactory(account=sender.account)
    records = paper_form_subscribers(mailing_list, 3)
    SubscriberFactory(mailing_list=mailing_list, email="web@example.org")

    proofs = selectors.list_consent(mailing_list=mailing_list).proofs

    assert [(p.source, p.proof, p.count) for p in proofs][0] == ("paper_form", PAPER_PROOF, 3)
    assert proofs[0].file_name == records[0].proof_file.name.rsplit("/", 1)[-1]
    assert proofs[0].file_record_id in {r.pk for r in records}
    assert [(p.source, p.count, p.file_record_id) for p in proofs[1:]] == [("web_form", 1, None)]


def test_the_review_page_shows_the_proof_text_and_links_its_file(client, moderator, sender):
    mailing_list = MailingListFactory(account=sender.account, name="Fair visitors")
    paper_form_subscribers(mailing_list, 2)
    campaign = submit(mailing_list, name="Cakes")
    client.force_login(moderator)

    body = client.get(reverse("moderation_review", args=[campaign.pk])).content.decode()

    proofs = body[body.index(f'id="proofs-{mailing_list.pk}"') :]
    assert "Proof of consent: Fair visitors" in proofs
    assert "Hand-filled paper form with a consent checkbox" in proofs
    assert PAPER_PROOF in proofs
    link = reverse(
        "moderation_consent_proof",
        args=[selectors.list_consent(mailing_list=mailing_list).proofs[0].file_record_id],
    )
    assert f'href="{link}" download' in proofs


def test_a_moderator_downloads_the_proof_file_as_an_attachment(client, moderator, sender):
    record = paper_form_subscribers(MailingListFactory(account=sender.account), 1)[0]
    client.force_login(moderator)

    response = client.get(reverse("moderation_consent_proof", args=[record.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content) == b"%PDF-1.4 forms"


@pytest.mark.parametrize("name", ["forms.svg", "forms.html", "forms"])
def test_a_file_stored_under_another_type_is_only_ever_bytes_to_save(
    client, moderator, sender, name
):
    record = paper_form_subscribers(MailingListFactory(account=sender.account), 1, file_name=name)[
        0
    ]
    client.force_login(moderator)

    response = client.get(reverse("moderation_consent_proof", args=[record.pk]))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_proof_file_route_does_not_exist_for_senders(client, sender):
    record = paper_form_subscribers(MailingListFactory(account=sender.account), 1)[0]
    client.force_login(sender)

    response = client.get(reverse("moderation_consent_proof", args=[record.pk]))

    assert response.status_code == 404
