import pytest

from config.errors import ApplicationError
from lists.models import ConsentEvent, ConsentRecord, ConsentSource
from lists.services.consent import consent_proof_check, consent_source_check
from tests.lists.factories import SubscriberFactory


@pytest.mark.parametrize("source", ConsentSource.values)
def test_every_allowed_source_is_accepted(source):
    assert consent_source_check(source) == source


def test_sources_are_matched_loosely_in_case_and_separators():
    assert consent_source_check(" Paper-Form ") == ConsentSource.PAPER_FORM


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("purchased", "Purchased lists are not accepted"),
        ("bought list", "Purchased lists are not accepted"),
        ("leased", "Leased or rented lists are not accepted"),
        ("rented", "Leased or rented lists are not accepted"),
        ("third_party", "Third-party lists are not accepted"),
        ("partner list", "Third-party lists are not accepted"),
        ("open_sources", "Addresses from open sources"),
        ("scraped", "Addresses from open sources"),
        ("verbal", "Verbal or phone consent is not accepted"),
        ("phone", "Verbal or phone consent is not accepted"),
    ],
)
def test_forbidden_sources_are_refused_with_the_policy_reason(source, reason):
    with pytest.raises(ApplicationError) as refused:
        consent_source_check(source, field="consent_source")
    assert refused.value.message.startswith(reason)
    assert refused.value.field == "consent_source"


def test_an_unknown_source_lists_the_allowed_ones():
    with pytest.raises(ApplicationError) as refused:
        consent_source_check("newsletter swap")
    assert refused.value.message == (
        "Unknown consent source 'newsletter swap'. Allowed sources: web_form, form_checkbox, "
        "paper_form, client_reconfirmed, api."
    )


def test_proof_is_required_unless_a_form_gives_the_signers_ip():
    consent_proof_check(source=ConsentSource.WEB_FORM, proof="", ip="203.0.113.1")
    consent_proof_check(source=ConsentSource.API, proof="CRM export, row 7", ip=None)
    for source in (ConsentSource.API, ConsentSource.PAPER_FORM, ConsentSource.WEB_FORM):
        with pytest.raises(ApplicationError) as refused:
            consent_proof_check(source=source, proof="  ", ip=None)
        assert refused.value.field == "proof"


@pytest.mark.django_db
def test_consent_records_are_append_only():
    record = SubscriberFactory().consent_records.get()
    record.proof = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        record.save()
    assert ConsentRecord.objects.get(pk=record.pk).proof == ""


@pytest.mark.django_db
def test_the_database_refuses_a_granted_record_with_a_forbidden_source():
    from django.db import IntegrityError
    from django.utils import timezone

    subscriber = SubscriberFactory()
    with pytest.raises(IntegrityError):
        ConsentRecord.objects.create(
            subscriber=subscriber,
            event=ConsentEvent.GRANTED,
            source="purchased",
            obtained_at=timezone.now(),
        )
