import json

import pytest

from campaigns.verdict import (
    Levels,
    ProbeFigures,
    Thresholds,
    Tier,
    Verdict,
    judge,
    judge_rate,
    wilson_interval,
)
from config.coded_text import render


def thresholds(
    *,
    complaint_warn=0.001,
    complaint_review=0.003,
    complaint_limit=0.005,
    bounce_warn=0.02,
    bounce_limit=0.05,
    block_warn=0.02,
    block_review=0.05,
    unsubscribe_warn=0.01,
    unsubscribe_review=0.02,
):
    return Thresholds(
        complaints=Levels(
            warn=complaint_warn,
            review=complaint_review,
            limit=complaint_limit,
            limit_inclusive=True,
        ),
        hard_bounces=Levels(warn=bounce_warn, review=bounce_limit, limit=bounce_limit),
        blocks=Levels(warn=block_warn, review=block_review),
        unsubscribes=Levels(warn=unsubscribe_warn, review=unsubscribe_review),
    )


DEFAULTS = thresholds()


def verdict_for(sent, *, complaints=0, hard_bounces=0, **figures):
    return judge(
        ProbeFigures(sent=sent, complaints=complaints, hard_bounces=hard_bounces, **figures),
        DEFAULTS,
    )


def test_wilson_interval_of_one_in_forty():
    low, high = wilson_interval(1, 40)

    assert low == pytest.approx(0.004427, abs=1e-6)
    assert high == pytest.approx(0.128817, abs=1e-6)


def test_wilson_interval_of_nothing_and_of_extremes():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(0, 250)
    assert low == 0.0
    assert high == pytest.approx(0.015134, abs=1e-6)
    low, high = wilson_interval(5, 5)
    assert low == pytest.approx(0.565509, abs=1e-6)
    assert high == 1.0


def test_a_wider_z_widens_the_interval():
    narrow = wilson_interval(4, 1000, z=1.0)
    wide = wilson_interval(4, 1000)

    assert wide[0] < narrow[0] < 0.004 < narrow[1] < wide[1]


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


def test_thresholds_come_from_settings(settings):
    settings.COMPLAINT_WARN = 0.002
    settings.COMPLAINT_REVIEW = 0.004
    settings.COMPLAINT_LIMIT = 0.006
    settings.HARD_BOUNCE_WARN = 0.03
    settings.HARD_BOUNCE_LIMIT = 0.04
    settings.BLOCK_WARN = 0.01
    settings.BLOCK_REVIEW = 0.03
    settings.UNSUBSCRIBE_WARN = 0.005
    settings.UNSUBSCRIBE_REVIEW = 0.015

    assert Thresholds.from_settings() == thresholds(
        complaint_warn=0.002,
        complaint_review=0.004,
        complaint_limit=0.006,
        bounce_warn=0.03,
        bounce_limit=0.04,
        block_warn=0.01,
        block_review=0.03,
        unsubscribe_warn=0.005,
        unsubscribe_review=0.015,
    )


def test_the_default_settings_are_the_designs_thresholds():
    limits = Thresholds.from_settings()

    assert limits == DEFAULTS
    # What the campaign page reads by the older names.
    assert (limits.complaint_warn, limits.complaint_review, limits.complaint_limit) == (
        0.001,
        0.003,
        0.005,
    )
    assert (limits.bounce_warn, limits.bounce_limit) == (0.02, 0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"complaint_warn": 0.004},  # warn above review
        {"complaint_limit": 0.002},  # limit below review
        {"complaint_warn": 0.0},
        {"bounce_warn": 0.06},
        {"bounce_limit": 1.0},
        {"block_warn": 0.06},
        {"unsubscribe_review": 1.0},
        {"unsubscribe_warn": -0.01},
    ],
)
def test_thresholds_out_of_order_are_refused(kwargs):
    with pytest.raises(ValueError):
        thresholds(**kwargs)


