"""Triggers that keep lists_subscribercount exact, and the name-prefix search index.

PostgreSQL: statement-level triggers with transition tables, so an import batch's COPY costs
one grouped upsert, not one per row. SQLite (local development): row-level triggers.
"""

from django.db import migrations

COUNT_TABLE = "lists_subscribercount"

# Counts of the rows a statement inserted (new_rows) or removed (old_rows), grouped.
_ADD_NEW = f"""
  INSERT INTO {COUNT_TABLE} (mailing_list_id, status, is_role_address, n)
  SELECT mailing_list_id, status, is_role_address, count(*) FROM new_rows GROUP BY 1, 2, 3
  ON CONFLICT (mailing_list_id, status, is_role_address)
  DO UPDATE SET n = {COUNT_TABLE}.n + EXCLUDED.n;"""
_SUBTRACT_OLD = f"""
  UPDATE {COUNT_TABLE} c SET n = c.n - d.n
  FROM (SELECT mailing_list_id, status, is_role_address, count(*) AS n
        FROM old_rows GROUP BY 1, 2, 3) d
  WHERE c.mailing_list_id = d.mailing_list_id AND c.status = d.status
    AND c.is_role_address = d.is_role_address;"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN{body}\n  RETURN NULL;\nEND $$;\n"
    )


PG_FUNCTIONS = (
    _function("lists_subscriber_count_add", _ADD_NEW)
    + _function("lists_subscriber_count_remove", _SUBTRACT_OLD)
    + _function("lists_subscriber_count_change", _SUBTRACT_OLD + _ADD_NEW)
    + """
CREATE TRIGGER lists_subscriber_count_insert AFTER INSERT ON lists_subscriber
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lists_subscriber_count_add();
CREATE TRIGGER lists_subscriber_count_delete AFTER DELETE ON lists_subscriber
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lists_subscriber_count_remove();
CREATE TRIGGER lists_subscriber_count_update AFTER UPDATE ON lists_subscriber
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lists_subscriber_count_change();

-- Subscriber search by name prefix (the address prefix uses the unique index).
CREATE INDEX subscriber_list_name_prefix
  ON lists_subscriber (mailing_list_id, lower(name) text_pattern_ops);
"""
)

PG_DROP = """
DROP INDEX IF EXISTS subscriber_list_name_prefix;
DROP TRIGGER IF EXISTS lists_subscriber_count_insert ON lists_subscriber;
DROP TRIGGER IF EXISTS lists_subscriber_count_delete ON lists_subscriber;
DROP TRIGGER IF EXISTS lists_subscriber_count_update ON lists_subscriber;
DROP FUNCTION IF EXISTS lists_subscriber_count_add();
DROP FUNCTION IF EXISTS lists_subscriber_count_remove();
DROP FUNCTION IF EXISTS lists_subscriber_count_change();
"""

_ADD = f"""INSERT INTO {COUNT_TABLE} (mailing_list_id, status, is_role_address, n)
    VALUES (NEW.mailing_list_id, NEW.status, NEW.is_role_address, 1)
    ON CONFLICT (mailing_list_id, status, is_role_address) DO UPDATE SET n = n + 1;"""
_REMOVE = f"""UPDATE {COUNT_TABLE} SET n = n - 1
    WHERE mailing_list_id = OLD.mailing_list_id AND status = OLD.status
      AND is_role_address = OLD.is_role_address;"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER lists_subscriber_count_insert AFTER INSERT ON lists_subscriber
    BEGIN {_ADD} END;""",
    f"""CREATE TRIGGER lists_subscriber_count_delete AFTER DELETE ON lists_subscriber
    BEGIN {_REMOVE} END;""",
    f"""CREATE TRIGGER lists_subscriber_count_update
    AFTER UPDATE OF mailing_list_id, status, is_role_address ON lists_subscriber
    BEGIN {_REMOVE} {_ADD} END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS lists_subscriber_count_insert;",
    "DROP TRIGGER IF EXISTS lists_subscriber_count_delete;",
    "DROP TRIGGER IF EXISTS lists_subscriber_count_update;",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"subscriber counts need triggers for {vendor}")


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("lists", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
