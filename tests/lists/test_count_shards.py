"""Status changes of one list do not queue behind each other on its counters (PostgreSQL).

The per-status counters are split over shards by subscriber id (lists migration 0005): before,
every unsubscribe of a list locked the same counter rows until it committed, so concurrent
one-click unsubscribes and bounce webhooks of a list ran one at a time (bench/load_run.py).
Each test holds one transaction open, as a slow request would, and shows that another
subscriber's change commits without waiting for it; a waiting statement would hit the lock
timeout and fail.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.models import Count

from lists import selectors
from lists.models import SUBSCRIBER_COUNT_SHARDS, SubscriberCount, SubscriberStatus
from tests.conftest import require_service
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connect():
    """Open raw connections to the test database (each its own transaction)."""
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "row locks on the counters are PostgreSQL's")
    db = connection.settings_dict
    opened = []

    def open_one() -> psycopg.Connection:
        raw = psycopg.connect(
            dbname=db["NAME"],
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
        )
        raw.execute("SET lock_timeout = '5s'")
        opened.append(raw)
        return raw

    yield open_one
    for raw in opened:
        raw.close()


def _real(mailing_list) -> dict[str, int]:
    counts = dict.fromkeys(SubscriberStatus.values, 0)
    rows = mailing_list.subscribers.values_list("status").annotate(n=Count("id")).order_by()
    counts.update(dict(rows))
    return counts


def _one_per_shard(mailing_list):
    """Three subscribers in each shard of the list, by shard (ids are consecutive)."""
    subscribers = SubscriberFactory.create_batch(
        3 * SUBSCRIBER_COUNT_SHARDS, mailing_list=mailing_list
    )
    by_shard: dict[int, list] = {}
    for subscriber in subscribers:
        by_shard.setdefault(subscriber.pk % SUBSCRIBER_COUNT_SHARDS, []).append(subscriber)
    return by_shard


def _set_status(raw: psycopg.Connection, subscriber_id: int, status: str) -> None:
    raw.execute("UPDATE lists_subscriber SET status = %s WHERE id = %s", [status, subscriber_id])


def test_unsubscribes_in_other_shards_do_not_wait_for_an_open_one(connect):
    mailing_list = MailingListFactory()
    by_shard = _one_per_shard(mailing_list)
    held, other = connect(), connect()
    first = by_shard[0][0]

    _set_status(held, first.pk, "unsubscribed")  # not committed yet
    for shard in range(1, SUBSCRIBER_COUNT_SHARDS):
        _set_status(other, by_shard[shard][0].pk, "bounced")
        other.commit()  # would raise LockNotAvailable after 5 s if it waited
    held.commit()

    counts = selectors.status_counts(mailing_list=mailing_list)
    assert counts == _real(mailing_list)
    assert counts["unsubscribed"] == 1
    assert counts["bounced"] == SUBSCRIBER_COUNT_SHARDS - 1


def test_a_change_of_no_counted_column_locks_no_counter(connect):
    mailing_list = MailingListFactory()
    by_shard = _one_per_shard(mailing_list)
    held, other = connect(), connect()
    first, same_shard = by_shard[0][:2]

    _set_status(held, first.pk, "unsubscribed")
    other.execute("UPDATE lists_subscriber SET name = 'Renamed' WHERE id = %s", [same_shard.pk])
    other.commit()
    held.rollback()

    assert selectors.status_counts(mailing_list=mailing_list) == _real(mailing_list)


def test_counts_stay_exact_across_shards_and_list_deletion():
    mailing_list = MailingListFactory()
    _one_per_shard(mailing_list)
    mailing_list.subscribers.filter(pk__in=mailing_list.subscribers.values("pk")[:5]).update(
        status=SubscriberStatus.COMPLAINED
    )
    mailing_list.subscribers.filter(pk__in=mailing_list.subscribers.values("pk")[5:9]).delete()

    assert selectors.status_counts(mailing_list=mailing_list) == _real(mailing_list)
    shards = set(
        SubscriberCount.objects.filter(mailing_list=mailing_list).values_list("shard", flat=True)
    )
    assert shards == set(range(SUBSCRIBER_COUNT_SHARDS))

    list_id = mailing_list.pk
    mailing_list.delete()
    assert not SubscriberCount.objects.filter(mailing_list_id=list_id).exists()