@pytest.mark.parametrize(
    ("complaints", "sent", "tier", "flagged", "rule"),
    [
        # The module docstring's worked examples.
        (1, 40, Tier.REVIEW, False, "complaints_review"),
        (4, 1000, Tier.REVIEW, False, "complaints_review"),
        (2, 1000, Tier.AMBER, False, "complaints_amber"),
        (0, 250, Tier.GREEN, False, "green"),
        (1, 200, Tier.AMBER, False, "complaints_amber"),
        (10, 1000, Tier.REVIEW, True, "complaints_limit"),
        # 6/1000 is 0.6%, over the 0.5% limit, but its interval starts at 0.28%: not proven.
        (6, 1000, Tier.REVIEW, False, "complaints_review"),
        # 9/1000 starts at 0.47%, 10/1000 at 0.54%: the first that proves the limit broken.
        (9, 1000, Tier.REVIEW, False, "complaints_review"),
        # Exactly at the warning threshold is amber; exactly at the review threshold is not review.
        (1, 1000, Tier.AMBER, False, "complaints_amber"),
        (3, 1000, Tier.AMBER, False, "complaints_amber"),
        (0, 1000, Tier.GREEN, False, "green"),
        (1, 1001, Tier.GREEN, False, "green"),
    ],
)
def test_complaints(complaints, sent, tier, flagged, rule):
    verdict = verdict_for(sent, complaints=complaints)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (tier, flagged, rule)


@pytest.mark.parametrize(
    ("hard_bounces", "sent", "tier", "flagged", "rule"),
    [
        (4, 250, Tier.GREEN, False, "green"),  # 1.6%
        (5, 250, Tier.AMBER, False, "bounces_amber"),  # 2%
        (2, 100, Tier.AMBER, False, "bounces_amber"),  # 2%
        (50, 1000, Tier.AMBER, False, "bounces_amber"),  # 5%: the amber band ends here
        (13, 250, Tier.REVIEW, False, "bounces_review"),  # 5.2%, interval from 3.1%
        (60, 1000, Tier.REVIEW, False, "bounces_review"),  # 6%, interval from 4.7%
        (80, 1000, Tier.REVIEW, True, "bounces_limit"),  # 8%, interval from 6.5%
        (1, 10, Tier.AMBER, False, "bounces_amber"),  # 10%, but the interval starts at 1.8%
    ],
)
def test_hard_bounces(hard_bounces, sent, tier, flagged, rule):
    verdict = verdict_for(sent, hard_bounces=hard_bounces)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (tier, flagged, rule)


@pytest.mark.parametrize(
    ("blocks", "sent", "tier", "rule"),
    [
        (4, 250, Tier.GREEN, "green"),  # 1.6%
        (5, 250, Tier.AMBER, "blocks_amber"),  # 2%
        (50, 1000, Tier.AMBER, "blocks_amber"),  # 5%: the amber band ends here
        (60, 1000, Tier.REVIEW, "blocks_review"),  # 6%, interval from 4.7%
        (1, 10, Tier.AMBER, "blocks_amber"),  # 10%, but the interval starts at 1.8%
        (1000, 1000, Tier.REVIEW, "blocks_review"),  # blocks have no policy limit: no flag
    ],
)
def test_provider_blocks(blocks, sent, tier, rule):
    verdict = verdict_for(sent, blocks=blocks)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (tier, False, rule)


@pytest.mark.parametrize(
    ("unsubscribes", "sent", "tier", "rule"),
    [
        (30, 100, Tier.REVIEW, "unsubscribes_review"),  # 30%: never released on its own
        (9, 1000, Tier.GREEN, "green"),  # 0.9%
        (10, 1000, Tier.AMBER, "unsubscribes_amber"),  # 1%
        (20, 1000, Tier.AMBER, "unsubscribes_amber"),  # 2%: not over the review threshold
        (30, 1000, Tier.REVIEW, "unsubscribes_review"),  # 3%, interval from 2.1%
        (1, 20, Tier.AMBER, "unsubscribes_amber"),  # 5%, but the interval starts at 0.89%
    ],
)
def test_unsubscribes(unsubscribes, sent, tier, rule):
    verdict = verdict_for(sent, unsubscribes=unsubscribes)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (tier, False, rule)


def test_thirty_percent_unsubscribed_says_why_in_the_reasons():
    verdict = verdict_for(100, unsubscribes=30)

    assert verdict.reasons[3] == (
        "30 unsubscribes in 100 messages: 30% (95% interval 21.9%–39.6%); above the review "
        "threshold of 2%, and the interval's low end clears the warning threshold of 1%, so it "
        "is not sampling noise: a moderator decides."
    )
    assert verdict.rates["unsubscribe_rate"] == 0.3


