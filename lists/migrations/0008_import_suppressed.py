from django.db import migrations, models


class Migration(migrations.Migration):
    """Imports count (and mark) the rows the file says opted out in the service it came from."""

    dependencies = [
        ("lists", "0007_suppression_reason_soft_bounces"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="suppressed",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="importrowissue",
            name="suppressed",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
