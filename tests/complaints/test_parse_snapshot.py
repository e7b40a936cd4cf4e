"""parse_report reads every message we hold exactly as it did before it was made faster
(issue 19): the labelled corpora, the report templates and hostile variants of them, each
compared field by field with data/parse_snapshot.json (see tests/complaints/parse_snapshot.py)."""

import json

import pytest

from tests.complaints.parse_snapshot import SNAPSHOT, messages, read

RECORDED = json.loads(SNAPSHOT.read_text())
MESSAGES = dict(messages())


def test_the_snapshot_covers_every_message_we_hold():
    assert sorted(MESSAGES) == sorted(RECORDED)
    # Every template and corpus message, and every kind of reading among them.
    kinds = {found.get("type", "raises") for found in RECORDED.values()}
    assert kinds == {
        "dsn",
        "arf",
        "jmrp",
        "plain_bounce",
        "mailto_unsubscribe",
        "not_a_report",
        "raises",
    }


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_each_message_reads_as_recorded(name):
    assert read(MESSAGES[name]) == RECORDED[name]