def test_refusals_at_hand_over_count_as_hard_bounces():
    # 100 handed over, 8 refused with "550 5.1.1 user unknown": 8% hard bounces.
    verdict = verdict_for(92, refused=8, hard_bounces=8)

    assert (verdict.tier, verdict.rule) == (Tier.REVIEW, "bounces_review")
    assert verdict.rates["hard_bounce_rate"] == 0.08
    assert verdict.intervals["hard_bounce_rate"] == wilson_interval(8, 100)


def test_a_probe_the_server_refused_whole_is_never_green():
    # Refused with 4xx until the send gave up: soft bounces only, no metric over a threshold.
    soft = verdict_for(0, refused=10, soft_bounces=10)
    # Refused as "user unknown": the hard bounces prove the policy broken, which names the rule.
    hard = verdict_for(0, refused=10, hard_bounces=10)
    blocked = verdict_for(0, refused=10, blocks=10)

    assert (soft.tier, soft.flag_account, soft.rule) == (Tier.REVIEW, False, "none_accepted")
    assert soft.reasons[0] == (
        "The mail server accepted none of the 10 probe messages handed to it: a probe with no "
        "accepted message is never released on its own."
    )
    assert soft.reasons[1] == "No complaints: no message was accepted to draw any."
    assert (hard.tier, hard.flag_account, hard.rule) == (Tier.REVIEW, True, "bounces_limit")
    assert (blocked.tier, blocked.flag_account, blocked.rule) == (
        Tier.REVIEW,
        False,
        "none_accepted",
    )
    assert soft.rates["refusal_rate"] == 1.0


def test_inactive_recipients_inform_but_never_decide():
    everyone_inactive = verdict_for(100, recipients=100, inactive=100, earlier_campaigns=3, opens=0)

    assert (everyone_inactive.tier, everyone_inactive.rule) == (Tier.GREEN, "green")
    assert everyone_inactive.rates["inactive_rate"] == 1.0
    assert everyone_inactive.reasons[5].startswith(
        "Inactive recipients: 100 of the 100 probe recipients (100%) were sent at least one of "
        "the account's last 3 campaigns"
    )


def test_judge_rate_of_a_sample_and_of_a_population():
    levels = Levels(warn=0.001, review=0.003, limit=0.005, limit_inclusive=True)

    # 1 in 40 as a probe: review, the account not accused; as an account's own sends: over.
    assert judge_rate(1, 40, levels).tier is Tier.REVIEW
    assert judge_rate(1, 40, levels).flagged is False
    assert judge_rate(1, 40, levels, sample=False).flagged is True
    # At the limit exactly: inclusive for complaints, not for hard bounces.
    assert judge_rate(5, 1000, levels, sample=False).flagged is True
    bounces = Levels(warn=0.02, review=0.05, limit=0.05)
    assert judge_rate(50, 1000, bounces, sample=False).flagged is False
    assert judge_rate(50, 1000, bounces, sample=False).tier is Tier.AMBER
    assert judge_rate(51, 1000, bounces, sample=False).flagged is True
    assert judge_rate(2, 100, bounces, sample=False).tier is Tier.AMBER
    assert judge_rate(0, 0, bounces).tier is Tier.GREEN
    assert judge_rate(1, 40, levels).rate == 0.025


def test_the_worse_metric_decides():
    verdict = verdict_for(1000, complaints=2, hard_bounces=60)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (
        Tier.REVIEW,
        False,
        "bounces_review",
    )


def test_on_a_tie_the_complaints_decide():
    assert verdict_for(1000, complaints=4, hard_bounces=60).rule == "complaints_review"
    assert verdict_for(1000, complaints=2, hard_bounces=30).rule == "complaints_amber"


def test_a_flag_beats_a_review_and_either_metric_flags_the_account():
    verdict = verdict_for(1000, complaints=4, hard_bounces=80)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (
        Tier.REVIEW,
        True,
        "bounces_limit",
    )
    assert verdict_for(1000, complaints=10, hard_bounces=80).rule == "complaints_limit"


