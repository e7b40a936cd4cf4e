"""What other apps may write on a campaign's deliveries, written here: the campaign owns the
`Delivery` rows (its counters feed the probe's verdict and the stats), so complaints records a
report's effect through `deliveries_feedback_record` rather than updating the table itself."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from campaigns.models import Delivery
from config.bulk import update_rows

# The times a delivery records of what came back about it (the first report of each kind).
FEEDBACK_FIELDS = (
    "delivered_at",
    "soft_bounced_at",
    "hard_bounced_at",
    "blocked_at",
    "complained_at",
    "unsubscribed_at",
)


def deliveries_feedback_record(*, deliveries: Sequence, fields: Iterable[str]) -> None:
    """Write the feedback times `fields` of `deliveries` (objects with `pk` and those attributes,
    the values already set: the first report of a kind sets its time) in one statement, an
    UPDATE ... FROM unnest on PostgreSQL (config.bulk.update_rows). Only feedback times may be
    written this way; any other field raises ValueError."""
    fields = sorted(set(fields))
    unknown = set(fields).difference(FEEDBACK_FIELDS)
    if unknown:
        raise ValueError(f"not a delivery's feedback time: {', '.join(sorted(unknown))}")
    update_rows(Delivery, deliveries, fields)
