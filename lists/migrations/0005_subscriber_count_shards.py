"""Subscriber counters split over shards.

With one counter row per (list, status), every status change of a list (a one-click
unsubscribe, a bounce or complaint webhook) locked the same two rows until its transaction
committed, so concurrent unsubscribes of one list ran one at a time, each holding a web worker
while it waited (bench/load_run.py showed it). A subscriber is now counted in shard
id % SHARDS of its (list, status, role) counter; readers already sum the rows.

PostgreSQL: each trigger firing is one statement that nets the removed (-1) and added (+1) rows
and upserts them in key order, so concurrent statements lock counter rows in the same order
(no deadlock between them) and an update that changes no counted column (a name) locks none.
A decrement only updates a row that exists: deleting a list deletes its counters before its
subscribers, whose removal must not bring them back.
SQLite (local development): row-level triggers, as before, with the shard.
"""

from django.db import migrations, models

COUNT_TABLE = "lists_subscribercount"
# lists.models.SUBSCRIBER_COUNT_SHARDS when this was written; a migration keeps its own copy.
SHARDS = 16


def _rows(table: str, delta: int) -> str:
    return (
        f"SELECT mailing_list_id, status, is_role_address, (id % {SHARDS})::smallint AS shard, "
        f"{delta} AS delta FROM {table}"
    )


def _apply(*sources: str) -> str:
    return f"""
  INSERT INTO {COUNT_TABLE} (mailing_list_id, status, is_role_address, shard, n)
  SELECT mailing_list_id, status, is_role_address, shard, sum(delta)
  FROM ({" UNION ALL ".join(sources)}) AS changes
  GROUP BY 1, 2, 3, 4
  HAVING sum(delta) > 0 OR sum(delta) < 0 AND EXISTS (
    SELECT FROM {COUNT_TABLE} c WHERE c.mailing_list_id = changes.mailing_list_id
      AND c.status = changes.status AND c.is_role_address = changes.is_role_address
      AND c.shard = changes.shard)
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (mailing_list_id, status, is_role_address, shard)
  DO UPDATE SET n = {COUNT_TABLE}.n + EXCLUDED.n;"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN{body}\n  RETURN NULL;\nEND $$;\n"
    )


# The triggers of migration 0002 call these functions by name: replacing them is enough.
PG_FUNCTIONS = (
    _function("lists_subscriber_count_add", _apply(_rows("new_rows", 1)))
    + _function("lists_subscriber_count_remove", _apply(_rows("old_rows", -1)))
    + _function(
        "lists_subscriber_count_change", _apply(_rows("old_rows", -1), _rows("new_rows", 1))
    )
)


def _rebuild(shards: int) -> list[str]:
    """Count every subscriber again, into `shards` shards."""
    return [
        f"DELETE FROM {COUNT_TABLE}",
        f"""INSERT INTO {COUNT_TABLE} (mailing_list_id, status, is_role_address, shard, n)
        SELECT mailing_list_id, status, is_role_address, id % {shards}, count(*)
        FROM lists_subscriber GROUP BY 1, 2, 3, 4""",
    ]


_ADD = f"""INSERT INTO {COUNT_TABLE} (mailing_list_id, status, is_role_address, shard, n)
    VALUES (NEW.mailing_list_id, NEW.status, NEW.is_role_address, NEW.id % {SHARDS}, 1)
    ON CONFLICT (mailing_list_id, status, is_role_address, shard) DO UPDATE SET n = n + 1;"""
_REMOVE = f"""UPDATE {COUNT_TABLE} SET n = n - 1
    WHERE mailing_list_id = OLD.mailing_list_id AND status = OLD.status
      AND is_role_address = OLD.is_role_address AND shard = OLD.id % {SHARDS};"""

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


def _previous():
    import importlib

    return importlib.import_module("lists.migrations.0002_subscriber_counts")


def prepare(apps, schema_editor):
    """Hold subscriber writes until this migration commits (PostgreSQL: a write would fire a
    trigger half changed); SQLite: drop the triggers, which would break its table rebuilds."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "LOCK TABLE lists_subscriber IN SHARE ROW EXCLUSIVE MODE", params=None
        )
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


def unprepare(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in _previous().SQLITE_TRIGGERS:
            schema_editor.execute(statement, params=None)


def shard_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"subscriber counts need triggers for {vendor}")
    for statement in _rebuild(SHARDS):
        schema_editor.execute(statement, params=None)


def unshard_triggers(apps, schema_editor):
    """Migration 0002's triggers again (SQLite: once the table is rebuilt, in unprepare), every
    count in shard 0 so that the key without the shard, put back next, is unique."""
    vendor = schema_editor.connection.vendor
    previous = _previous()
    if vendor == "postgresql":
        schema_editor.execute(
            "LOCK TABLE lists_subscriber IN SHARE ROW EXCLUSIVE MODE", params=None
        )
        for name, body in (
            ("lists_subscriber_count_add", previous._ADD_NEW),
            ("lists_subscriber_count_remove", previous._SUBTRACT_OLD),
            ("lists_subscriber_count_change", previous._SUBTRACT_OLD + previous._ADD_NEW),
        ):
            schema_editor.execute(_function(name, body), params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)
    for statement in _rebuild(1):
        schema_editor.execute(statement, params=None)
    if vendor == "postgresql":
        # The rebuild's deferred foreign-key checks must run before the table is altered next.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE", params=None)
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED", params=None)


class Migration(migrations.Migration):
    dependencies = [("lists", "0004_subscriber_language")]

    operations = [
        migrations.RunPython(prepare, unprepare),
        migrations.RemoveConstraint(model_name="subscribercount", name="subscriber_count_key"),
        migrations.AddField(
            model_name="subscribercount",
            name="shard",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="subscribercount",
            constraint=models.UniqueConstraint(
                fields=("mailing_list", "status", "is_role_address", "shard"),
                name="subscriber_count_shard_key",
            ),
        ),
        migrations.RunPython(shard_triggers, unshard_triggers),
    ]