def test_an_empty_probe_goes_to_review_and_says_nothing_was_measured():
    verdict = verdict_for(0)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (
        Tier.REVIEW,
        False,
        "empty_probe",
    )
    assert verdict.reasons == [
        "No probe message was handed to the mail server, so nothing was measured: a moderator "
        "decides whether the rest goes."
    ]
    assert set(verdict.rates.values()) == {0.0}
    assert verdict.intervals == {
        "complaint_rate": (0.0, 0.0),
        "hard_bounce_rate": (0.0, 0.0),
        "block_rate": (0.0, 0.0),
        "unsubscribe_rate": (0.0, 0.0),
    }


def test_reasons_name_the_figures():
    verdict = verdict_for(40, complaints=1, hard_bounces=1)

    complaints, bounces, blocks, unsubscribes, engagement, inactive = verdict.reasons
    assert complaints.startswith(
        "1 complaint in 40 messages: 2.5% (95% interval 0.44%–12.9%); above the review threshold "
        "of 0.3%"
    )
    assert "a moderator decides" in complaints
    assert bounces.startswith("1 hard bounce in 40 messages: 2.5% (95% interval 0.44%–12.9%);")
    assert "warning threshold of 2%" in bounces
    assert blocks == (
        "0 provider blocks in 40 messages: 0% (95% interval 0%–8.8%); under the warning "
        "threshold of 2%."
    )
    assert unsubscribes.startswith("0 unsubscribes in 40 messages")
    assert engagement == (
        "People opened 0 (0%) and clicked 0 (0%); 40 (100%) did neither; 0 soft bounces."
    )
    assert inactive == (
        "Inactive recipients: the account has no earlier campaign to tell them by (this "
        "informs; it never decides the tier)."
    )


def test_reasons_say_why_each_tier_was_given():
    flagged = verdict_for(1000, complaints=10).reasons[0]
    small_sample = verdict_for(200, complaints=1).reasons[0]
    green = verdict_for(1000, hard_bounces=3).reasons[1]

    assert flagged == (
        "10 complaints in 1,000 messages: 1% (95% interval 0.54%–1.8%); even the interval's low "
        "end breaks the policy limit of 0.5%, so the account is flagged."
    )
    assert "too few messages to tell it from noise" in small_sample
    assert "released with a warning" in small_sample
    assert green == (
        "3 hard bounces in 1,000 messages: 0.3% (95% interval 0.1%–0.88%); under the warning "
        "threshold of 2%."
    )


def test_rates_and_intervals_are_over_sent_and_over_handed_over():
    verdict = verdict_for(
        200,
        refused=50,
        complaints=1,
        hard_bounces=5,
        soft_bounces=6,
        blocks=10,
        unsubscribes=3,
        opens=50,
        clicks=10,
        recipients=250,
        inactive=100,
        first_time=25,
        earlier_campaigns=3,
    )

    # Bounces, blocks and refusals of the 250 handed over; the rest of the 200 accepted.
    assert verdict.rates == {
        "complaint_rate": 0.005,
        "hard_bounce_rate": 0.02,
        "soft_bounce_rate": 0.024,
        "block_rate": 0.04,
        "refusal_rate": 0.2,
        "unsubscribe_rate": 0.015,
        "open_rate": 0.25,
        "click_rate": 0.05,
        "inactive_rate": 0.4,
    }
    assert verdict.intervals == {
        "complaint_rate": wilson_interval(1, 200),
        "hard_bounce_rate": wilson_interval(5, 250),
        "block_rate": wilson_interval(10, 250),
        "unsubscribe_rate": wilson_interval(3, 200),
    }
    assert verdict.inactive == {
        "recipients": 250,
        "inactive": 100,
        "first_time": 25,
        "campaigns": 3,
        "share": 0.4,
    }
    assert verdict.reasons[4:] == [
        "50 messages were refused when handed over (20% of 250), counted as bounces or blocks.",
        "People opened 50 (25%) and clicked 10 (5%); 150 (75%) did neither; 6 soft bounces.",
        "Inactive recipients: 100 of the 250 probe recipients (40%) were sent at least one of "
        "the account's last 3 campaigns and never opened or clicked one as a person; 25 had "
        "been sent none of them (this informs; it never decides the tier).",
    ]
    # Complaints (0.5%, too few to review), hard bounces (2%) and blocks (4%) are all amber: on
    # a tie the complaints decide.
    assert (verdict.tier, verdict.rule) == (Tier.AMBER, "complaints_amber")
    assert verdict_for(250, blocks=10, hard_bounces=5).rule == "bounces_amber"


