"""The moderators' console: the queue's filters, the common reasons a decision takes with one
click, and the keyboard shortcuts each page lists."""

import pytest
from django.urls import reverse

from accounts.models import AccountState
from moderation.forms import DECLINE_PRESETS, REJECT_PRESETS, DeclineForm, RejectForm
from moderation.services import REASON_MAX
from tests.campaigns.factories import subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory
from tests.moderation.conftest import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def two_accounts(mailing_list):
    other = UserFactory(account__company_name="Frozen Fish Co").account
    fish_list = MailingListFactory(account=other, name="Fish facts")
    subscribe_many(fish_list, 3)
    campaigns = (
        submit(mailing_list, name="Spring offer", subject="Seeds are here"),
        submit(fish_list, name="Cod weekly", subject="Fresh cod"),
    )
    # Frozen after submitting: a frozen account cannot submit, but its campaign stays queued.
    other.state = AccountState.FROZEN
    other.save(update_fields=["state"])
    return campaigns


def queue_names(response) -> list[str]:
    return [c.name for c in response.context["page"].object_list]


def test_the_queue_filters_by_words_ids_and_account_state(staff, two_accounts):
    spring, cod = two_accounts
    url = reverse("moderation_queue")
    assert sorted(queue_names(staff.get(url))) == ["Cod weekly", "Spring offer"]
    assert queue_names(staff.get(url, {"q": "seeds"})) == ["Spring offer"]
    assert queue_names(staff.get(url, {"q": "frozen fish"})) == ["Cod weekly"]
    assert queue_names(staff.get(url, {"q": str(cod.pk)})) == ["Cod weekly"]
    assert queue_names(staff.get(url, {"q": str(spring.account_id)})) == ["Spring offer"]
    frozen = staff.get(url, {"account_state": "frozen"})
    assert queue_names(frozen) == ["Cod weekly"]
    html = frozen.content.decode()
    # The tabs and the pages keep the filters; a way back to everything is offered.
    assert 'href="?tab=review&amp;account_state=frozen"' in html
    assert 'id="clear-filters"' in html


def test_a_filter_that_matches_nothing_says_so(staff, two_accounts):
    response = staff.get(reverse("moderation_queue"), {"q": "no such thing"})
    assert "No campaign under this tab matches the filters." in response.content.decode()


def test_an_unknown_account_state_is_ignored_not_an_error(staff, two_accounts):
    response = staff.get(reverse("moderation_queue"), {"account_state": "sleepy"})
    assert response.status_code == 200
    assert len(queue_names(response)) == 2


@pytest.mark.parametrize(
    ("form_class", "presets"), [(RejectForm, REJECT_PRESETS), (DeclineForm, DECLINE_PRESETS)]
)
def test_a_common_reason_alone_own_words_alone_or_both(form_class, presets):
    extra = {"confirm": "on"} if form_class is DeclineForm else {}
    key, text = presets[0]
    alone = form_class({"preset": key, "reason": "", **extra})
    assert alone.is_valid(), alone.errors
    assert alone.cleaned_data["reason"] == text
    own = form_class({"preset": "", "reason": "My words.", **extra})
    assert own.is_valid() and own.cleaned_data["reason"] == "My words."
    both = form_class({"preset": key, "reason": "See the footer.", **extra})
    assert both.is_valid() and both.cleaned_data["reason"] == f"{text}\n\nSee the footer."


def test_a_decision_needs_a_reason_of_some_kind_and_refuses_unknown_presets():
    neither = RejectForm({"preset": "", "reason": "  "})
    assert not neither.is_valid()
    assert neither.errors["reason"] == ["This field is required."]
    unknown = RejectForm({"preset": "made-up", "reason": ""})
    assert not unknown.is_valid() and "preset" in unknown.errors
    too_long = RejectForm({"preset": REJECT_PRESETS[0][0], "reason": "x" * REASON_MAX})
    assert not too_long.is_valid() and "reason" in too_long.errors


def test_rejecting_with_one_common_reason_tells_the_sender_that_reason(staff, submitted):
    key, text = REJECT_PRESETS[1]
    staff.post(reverse("moderation_reject", args=[submitted.pk]), {"reject-preset": key})
    submitted.refresh_from_db()
    assert submitted.status == "rejected"
    assert submitted.moderation_note == text


def test_the_pages_list_their_shortcuts_and_mark_the_targets(staff, submitted):
    queue = staff.get(reverse("moderation_queue")).content.decode()
    assert 'id="shortcuts"' in queue and 'data-shortcut="/"' in queue
    assert 'class="row-link"' in queue and "js/moderation-keys.js" in queue
    review = staff.get(reverse("moderation_review", args=[submitted.pk])).content.decode()
    for key in ("a", "r", "d", "f", "p", "u"):
        assert f'data-shortcut="{key}"' in review, key
    assert "<legend>Common reasons</legend>" in review
