"""An amber verdict's note to the sender is its reasons' English copy: readers see it in theirs."""

from django.utils import translation

from campaigns.models import note_shown
from config.coded_text import in_english

REASONS = [
    {"code": "campaigns.verdict.none_accepted", "params": {"n": {"number": 20}, "count": 20}}
]


def test_an_amber_verdicts_note_reads_in_the_readers_language():
    note = in_english(REASONS)
    verdict = {"tier": "amber", "reasons": REASONS}
    with translation.override("en"):
        assert note_shown(note, verdict) == note
    with translation.override("ru"):
        russian = note_shown(note, verdict)
    assert russian != note and "%(" not in russian


def test_a_moderators_note_reads_as_written():
    verdict = {"tier": "amber", "reasons": REASONS}
    with translation.override("ru"):
        assert note_shown("Bought list.", verdict) == "Bought list."
        assert note_shown("", verdict) == ""
        assert note_shown("Bought list.", {}) == "Bought list."
