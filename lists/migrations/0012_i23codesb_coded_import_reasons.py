from django.db import migrations, models

from config.coded_migrations import TextToCoded


class Migration(migrations.Migration):
    """Import row reasons and failure reasons are stored as coded text (issue 23); old
    sentences stay, as JSON strings."""

    dependencies = [("lists", "0011_i23lang_list_language")]

    operations = [
        TextToCoded(model_name="importrowissue", name="reason", field=models.JSONField()),
        TextToCoded(
            model_name="importjob",
            name="failure_reason",
            field=models.JSONField(blank=True, default=str),
        ),
    ]
