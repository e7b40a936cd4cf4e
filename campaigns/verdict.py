"""Judging a probe: green (release), amber (release with a warning) or review (a moderator decides).

DESIGN.md rule 7. Complaints and hard bounces are judged separately, each against three thresholds
from settings; the worse tier wins and the rule code names the metric and tier that decided it
("complaints_review", "bounces_amber", ...; "green"; "empty_probe" when nothing was sent).

A probe is a sample, so a rate "is above" a threshold only with evidence beyond sampling noise. We
use the Wilson score interval (95%), which stays honest for rare events and small samples where
the normal approximation gives nonsense such as negative lower bounds:

* limit  (flag the account, tier review): the interval's lower bound is at or above the policy's
  complaint limit (0.5%), or strictly above its hard-bounce limit (5%). Only then is the account
  accused: even the most favourable reading of the sample breaks the policy.
* review: the point rate is above the review threshold (complaints over 0.3%; hard bounces over
  5%, where the amber band ends) and the lower bound is above the warning threshold (0.1%, 2%),
  so one unlucky event in a tiny probe is not enough on its own.
* amber: the point rate is at or above the warning threshold (0.1%, 2%) and the rate is not review.
* green: otherwise.

Worked examples with the default thresholds (complaints):

* 1 in 40: 2.5%, interval 0.44%-12.9%. Above 0.3% and the low end clears 0.1%: review, but
  0.44% < 0.5%, so the account is not flagged (a person looks; nobody is accused).
* 4 in 1,000: 0.4%, interval 0.16%-1.0%. Review, not flagged.
* 2 in 1,000: 0.2%, interval 0.05%-0.73%. Amber.
* 0 in 250: 0%, interval 0%-1.5%. Green.
* 1 in 200: 0.5%, but the interval's low end is 0.09%, under 0.1%: amber, not review.
* 10 in 1,000: 1.0%, interval 0.54%-1.8%: flagged.

Point rates are compared with the thresholds exactly (as fractions of the decimal setting), so 2
hard bounces in 100 is 2% and amber, whatever float rounding would say. Machine opens and scanner
clicks never affect the tier; the reasons say how many were set apart.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction
from typing import Any


class Tier(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    REVIEW = "review"


_TIER_RANK = {Tier.GREEN: 0, Tier.AMBER: 1, Tier.REVIEW: 2}
_CONFIDENCE_Z = 1.96


def wilson_interval(successes: int, trials: int, z: float = _CONFIDENCE_Z) -> tuple[float, float]:
    """The Wilson score interval for successes/trials, clamped to [0, 1]; (0, 0) with no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return (0.0, 0.0)
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half_width), min(1.0, centre + half_width))


@dataclass(frozen=True)
class Thresholds:
    """Rates (fractions, 0.001 is 0.1%) that separate green, amber, review and a flagged account."""

    complaint_warn: float
    complaint_review: float
    complaint_limit: float
    bounce_warn: float
    bounce_limit: float

    def __post_init__(self) -> None:
        if not 0 < self.complaint_warn <= self.complaint_review <= self.complaint_limit < 1:
            raise ValueError("complaint thresholds must satisfy 0 < warn <= review <= limit < 1")
        if not 0 < self.bounce_warn <= self.bounce_limit < 1:
            raise ValueError("bounce thresholds must satisfy 0 < warn <= limit < 1")

    @classmethod
    def from_settings(cls) -> "Thresholds":
        """The thresholds configured in settings (COMPLAINT_*, HARD_BOUNCE_*)."""
        from django.conf import settings

        return cls(
            complaint_warn=settings.COMPLAINT_WARN,
            complaint_review=settings.COMPLAINT_REVIEW,
            complaint_limit=settings.COMPLAINT_LIMIT,
            bounce_warn=settings.HARD_BOUNCE_WARN,
            bounce_limit=settings.HARD_BOUNCE_LIMIT,
        )


@dataclass(frozen=True)
class ProbeFigures:
    """What the probe measured. opens and clicks are people's; inactive is sent with neither."""

    sent: int
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    machine_clicks: int = 0
    inactive: int = 0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"{field.name} must not be negative")
        # These are counts of recipients, reported as rates over `sent`.
        for name in _PER_RECIPIENT:
            if getattr(self, name) > self.sent:
                raise ValueError(f"{name} ({getattr(self, name)}) exceeds sent ({self.sent})")


