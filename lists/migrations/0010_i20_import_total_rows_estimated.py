from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lists", "0009_mailinglist_privacy_policy_url"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="total_rows_estimated",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
