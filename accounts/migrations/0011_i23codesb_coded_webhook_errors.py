from django.db import migrations, models

from config.coded_migrations import TextToCoded


class Migration(migrations.Migration):
    """Webhook delivery errors are stored as coded text (issue 23); old sentences stay."""

    dependencies = [("accounts", "0010_i23codesb_coded_notifications")]

    operations = [
        TextToCoded(
            model_name="webhookdelivery",
            name="error",
            field=models.JSONField(blank=True, default=str),
        ),
    ]
