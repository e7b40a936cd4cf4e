from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        # Segments are exported by the lists app's jobs, which cannot import this app.
        from campaigns import export_source

        export_source.register()
