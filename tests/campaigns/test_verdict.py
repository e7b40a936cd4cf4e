import json

import pytest

from campaigns.verdict import ProbeFigures, Thresholds, Tier, Verdict, judge, wilson_interval

DEFAULTS = Thresholds(
    complaint_warn=0.001,
    complaint_review=0.003,
    complaint_limit=0.005,
    bounce_warn=0.02,
    bounce_limit=0.05,
)


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

    assert Thresholds.from_settings() == Thresholds(
        complaint_warn=0.002,
        complaint_review=0.004,
        complaint_limit=0.006,
        bounce_warn=0.03,
        bounce_limit=0.04,
    )


def test_the_default_settings_are_the_designs_thresholds():
    assert Thresholds.from_settings() == DEFAULTS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"complaint_warn": 0.004},  # warn above review
        {"complaint_limit": 0.002},  # limit below review
        {"complaint_warn": 0.0},
        {"bounce_warn": 0.06},
        {"bounce_limit": 1.0},
    ],
)
def test_thresholds_out_of_order_are_refused(kwargs):
    values = {
        "complaint_warn": 0.001,
        "complaint_review": 0.003,
        "complaint_limit": 0.005,
        "bounce_warn": 0.02,
        "bounce_limit": 0.05,
    } | kwargs
    with pytest.raises(ValueError):
        Thresholds(**values)


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


def test_an_empty_probe_is_green_and_says_nothing_was_measured():
    verdict = verdict_for(0)

    assert (verdict.tier, verdict.flag_account, verdict.rule) == (Tier.GREEN, False, "empty_probe")
    assert verdict.reasons == ["No probe messages were sent, so nothing was measured."]
    assert set(verdict.rates.values()) == {0.0}
    assert verdict.intervals == {"complaint_rate": (0.0, 0.0), "hard_bounce_rate": (0.0, 0.0)}


def test_reasons_name_the_figures():
    verdict = verdict_for(40, complaints=1, hard_bounces=1)

    complaints, bounces, engagement = verdict.reasons
    assert complaints.startswith(
        "1 complaint in 40 messages: 2.5% (95% interval 0.44%–12.9%); above the review threshold "
        "of 0.3%"
    )
    assert "a moderator decides" in complaints
    assert bounces.startswith("1 hard bounce in 40 messages: 2.5% (95% interval 0.44%–12.9%);")
    assert "warning threshold of 2%" in bounces
    assert engagement.startswith("People opened 0 (0%) and clicked 0 (0%)")


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


def test_rates_and_intervals_are_over_sent():
    verdict = verdict_for(
        200,
        complaints=1,
        hard_bounces=2,
        soft_bounces=6,
        unsubscribes=3,
        opens=50,
        clicks=10,
        inactive=145,
    )

    assert verdict.rates == {
        "complaint_rate": 0.005,
        "hard_bounce_rate": 0.01,
        "soft_bounce_rate": 0.03,
        "unsubscribe_rate": 0.015,
        "open_rate": 0.25,
        "click_rate": 0.05,
        "inactive_rate": 0.725,
    }
    assert verdict.intervals == {
        "complaint_rate": wilson_interval(1, 200),
        "hard_bounce_rate": wilson_interval(2, 200),
    }
    assert verdict.reasons[2] == (
        "People opened 50 (25%) and clicked 10 (5%); 145 (72.5%) did neither; "
        "6 soft bounces, 3 unsubscribes."
    )


def test_machine_engagement_never_changes_the_verdict():
    people_only = verdict_for(1000, complaints=2, opens=100, clicks=20, inactive=880)
    with_machines = verdict_for(
        1000, complaints=2, opens=100, clicks=20, inactive=880, machine_opens=900, machine_clicks=12
    )

    assert (with_machines.tier, with_machines.rule) == (people_only.tier, people_only.rule)
    assert with_machines.rates == people_only.rates
    assert with_machines.reasons[:3] == people_only.reasons
    assert with_machines.reasons[3] == (
        "900 machine opens and 12 machine clicks (privacy proxies, security scanners) were set "
        "apart and not counted as engagement."
    )


def test_no_machine_sentence_when_none_were_set_apart():
    assert len(verdict_for(1000).reasons) == 3
    assert (
        verdict_for(1000, machine_clicks=1)
        .reasons[3]
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
        {"sent": 10, "inactive": 11},
        {"sent": 10, "opens": 11},
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
    assert restored["reasons"] == verdict.reasons
    assert restored["rates"] == verdict.rates
    assert restored["intervals"] == {
        "complaint_rate": [low, high],
        "hard_bounce_rate": [0.0, bounce_high],
    }
    assert set(restored) == {"tier", "flag_account", "rule", "reasons", "rates", "intervals"}


def test_as_dict_is_a_copy():
    verdict = verdict_for(40, complaints=1)

    verdict.as_dict()["reasons"].append("tampered")

    assert "tampered" not in verdict.reasons
    assert isinstance(verdict, Verdict)


def test_a_lower_bound_reaching_the_complaint_limit_flags_but_one_at_the_bounce_limit_does_not():
    # The policy: complaints of 0.5% "or more", hard bounces "more than" 5%.
    complaint_low, _ = wilson_interval(10, 1000)
    bounce_low, _ = wilson_interval(80, 1000)
    at_the_limits = Thresholds(
        complaint_warn=0.001,
        complaint_review=0.003,
        complaint_limit=complaint_low,
        bounce_warn=0.02,
        bounce_limit=bounce_low,
    )

    complaints = judge(ProbeFigures(sent=1000, complaints=10), at_the_limits)
    bounces = judge(ProbeFigures(sent=1000, hard_bounces=80), at_the_limits)

    assert (complaints.flag_account, complaints.rule) == (True, "complaints_limit")
    assert (bounces.flag_account, bounces.rule) == (False, "bounces_review")
