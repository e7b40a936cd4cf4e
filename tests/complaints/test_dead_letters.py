"""A poison report (one that fails alone, for a reason of its own) is kept as a dead letter:
the reports around it in its batch are applied and acknowledged, each once, and a retry of the
batch does not meet it again as an error."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.sites import site
from django.db import IntegrityError, OperationalError

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints import services
from complaints.models import FeedbackDeadLetter, FeedbackEvent, FeedbackKind
from complaints.services import Feedback, feedback_apply_batch
from lists.models import Subscriber, Suppression
from tests.lists.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

K = FeedbackKind
POISON = "poison"


@pytest.fixture
def three(campaign, mailing_list):
    """Three sent messages of the campaign, to three subscribers."""
    people = [
        SubscriberFactory(mailing_list=mailing_list, email=f"p{n}@example.org") for n in range(3)
    ]
    for person in people:
        Delivery.objects.create(
            campaign=campaign, subscriber=person, status=DeliveryStatus.SENT, provider="other"
        )
    return [MessageTokens(campaign_id=campaign.pk, subscriber_id=p.pk) for p in people]


@pytest.fixture
def poisoned(monkeypatch):
    """Any transaction that writes the report with event id "poison" breaks a foreign key (the
    kind of IntegrityError that is not the report's own row, re-raised on purpose)."""
    write = services._write

    def breaking(batch, events):
        if any(event.event_id == POISON for event in events):
            raise IntegrityError("insert or update violates foreign key constraint")
        return write(batch, events)

    monkeypatch.setattr(services, "_write", breaking)


def _complaint(tokens, event_id):
    return Feedback(
        source="arf", event_id=event_id, kind=K.COMPLAINED, message_ref=tokens.message_ref()
    )


def test_a_poison_report_in_the_middle_is_kept_and_the_others_applied_once(three, poisoned, caplog):
    reports = [_complaint(three[0], "a"), _complaint(three[1], POISON), _complaint(three[2], "b")]

    with caplog.at_level(logging.ERROR, logger="complaints.services"):
        results = feedback_apply_batch(reports)

    assert [r is not None for r in results] == [True, False, True]
    assert sorted(FeedbackEvent.objects.values_list("event_id", flat=True)) == ["a", "b"]
    assert Subscriber.objects.filter(status="complained").count() == 2
    letter = FeedbackDeadLetter.objects.get()
    assert (letter.source, letter.event_id, letter.kind) == ("arf", POISON, "complained")
    assert letter.report["message_ref"] == three[1].message_ref()
    assert letter.error.startswith("IntegrityError: ")
    assert "kept as a dead letter" in caplog.text

    # The batch delivered again (a consumer that died before acknowledging it): nothing twice,
    # and the poison does not raise again.
    again = feedback_apply_batch(reports)

    assert again == [None, None, None]
    assert FeedbackEvent.objects.count() == 2
    assert FeedbackDeadLetter.objects.count() == 1
    assert Suppression.objects.count() == 2


def test_a_poison_report_alone_is_kept_unless_its_caller_answers_for_it(three, poisoned):
    report = _complaint(three[0], POISON)

    assert feedback_apply_batch([report]) == [None]
    assert FeedbackDeadLetter.objects.get().event_id == POISON

    with pytest.raises(IntegrityError):
        feedback_apply_batch([report], dead_letter=False)


def test_a_fault_of_the_database_is_raised_for_the_whole_batch(three, monkeypatch):
    """A lost connection or a deadlock is nobody's poison: the batch is retried whole."""

    def down(batch, events):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_write", down)

    with pytest.raises(OperationalError):
        feedback_apply_batch([_complaint(three[0], "a"), _complaint(three[1], "b")])
    assert not FeedbackDeadLetter.objects.exists()


def test_staff_see_the_dead_letters_in_the_admin(client, django_user_model, three, poisoned):
    feedback_apply_batch([_complaint(three[0], POISON)])
    staff = django_user_model.objects.create_superuser(
        email="staff@example.org", password="correct horse battery staple"
    )
    client.force_login(staff)

    assert FeedbackDeadLetter in site._registry
    response = client.get("/admin/complaints/feedbackdeadletter/")

    assert response.status_code == 200
    assert POISON in response.content.decode()
