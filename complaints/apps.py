from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "complaints"

    def ready(self) -> None:
        from anymail.signals import tracking

        from complaints.esp import handle_tracking_event

        # anymail's webhook views report each ESP event through this signal; a fixed
        # dispatch_uid keeps it connected once however often ready() runs.
        tracking.connect(handle_tracking_event, dispatch_uid="complaints.esp.tracking")
