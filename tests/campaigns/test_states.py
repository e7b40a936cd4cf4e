import itertools

import pytest

from campaigns.states import FINAL, TRANSITIONS, CampaignStatus, can_transition, ensure_transition
from config.errors import InvalidTransition

PAIRS = list(itertools.product(CampaignStatus.values, repeat=2))


def test_the_table_covers_every_status():
    assert set(TRANSITIONS) == set(CampaignStatus.values)
    assert {CampaignStatus.SENT, CampaignStatus.DECLINED, CampaignStatus.CANCELLED} == FINAL


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_pair_is_allowed_exactly_when_the_table_says(current, target):
    allowed = target in TRANSITIONS[current]

    assert can_transition(current, target) is allowed
    if allowed:
        ensure_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as refused:
            ensure_transition(current, target)
        assert refused.value.status_code == 409
        assert refused.value.extra == {"status": current}


def test_the_send_pipeline_reads_as_designed():
    path = ["draft", "submitted", "approved", "probing", "holding", "releasing", "sent"]

    assert all(can_transition(a, b) for a, b in itertools.pairwise(path))
    assert can_transition("holding", "review") and can_transition("review", "releasing")
    assert can_transition("rejected", "draft")


@pytest.mark.parametrize(
    "status", ["submitted", "approved", "probing", "holding", "review", "releasing", "paused"]
)
def test_a_moderator_can_decline_anything_before_sent(status):
    assert can_transition(status, "declined")
