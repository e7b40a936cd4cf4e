from django.db import migrations


def create(apps, schema_editor):
    # Subscriber search is a prefix match on the address; under a non-C collation PostgreSQL can
    # use a btree for LIKE 'abc%' only with the pattern operator class.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS subscriber_list_email_prefix "
            "ON lists_subscriber (mailing_list_id, email varchar_pattern_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS subscriber_list_email_prefix")


class Migration(migrations.Migration):
    dependencies = [("lists", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