_PER_RECIPIENT = (
    "hard_bounces",
    "soft_bounces",
    "complaints",
    "unsubscribes",
    "opens",
    "clicks",
    "inactive",
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a probe: the tier, whether to flag the account, and why, with the figures."""

    tier: Tier
    flag_account: bool
    rule: str
    reasons: list[str]
    rates: dict[str, float]
    intervals: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, for storing on the campaign and showing to a moderator."""
        return {
            "tier": str(self.tier),
            "flag_account": self.flag_account,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "rates": dict(self.rates),
            "intervals": {name: [low, high] for name, (low, high) in self.intervals.items()},
        }


@dataclass(frozen=True)
class _MetricJudgement:
    tier: Tier
    flagged: bool
    reason: str


def judge(figures: ProbeFigures, thresholds: Thresholds) -> Verdict:
    """Judge a probe's figures against the thresholds; see the module docstring for the rule."""
    sent = figures.sent
    rates = {
        "complaint_rate": _rate(figures.complaints, sent),
        "hard_bounce_rate": _rate(figures.hard_bounces, sent),
        "soft_bounce_rate": _rate(figures.soft_bounces, sent),
        "unsubscribe_rate": _rate(figures.unsubscribes, sent),
        "open_rate": _rate(figures.opens, sent),
        "click_rate": _rate(figures.clicks, sent),
        "inactive_rate": _rate(figures.inactive, sent),
    }
    intervals = {
        "complaint_rate": wilson_interval(figures.complaints, sent),
        "hard_bounce_rate": wilson_interval(figures.hard_bounces, sent),
    }
    if sent == 0:
        return Verdict(
            tier=Tier.GREEN,
            flag_account=False,
            rule="empty_probe",
            reasons=["No probe messages were sent, so nothing was measured."],
            rates=rates,
            intervals=intervals,
        )

    complaints = _judge_metric(
        events=figures.complaints,
        sent=sent,
        noun=("complaint", "complaints"),
        warn=thresholds.complaint_warn,
        review=thresholds.complaint_review,
        limit=thresholds.complaint_limit,
        # The policy's complaint limit is "0.5% or more", its bounce limit "more than 5%".
        limit_reached=lambda low: low >= thresholds.complaint_limit,
    )
    bounces = _judge_metric(
        events=figures.hard_bounces,
        sent=sent,
        noun=("hard bounce", "hard bounces"),
        warn=thresholds.bounce_warn,
        review=thresholds.bounce_limit,
        limit=thresholds.bounce_limit,
        limit_reached=lambda low: low > thresholds.bounce_limit,
    )
    # Worse wins; on a tie the complaints decide, as the stronger signal of unwanted mail.
    metric, decider = max(
        [("bounces", bounces), ("complaints", complaints)],
        key=lambda pair: (pair[1].flagged, _TIER_RANK[pair[1].tier], pair[0] == "complaints"),
    )
    if decider.flagged:
        rule = f"{metric}_limit"
    elif decider.tier is Tier.GREEN:
        rule = "green"
    else:
        rule = f"{metric}_{decider.tier}"

    reasons = [complaints.reason, bounces.reason, _engagement_reason(figures)]
    if figures.machine_opens or figures.machine_clicks:
        reasons.append(
            f"{_count(figures.machine_opens, 'machine open', 'machine opens')} and "
            f"{_count(figures.machine_clicks, 'machine click', 'machine clicks')} "
            "(privacy proxies, security scanners) were set apart and not counted as engagement."
        )
    return Verdict(
        tier=Tier.REVIEW if decider.flagged else decider.tier,
        flag_account=complaints.flagged or bounces.flagged,
        rule=rule,
        reasons=reasons,
        rates=rates,
        intervals=intervals,
    )


def _judge_metric(
    *,
    events: int,
    sent: int,
    noun: tuple[str, str],
    warn: float,
    review: float,
    limit: float,
    limit_reached: Callable[[float], bool],
) -> _MetricJudgement:
    point = Fraction(events, sent)
    low, high = wilson_interval(events, sent)
    figure = (
        f"{_count(events, *noun)} in {_count(sent, 'message', 'messages')}: "
        f"{_percent(events / sent)} (95% interval {_percent(low)}–{_percent(high)})"
    )
    if limit_reached(low):
        return _MetricJudgement(
            Tier.REVIEW,
            True,
            f"{figure}; even the interval's low end breaks the policy limit of {_percent(limit)}, "
            "so the account is flagged.",
        )
    above_review = point > _exact(review)
    if above_review and low > warn:
        return _MetricJudgement(
            Tier.REVIEW,
            False,
            f"{figure}; above the review threshold of {_percent(review)}, and the interval's low "
            f"end clears the warning threshold of {_percent(warn)}, so it is not sampling noise: "
            "a moderator decides.",
        )
    if above_review:
        return _MetricJudgement(
            Tier.AMBER,
            False,
            f"{figure}; above the review threshold of {_percent(review)}, but too few messages to "
            f"tell it from noise (the interval's low end is under {_percent(warn)}): released "
            "with a warning.",
        )
    if point >= _exact(warn):
        return _MetricJudgement(
            Tier.AMBER,
            False,
            f"{figure}; at or above the warning threshold of {_percent(warn)}: released with a "
            "warning.",
        )
    return _MetricJudgement(
        Tier.GREEN, False, f"{figure}; under the warning threshold of {_percent(warn)}."
    )


def _engagement_reason(figures: ProbeFigures) -> str:
    sent = figures.sent
    return (
        f"People opened {figures.opens} ({_percent(figures.opens / sent)}) and clicked "
        f"{figures.clicks} ({_percent(figures.clicks / sent)}); {figures.inactive} "
        f"({_percent(figures.inactive / sent)}) did neither; "
        f"{_count(figures.soft_bounces, 'soft bounce', 'soft bounces')}, "
        f"{_count(figures.unsubscribes, 'unsubscribe', 'unsubscribes')}."
    )


def _rate(events: int, sent: int) -> float:
    return events / sent if sent else 0.0


def _exact(threshold: float) -> Fraction:
    # str() is the shortest decimal that round-trips: the value as written in the settings.
    return Fraction(str(threshold))


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


def _percent(fraction: float) -> str:
    """0.0044 -> "0.44%", 0.025 -> "2.5%", 0.05 -> "5%": enough digits to compare with 0.1%."""
    percent = fraction * 100
    if percent == 0:
        return "0%"
    if percent < 0.01:
        return "<0.01%"
    text = f"{percent:.2f}" if percent < 1 else f"{percent:.1f}"
    return f"{text.rstrip('0').rstrip('.')}%"
