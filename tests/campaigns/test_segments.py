"""Segments: each condition of the compiler, matching, validation, counts and suppression."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import segment_selectors, segment_services
from campaigns.models import Delivery
from campaigns.segments import audience_subscribers, conditions_clean
from config.errors import ApplicationError, NotFound
from lists.models import ConsentEvent, ConsentRecord, ConsentSource, SubscriberStatus
from lists.services.suppression import suppression_add
from lists.services.tags import subscribers_tags_add
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(account, mailing_list):
    """Four subscribers of one list, each different in every way a condition asks."""
    ann = SubscriberFactory(
        mailing_list=mailing_list,
        email="ann@example.org",
        attributes={"city": "Leeds", "plan": "gold"},
        language="ru",
    )
    bob = SubscriberFactory(
        mailing_list=mailing_list, email="bob@example.org", attributes={"city": "York"}
    )
    cat = SubscriberFactory(
        mailing_list=mailing_list, email="cat@example.org", attributes={"city": "", "plan": 5}
    )
    dan = SubscriberFactory(mailing_list=mailing_list, email="dan@example.org", attributes={})
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan}


def _matches(account, mailing_list, conditions, match="all") -> set[str]:
    segment = {
        "id": 0,
        "name": "t",
        "match": match,
        "conditions": conditions_clean(conditions),
        "lists": [{"id": mailing_list.pk, "name": mailing_list.name}],
    }
    found = audience_subscribers(account_id=account.pk, list_ids=[], segments=[segment])
    return {email.split("@")[0] for email in found.values_list("email", flat=True)}


def test_no_conditions_select_every_subscribed_address(account, mailing_list, people):
    people["dan"].status = SubscriberStatus.UNSUBSCRIBED
    people["dan"].save()
    assert _matches(account, mailing_list, []) == {"ann", "bob", "cat"}


def test_attribute_equals_ignores_case(account, mailing_list, people):
    condition = {"field": "attribute", "key": "city", "op": "equals", "value": "leeds"}
    assert _matches(account, mailing_list, [condition]) == {"ann"}


def test_attribute_equals_a_number_as_text(account, mailing_list, people):
    condition = {"field": "attribute", "key": "plan", "op": "equals", "value": "5"}
    assert _matches(account, mailing_list, [condition]) == {"cat"}


def test_attribute_contains(account, mailing_list, people):
    condition = {"field": "attribute", "key": "city", "op": "contains", "value": "OR"}
    assert _matches(account, mailing_list, [condition]) == {"bob"}


def test_attribute_is_set_needs_a_non_empty_value(account, mailing_list, people):
    condition = {"field": "attribute", "key": "city", "op": "is_set"}
    assert _matches(account, mailing_list, [condition]) == {"ann", "bob"}


def test_has_tag_and_has_not_tag(account, mailing_list, people):
    subscribers_tags_add(
        account=account, subscriber_ids=[people["ann"].pk, people["bob"].pk], names=["VIP"]
    )
    has = {"field": "tag", "op": "has", "value": "vip"}
    has_not = {"field": "tag", "op": "has_not", "value": "Vip"}
    assert _matches(account, mailing_list, [has]) == {"ann", "bob"}
    assert _matches(account, mailing_list, [has_not]) == {"cat", "dan"}


def test_an_unknown_tag_matches_no_one_and_its_absence_everyone(account, mailing_list, people):
    assert _matches(account, mailing_list, [{"field": "tag", "op": "has", "value": "x"}]) == set()
    assert (
        len(_matches(account, mailing_list, [{"field": "tag", "op": "has_not", "value": "x"}])) == 4
    )


def test_another_accounts_tag_of_the_same_name_does_not_count(
    account, mailing_list, people, other_user
):
    other_list = MailingListFactory(account=other_user.account)
    stranger = SubscriberFactory(mailing_list=other_list)
    subscribers_tags_add(account=other_user.account, subscriber_ids=[stranger.pk], names=["vip"])
    assert _matches(account, mailing_list, [{"field": "tag", "op": "has", "value": "vip"}]) == set()


def test_consent_source(account, mailing_list, people):
    ConsentRecord.objects.create(
        subscriber=people["bob"],
        event=ConsentEvent.GRANTED,
        source=ConsentSource.PAPER_FORM,
        obtained_at=timezone.now(),
    )
    condition = {"field": "consent_source", "op": "is", "value": "paper_form"}
    assert _matches(account, mailing_list, [condition]) == {"bob"}


def test_subscribed_before_and_on_or_after(account, mailing_list, people):
    old = timezone.now() - timedelta(days=400)
    people["ann"].subscribed_at = old
    people["ann"].save()
    day = (timezone.localdate() - timedelta(days=30)).isoformat()
    before = {"field": "subscribed", "op": "before", "value": day}
    after = {"field": "subscribed", "op": "on_or_after", "value": day}
    assert _matches(account, mailing_list, [before]) == {"ann"}
    assert _matches(account, mailing_list, [after]) == {"bob", "cat", "dan"}


def test_language_is_the_subscribers_own_else_the_lists(account, mailing_list, people):
    assert _matches(account, mailing_list, [{"field": "language", "op": "is", "value": "ru"}]) == {
        "ann"
    }
    english = _matches(account, mailing_list, [{"field": "language", "op": "is", "value": "en"}])
    assert english == {"bob", "cat", "dan"}


def _delivered(campaign, subscriber, **fields):
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        email=subscriber.email,
        status="sent",
        **fields,
    )


def test_opened_and_clicked_in_the_last_days_and_never_opened(account, mailing_list, people):
    campaign = CampaignFactory(account=account, lists=[mailing_list])
    now = timezone.now()
    _delivered(campaign, people["ann"], opened_at=now - timedelta(days=2))
    _delivered(campaign, people["bob"], opened_at=now - timedelta(days=40), clicked_at=now)
    _delivered(campaign, people["cat"])
    opened_30 = {"field": "opened", "op": "within_days", "value": 30}
    opened_60 = {"field": "opened", "op": "within_days", "value": "60"}
    clicked_7 = {"field": "clicked", "op": "within_days", "value": 7}
    never = {"field": "opened", "op": "never"}
    assert _matches(account, mailing_list, [opened_30]) == {"ann"}
    assert _matches(account, mailing_list, [opened_60]) == {"ann", "bob"}
    assert _matches(account, mailing_list, [clicked_7]) == {"bob"}
    assert _matches(account, mailing_list, [never]) == {"cat", "dan"}


def test_engagement_counts_across_lists_by_address(account, mailing_list, people):
    """Opened the message sent through another list: still opened."""
    other_list = MailingListFactory(account=account)
    ann_elsewhere = SubscriberFactory(mailing_list=other_list, email="ann@example.org")
    campaign = CampaignFactory(account=account, lists=[other_list])
    _delivered(campaign, ann_elsewhere, opened_at=timezone.now())
    assert _matches(
        account, mailing_list, [{"field": "opened", "op": "within_days", "value": 1}]
    ) == {"ann"}


def test_another_accounts_opens_do_not_count(account, mailing_list, people, other_user):
    other_list = MailingListFactory(account=other_user.account)
    ann_there = SubscriberFactory(mailing_list=other_list, email="ann@example.org")
    campaign = CampaignFactory(account=other_user.account, lists=[other_list])
    _delivered(campaign, ann_there, opened_at=timezone.now())
    assert (
        _matches(account, mailing_list, [{"field": "opened", "op": "within_days", "value": 1}])
        == set()
    )


def test_all_and_any(account, mailing_list, people):
    leeds = {"field": "attribute", "key": "city", "op": "equals", "value": "Leeds"}
    york = {"field": "attribute", "key": "city", "op": "equals", "value": "York"}
    assert _matches(account, mailing_list, [leeds, york], match="all") == set()
    assert _matches(account, mailing_list, [leeds, york], match="any") == {"ann", "bob"}


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"field": "shoe_size", "op": "is", "value": "9"}, "unknown field"),
        ({"field": "tag", "op": "equals", "value": "x"}, "operator"),
        ({"field": "tag", "op": "has", "value": ""}, "give a value"),
        ({"field": "tag", "op": "has", "value": ["x"]}, "give a value"),
        ({"field": "attribute", "op": "equals", "value": "x"}, "name the attribute"),
        ({"field": "consent_source", "op": "is", "value": "purchased_list"}, "consent source"),
        ({"field": "language", "op": "is", "value": "xx"}, "language"),
        ({"field": "subscribed", "op": "before", "value": "31/12/2026"}, "YYYY-MM-DD"),
        ({"field": "opened", "op": "within_days", "value": "soon"}, "number of days"),
        ({"field": "opened", "op": "within_days", "value": 0}, "between 1 and 3650"),
        ("tag:vip", "not a condition"),
    ],
)
def test_bad_conditions_are_refused_naming_the_condition(condition, problem):
    with pytest.raises(ApplicationError) as caught:
        conditions_clean([{"field": "tag", "op": "has", "value": "ok"}, condition])
    assert caught.value.field == "conditions"
    assert caught.value.message.startswith("Condition 2:")
    assert problem in caught.value.message


def test_conditions_must_be_a_list():
    with pytest.raises(ApplicationError):
        conditions_clean({"field": "tag"})


def test_count_is_each_address_once_across_lists(account, mailing_list, people):
    second = MailingListFactory(account=account)
    SubscriberFactory(mailing_list=second, email="ann@example.org")
    SubscriberFactory(mailing_list=second, email="eve@example.org")
    segment = segment_services.segment_create(
        account=account, name="Both", lists=[mailing_list.pk, second.pk]
    )
    assert segment_selectors.segment_count(segment=segment) == 5


def test_count_leaves_out_suppressed_addresses(account, mailing_list, people):
    suppression_add(account=account, email="bob@example.org", reason="complained")
    segment = segment_services.segment_create(account=account, name="All", lists=[mailing_list.pk])
    assert segment_selectors.segment_count(segment=segment) == 3


def test_a_segment_over_another_accounts_list_is_refused(account, other_user):
    other_list = MailingListFactory(account=other_user.account)
    with pytest.raises(ApplicationError) as caught:
        segment_services.segment_create(account=account, name="Theirs", lists=[other_list.pk])
    assert caught.value.field == "lists"


def test_another_accounts_segment_cannot_be_changed_or_deleted(account, mailing_list, other_user):
    segment = segment_services.segment_create(account=account, name="Mine", lists=[mailing_list.pk])
    with pytest.raises(NotFound):
        segment_services.segment_update(
            account=other_user.account, segment_id=segment.pk, name="Stolen"
        )
    with pytest.raises(NotFound):
        segment_services.segment_delete(account=other_user.account, segment_id=segment.pk)
    segment.refresh_from_db()
    assert segment.name == "Mine"


def test_segment_names_are_unique_per_account(account, mailing_list):
    segment_services.segment_create(account=account, name="VIP", lists=[mailing_list.pk])
    with pytest.raises(ApplicationError) as caught:
        segment_services.segment_create(account=account, name="VIP", lists=[mailing_list.pk])
    assert caught.value.field == "name"


def test_any_of_every_kind_is_the_union_of_each_alone(account, mailing_list, people):
    """Under "any" the subqueries are uncorrelated INs (hashed once), under "all" EXISTS:
    both must select the same subscribers for each condition."""
    subscribers_tags_add(account=account, subscriber_ids=[people["ann"].pk], names=["vip"])
    ConsentRecord.objects.create(
        subscriber=people["cat"],
        event=ConsentEvent.GRANTED,
        source=ConsentSource.PAPER_FORM,
        obtained_at=timezone.now(),
    )
    campaign = CampaignFactory(account=account, lists=[mailing_list])
    _delivered(campaign, people["bob"], opened_at=timezone.now(), clicked_at=timezone.now())
    conditions = [
        {"field": "tag", "op": "has", "value": "vip"},
        {"field": "tag", "op": "has_not", "value": "vip"},
        {"field": "consent_source", "op": "is", "value": "paper_form"},
        {"field": "opened", "op": "within_days", "value": 3},
        {"field": "clicked", "op": "within_days", "value": 3},
        {"field": "opened", "op": "never"},
    ]
    impossible = {"field": "attribute", "key": "none", "op": "equals", "value": "x"}
    for condition in conditions:
        alone = _matches(account, mailing_list, [condition])
        assert _matches(account, mailing_list, [condition, impossible], match="any") == alone, (
            condition
        )
    assert _matches(account, mailing_list, conditions[2:4], match="any") == {"cat", "bob"}


def test_a_snapshot_reads_every_segments_lists_in_one_query(
    account, mailing_list, django_assert_num_queries
):
    from campaigns.models import Segment
    from campaigns.segments import segments_snapshot

    second = MailingListFactory(account=account)
    for name in ("One", "Two", "Three"):
        segment_services.segment_create(
            account=account, name=name, lists=[second.pk, mailing_list.pk]
        )
    # one query for the segments and one for all their lists, however many segments there are
    with django_assert_num_queries(2):
        snapshot = segments_snapshot(Segment.objects.filter(account=account))
    assert [item["name"] for item in snapshot] == ["One", "Two", "Three"]
    assert [item["id"] for item in snapshot[0]["lists"]] == sorted([mailing_list.pk, second.pk])