def test_machine_engagement_never_changes_the_verdict():
    people_only = verdict_for(1000, complaints=2, opens=100, clicks=20)
    with_machines = verdict_for(
        1000, complaints=2, opens=100, clicks=20, machine_opens=900, machine_clicks=12
    )

    assert (with_machines.tier, with_machines.rule) == (people_only.tier, people_only.rule)
    assert with_machines.rates == people_only.rates
    assert with_machines.reasons[:6] == people_only.reasons
    assert with_machines.reasons[6] == (
        "900 machine opens and 12 machine clicks (privacy proxies, security scanners) were set "
        "apart and not counted as engagement."
    )


def test_no_machine_sentence_when_none_were_set_apart():
    assert len(verdict_for(1000).reasons) == 6
    assert (
        verdict_for(1000, machine_clicks=1)
        .reasons[6]
        .startswith("0 machine opens and 1 machine click ")
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sent": -1},
        {"sent": 10, "complaints": -1},
        {"sent": 10, "machine_opens": -1},
        {"sent": 10, "complaints": 11},
        {"sent": 10, "hard_bounces": 11},
        {"sent": 10, "opens": 11},
        {"sent": 10, "refused": -1},
        {"sent": 10, "refused": 5, "hard_bounces": 16},
        {"sent": 10, "refused": 5, "blocks": 16},
        {"sent": 10, "refused": 5, "complaints": 11},  # only accepted messages draw complaints
        {"sent": 10, "refused": 5, "unsubscribes": 11},
        {"sent": 10, "recipients": 10, "inactive": 6, "first_time": 5},
    ],
)
def test_impossible_figures_are_refused(kwargs):
    with pytest.raises(ValueError):
        ProbeFigures(**kwargs)


def test_machine_counts_may_exceed_sent():
    # A scanner may fetch a message's pixel and links many times.
    assert ProbeFigures(sent=10, machine_opens=40, machine_clicks=30).machine_opens == 40


def test_as_dict_is_json_serialisable():
    verdict = verdict_for(40, complaints=1, machine_opens=2)

    restored = json.loads(json.dumps(verdict.as_dict()))

    low, high = wilson_interval(1, 40)
    _, bounce_high = wilson_interval(0, 40)
    assert restored["tier"] == "review"
    assert restored["flag_account"] is False
    assert restored["rule"] == "complaints_review"
    assert [render(reason) for reason in restored["reasons"]] == verdict.reasons
    assert restored["rates"] == verdict.rates
    assert restored["intervals"] == {
        "complaint_rate": [low, high],
        "hard_bounce_rate": [0.0, bounce_high],
        "block_rate": [0.0, bounce_high],
        "unsubscribe_rate": [0.0, bounce_high],
    }
    assert restored["inactive"] == {
        "recipients": 0,
        "inactive": 0,
        "first_time": 0,
        "campaigns": 0,
        "share": 0.0,
    }
    assert set(restored) == {
        "tier",
        "flag_account",
        "rule",
        "reasons",
        "rates",
        "intervals",
        "inactive",
    }


def test_as_dict_is_a_copy():
    verdict = verdict_for(40, complaints=1)

    verdict.as_dict()["reasons"].append("tampered")

    assert "tampered" not in verdict.reasons
    assert isinstance(verdict, Verdict)


def test_a_lower_bound_reaching_the_complaint_limit_flags_but_one_at_the_bounce_limit_does_not():
    # The policy: complaints of 0.5% "or more", hard bounces "more than" 5%.
    complaint_low, _ = wilson_interval(10, 1000)
    bounce_low, _ = wilson_interval(80, 1000)
    at_the_limits = thresholds(complaint_limit=complaint_low, bounce_limit=bounce_low)

    complaints = judge(ProbeFigures(sent=1000, complaints=10), at_the_limits)
    bounces = judge(ProbeFigures(sent=1000, hard_bounces=80), at_the_limits)

    assert (complaints.flag_account, complaints.rule) == (True, "complaints_limit")
    assert (bounces.flag_account, bounces.rule) == (False, "bounces_review")
