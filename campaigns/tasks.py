"""Thin Celery tasks for the staged send: take ids, call campaigns.sending / campaigns.delivery.

Every task here is safe to run twice (acks_late re-delivers a task whose worker died) and none
is ever scheduled with a countdown or ETA: waits are times in the database that beat reads."""

from celery import shared_task


@shared_task(name="campaigns.start_probe")
def start_probe(campaign_id: int) -> str:
    """Choose the approved campaign's probe and start sending it."""
    from campaigns.sending import campaign_start_probe

    return campaign_start_probe(campaign_id=campaign_id).status


@shared_task(name="campaigns.start_due_campaigns")
def start_due_campaigns() -> list[int]:
    """Beat: start the probe of approved campaigns whose scheduled time has come (rows claimed
    with SKIP LOCKED: overlapping runs share the work, none is started twice)."""
    from campaigns.sending import campaigns_start_due

    return campaigns_start_due()


@shared_task(name="campaigns.dispatch_campaign")
def dispatch_campaign(campaign_id: int) -> int:
    """Queue send tasks for the campaign's due deliveries (a transition just made some due)."""
    from campaigns.delivery import dispatch

    return dispatch(campaign_id=campaign_id)


@shared_task(name="campaigns.send_campaign")
def send_campaign(campaign_id: int) -> int:
    """Drain the campaign's due deliveries for SEND_TASK_SECONDS, then queue itself again if
    some are left (long sends share the workers with other campaigns)."""
    from campaigns.delivery import drain

    claimed, more = drain(campaign_id=campaign_id)
    if more:
        send_campaign.delay(campaign_id)
    return claimed


@shared_task(name="campaigns.sweep_sending")
def sweep_sending() -> dict:
    """Beat: recover dead batches, queue stalled campaigns, finish phases, resume the paused."""
    from dataclasses import asdict

    from campaigns.delivery import sweep

    return asdict(sweep())


@shared_task(name="campaigns.welcome_subscriber")
def welcome_subscriber(subscriber_id: int) -> int | None:
    """Queue the list's welcome for a subscriber just confirmed (lists.services.optin sends
    this by name after commit). At most one per subscriber and welcome; safe to run twice."""
    from campaigns.welcome import welcome_queue_for

    delivery = welcome_queue_for(subscriber_id=subscriber_id)
    return delivery.pk if delivery is not None else None


@shared_task(name="campaigns.send_welcome")
def send_welcome(campaign_id: int) -> int:
    """Send a welcome campaign's pending messages (one drain; the sweeper retries the rest)."""
    from campaigns.delivery import drain

    claimed, _ = drain(campaign_id=campaign_id)
    return claimed
