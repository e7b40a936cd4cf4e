"""A migrated PostgreSQL template that each worker's test database is copied from.

Migrating an empty database takes about 8 s of one core (Django renders the model state after
each of some 80 migrations), and every pytest-xdist worker did it for its own test database on
every run. Now the first worker to need it migrates a template database once, named after a
hash of every installed app's migration files and Django's version, and each worker's test
database is created from it (`CREATE DATABASE ... TEMPLATE`, about half a second); Django's
migrate then finds nothing left to apply. A template whose migrations changed is never reused:
its name changes with them. A run that finds its template already there, from an earlier run on
the same server, skips the migration altogether.

Workers build it under a PostgreSQL advisory lock (one migrates, the others wait for it), into a
database with a temporary name renamed when the migration has finished, so a template that
exists is complete. Only PostgreSQL has templates; with SQLite nothing changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pg_advisory_lock's key: any fixed number no other code of ours locks on.
_LOCK_KEY = 742_019_331
# Other templates (of other migrations) kept on the server: other checkouts may still use them.
_KEEP_OTHERS = 3


def migrations_digest() -> str:
    """A hash of every installed app's migration files (names and contents) and Django's
    version: it changes whenever a migrated database would differ."""
    import django
    from django.apps import apps

    digest = hashlib.sha256(repr(django.VERSION).encode())
    for app in sorted(apps.get_app_configs(), key=lambda app: app.label):
        directory = Path(app.path) / "migrations"
        for path in sorted(directory.glob("*.py")):
            digest.update(f"{app.label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def use_migrated_template(db_settings: dict) -> str | None:
    """Point `db_settings` (one entry of settings.DATABASES) at a migrated template, building
    the template first if it is missing; its name, or None where templates do not apply."""
    if not db_settings["ENGINE"].endswith("postgresql"):
        return None
    import psycopg

    base = db_settings["NAME"]
    prefix = f"{base}_template_"
    name = prefix + migrations_digest()
    server = {
        "host": db_settings.get("HOST") or None,
        "port": db_settings.get("PORT") or None,
        "user": db_settings.get("USER") or None,
        "password": db_settings.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        try:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                _build(connection, name, db_settings)
                _drop_old(connection, prefix, keep=name)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
    db_settings.setdefault("TEST", {})["TEMPLATE"] = name
    return name


def _build(connection, name: str, db_settings: dict) -> None:
    from psycopg import sql

    building = sql.Identifier(f"{name}_building")
    connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(building))
    connection.execute(sql.SQL("CREATE DATABASE {}").format(building))
    url = _database_url(db_settings, f"{name}_building")
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if migrated.returncode != 0:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(building))
        raise RuntimeError(f"migrating the test template failed:\n{migrated.stderr[-3000:]}")
    connection.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(building, sql.Identifier(name))
    )


def _drop_old(connection, prefix: str, *, keep: str) -> None:
    """Drop the oldest templates of other migrations, keeping the newest few; one still in use
    (another checkout copying it) is left for a later run."""
    from psycopg import errors, sql

    others = connection.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s "
        "AND datname NOT LIKE %s ORDER BY oid DESC",
        [prefix.replace("_", r"\_") + "%", keep, "%building"],
    ).fetchall()
    for (old,) in others[_KEEP_OTHERS:]:
        with contextlib.suppress(errors.ObjectInUse):
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(old)))


def _database_url(db_settings: dict, database: str) -> str:
    from urllib.parse import quote

    user = quote(db_settings.get("USER") or "")
    password = db_settings.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = db_settings.get("HOST") or "127.0.0.1"
    port = db_settings.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{database}"
