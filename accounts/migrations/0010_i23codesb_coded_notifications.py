from django.db import migrations, models

from config.coded_migrations import TextToCoded


class Migration(migrations.Migration):
    """Notifications are stored as coded text (issue 23); old sentences stay, as JSON strings."""

    dependencies = [("accounts", "0009_team_roles")]

    operations = [
        TextToCoded(model_name="notification", name="subject", field=models.JSONField()),
        TextToCoded(
            model_name="notification",
            name="body",
            field=models.JSONField(blank=True, default=str),
        ),
    ]
