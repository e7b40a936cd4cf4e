"""The bounce readers measured on labelled public corpora nobody here wrote (issue 18):
flufl.bounce 6.0.0's tests/data (addresses labelled by its test_detectors.py) and the
bounce_email corpus as bundled by `bounced` 0.3.0 (addresses labelled by its tests). The
hard/soft/blocked/none labels are ours, read from each message's status and words
(tests/fixtures/bounces/labels.csv, "unknown" where the message gives no reason). Run with -s
to see the figures."""

import pytest

from tests.complaints.bounce_corpora import measure


@pytest.mark.parametrize(
    ("corpus", "agreement", "recall"),
    [("flufl", 0.93, 0.83), ("bounce_email", 0.95, 0.95)],
)
def test_the_readers_agree_with_the_labels(corpus, agreement, recall):
    figures = measure(corpus)
    print(figures.line(corpus))
    for line in figures.disagreements:
        print("  disagrees:", line)

    assert figures.agreed / figures.judged >= agreement
    # A hard bounce suppresses the address everywhere: no soft bounce may be read as hard.
    assert figures.soft_as_hard == 0
    assert figures.addresses_found / figures.addresses >= recall


def test_together_at_least_95_percent_agree():
    flufl, bounce_email = measure("flufl"), measure("bounce_email")
    agreed = flufl.agreed + bounce_email.agreed
    judged = flufl.judged + bounce_email.judged
    print(f"both corpora: class agreement {agreed}/{judged} ({100 * agreed / judged:.1f}%)")

    assert agreed / judged >= 0.95
