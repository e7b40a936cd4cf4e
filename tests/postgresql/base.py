"""Django's PostgreSQL backend, emptying the tables after a transactional test by DELETE.

A transactional test (a live server, a real worker) cannot be rolled back, so Django empties
every table after it with one `TRUNCATE` of all 58. On PostgreSQL that gives each table and index
a new file, and took 1.4-2.5 s a time on a busy two-core machine, after each of the suite's
~200 transactional tests. The tables are nearly empty by then, so deleting their rows takes
about 0.02 s. The triggers are switched off for it (`session_replication_role = replica`, for
that transaction only): the tables are emptied as TRUNCATE leaves them, without the foreign-key
checks on every row or the subscriber-count triggers writing counts into a table already
emptied. That needs a superuser, as the test server's `postgres` is; for any other role, or when
sequences are to be reset, Django's TRUNCATE is used as before.

The content types and permissions are left in place. The flush is followed by Django's
post_migrate signal, whose handlers create every missing content type and permission again: with
the tables emptied that was 52 content types and 208 permissions inserted, app by app, after
every transactional test: 0.36 s of the flush's 0.45 (cProfile, tests/lists/test_peer_exports.py).
Left in place they are the same rows migrate put there, so the handlers find nothing missing.

config/settings/test.py selects it when DATABASE_URL is PostgreSQL.
"""

from __future__ import annotations

from django.db.backends.postgresql import base, operations

# What post_migrate would put back after the flush anyway (see above).
KEPT_TABLES = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or not self.connection.is_superuser():
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # Run by execute_sql_flush inside one transaction: SET LOCAL ends with it.
        return ["SET LOCAL session_replication_role = replica"] + [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))}"
            for table in tables
            if table not in KEPT_TABLES
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _superuser: bool | None = None

    def is_superuser(self) -> bool:
        if self._superuser is None:
            with self.cursor() as cursor:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                row = cursor.fetchone()
            self._superuser = bool(row and row[0])
        return self._superuser
