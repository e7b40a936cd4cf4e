from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "complaints"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from campaigns import tracking_queue
        from complaints.esp import posts_apply
        from complaints.models import FeedbackSource
        from complaints.services import (
            ALL_LISTS_CHANNEL,
            one_clicks_pending_apply,
            one_clicks_pending_for,
        )
        from lists.selectors import consent_channels_register

        # The tracking queue (campaigns) carries ESP webhook posts; complaints applies them.
        tracking_queue.posts_applier_register(posts_apply)
        # ... and applies the one-click unsubscribes the web process answered and suppressed.
        tracking_queue.drainer_register(one_clicks_pending_apply, pending=one_clicks_pending_for)
        # A withdrawal recorded from a report names its channel in words on the subscriber page.
        consent_channels_register(dict(FeedbackSource.choices))
        consent_channels_register(
            {ALL_LISTS_CHANNEL: gettext_lazy("The unsubscribe page, leaving every list")}
        )
