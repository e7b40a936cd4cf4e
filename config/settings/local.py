"""Local development: SQLite, the filesystem broker, mail to the local SMTP sink (see outbox/)."""

from config.settings.base import *  # noqa: F401

DEBUG = env.bool("DEBUG", default=True)
# The dev outbox page lists what the local sink received.
OUTBOX_DIR = env("OUTBOX_DIR", default=str(VAR_DIR / "outbox"))
