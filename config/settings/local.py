"""Local development: SQLite, the filesystem broker, mail to the local SMTP sink (see outbox/)."""

from config.settings.base import *  # noqa: F401

DEBUG = env.bool("DEBUG", default=True)
# The dev outbox page lists what the local sink received.
OUTBOX_DIR = env("OUTBOX_DIR", default=str(VAR_DIR / "outbox"))

# The demo's hold is minutes, not six hours, so a newcomer sees a send through (DESIGN.md rule 7).
HOLD_SECONDS = env.int("HOLD_SECONDS", default=120)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite has one writer at a time: one send task per campaign.
    SEND_TASKS_PER_CAMPAIGN = env.int("SEND_TASKS_PER_CAMPAIGN", default=1)
