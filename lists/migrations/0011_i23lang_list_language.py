from django.conf import settings
from django.db import migrations, models


def lists_in_owner_language(apps, schema_editor):
    """Existing lists speak their account owner's language, as new ones do by default."""
    MailingList = apps.get_model("lists", "MailingList")
    User = apps.get_model("accounts", "User")
    owners = (
        User.objects.filter(role="owner", account__isnull=False)
        .exclude(language__in=["", settings.LANGUAGE_CODE])
        .values_list("account_id", "language")
    )
    for account_id, language in owners:
        if language in dict(settings.LANGUAGES):
            MailingList.objects.filter(account_id=account_id).update(language=language)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_team_roles"),
        ("lists", "0010_i20_import_total_rows_estimated"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailinglist",
            name="language",
            field=models.CharField(
                choices=[("en", "English"), ("ru", "Русский")],
                db_default="en",
                default="en",
                max_length=8,
            ),
        ),
        migrations.RunPython(lists_in_owner_language, migrations.RunPython.noop),
    ]
