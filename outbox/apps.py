from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """The local mail sink: an SMTP server keeping each message as a file, and pages to read it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "outbox"
