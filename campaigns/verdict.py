"""Judging a probe: green (release), amber (release with a warning) or review (a moderator decides).

DESIGN.md rule 7. Everything the policy names is judged, each metric against its own thresholds
from settings (`Thresholds`, the one place they live: account health reads them too):

* hard bounces and provider blocks, over the messages *handed over* (accepted, or refused at
  once: a refusal at hand-over is a bounce like any other);
* spam complaints and unsubscribes, over the messages *accepted* (only those can draw them).

The worst metric decides; the rule code names it and its tier ("complaints_review",
"bounces_amber", "blocks_review", "unsubscribes_amber", ...; "green"). Two rules stand apart:

* "empty_probe": no probe message was handed over at all (every one skipped, or failed without a
  server's answer). Nothing was measured, and releasing 90% of a campaign on no evidence is what
  the probe exists to prevent: review, a moderator decides.
* "none_accepted": messages were handed over but the server accepted none. Never green: review
  (unless a metric's proven breach of the policy names a more specific rule, "bounces_limit").

The share of probe recipients who were *inactive* (sent one of the account's last campaigns and
opened or clicked none of them as a person) is measured and shown; it informs, it never decides.

A probe is a sample, so a rate "is above" a threshold only with evidence beyond sampling noise. We
use the Wilson score interval (95%), which stays honest for rare events and small samples where
the normal approximation gives nonsense such as negative lower bounds:

* limit  (flag the account, tier review; complaints and hard bounces only, the metrics with a
  policy limit): the interval's lower bound is at or above the policy's complaint limit (0.5%),
  or strictly above its hard-bounce limit (5%). Only then is the account accused: even the most
  favourable reading of the sample breaks the policy.
* review: the point rate is above the review threshold (complaints over 0.3%; hard bounces and
  blocks over 5%; unsubscribes over 2%) and the lower bound is above the warning threshold (0.1%,
  2%, 2%, 1%), so one unlucky event in a tiny probe is not enough on its own.
* amber: the point rate is at or above the warning threshold and the rate is not review.
* green: otherwise.

Worked examples with the default thresholds (complaints):

* 1 in 40: 2.5%, interval 0.44%-12.9%. Above 0.3% and the low end clears 0.1%: review, but
  0.44% < 0.5%, so the account is not flagged (a person looks; nobody is accused).
* 4 in 1,000: 0.4%, interval 0.16%-1.0%. Review, not flagged.
* 2 in 1,000: 0.2%, interval 0.05%-0.73%. Amber.
* 0 in 250: 0%, interval 0%-1.5%. Green.
* 1 in 200: 0.5%, but the interval's low end is 0.09%, under 0.1%: amber, not review.
* 10 in 1,000: 1.0%, interval 0.54%-1.8%: flagged.

And unsubscribes: 30 in 100 is 30%, interval 21.9%-39.6%: review. 1 in 20 is 5%, but the interval
starts at 0.89%, under 1%: amber.

Point rates are compared with the thresholds exactly (as fractions of the decimal setting), so 2
hard bounces in 100 is 2% and amber, whatever float rounding would say. Machine opens and scanner
clicks never affect the tier; the reasons say how many were set apart.

Account health judges the account's own sends in its window with the same thresholds and the same
`judge_rate`, but as a population, not a sample (`sample=False`): they are every message the
account sent, so the policy's limit applies to the rate itself; its small-sample care is
HEALTH_MIN_SENT (fewer messages are not judged at all).
"""

import math
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from config.coded_text import CodedText, coded, number, percent, render


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


def _exact(threshold: float) -> Fraction:
    # str() is the shortest decimal that round-trips: the value as written in the settings.
    return Fraction(str(threshold))


@dataclass(frozen=True)
class Levels:
    """One metric's thresholds (fractions: 0.001 is 0.1%): amber from `warn`, review above
    `review`, and the policy's `limit` that flags the account once proven (None: the policy
    names no figure). `limit_inclusive`: the limit is reached at the figure itself (complaints,
    "0.5% or more"), else only above it (hard bounces, "more than 5%")."""

    warn: float
    review: float
    limit: float | None = None
    limit_inclusive: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.warn <= self.review < 1:
            raise ValueError("thresholds must satisfy 0 < warn <= review < 1")
        if self.limit is not None and not self.review <= self.limit < 1:
            raise ValueError("thresholds must satisfy review <= limit < 1")

    def limit_reached(self, rate: float | Fraction) -> bool:
        """Whether `rate` breaks the policy's limit (never, for a metric without one)."""
        if self.limit is None:
            return False
        limit = _exact(self.limit) if isinstance(rate, Fraction) else self.limit
        return rate >= limit if self.limit_inclusive else rate > limit


@dataclass(frozen=True)
class Thresholds:
    """Every metric's levels, from settings (`from_settings`): the probe's verdict and account
    health both judge with these."""

    complaints: Levels
    hard_bounces: Levels
    blocks: Levels
    unsubscribes: Levels

    @classmethod
    def from_settings(cls) -> "Thresholds":
        """The thresholds configured in settings (COMPLAINT_*, HARD_BOUNCE_*, BLOCK_*,
        UNSUBSCRIBE_*). Hard bounces go to review where their amber band ends, at the policy's
        limit (DESIGN.md: amber up to 5%, review above)."""
        from django.conf import settings

        return cls(
            complaints=Levels(
                warn=settings.COMPLAINT_WARN,
                review=settings.COMPLAINT_REVIEW,
                limit=settings.COMPLAINT_LIMIT,
                limit_inclusive=True,
            ),
            hard_bounces=Levels(
                warn=settings.HARD_BOUNCE_WARN,
                review=settings.HARD_BOUNCE_LIMIT,
                limit=settings.HARD_BOUNCE_LIMIT,
            ),
            blocks=Levels(warn=settings.BLOCK_WARN, review=settings.BLOCK_REVIEW),
            unsubscribes=Levels(warn=settings.UNSUBSCRIBE_WARN, review=settings.UNSUBSCRIBE_REVIEW),
        )

    # The names the campaign page and older callers read.
    @property
    def complaint_warn(self) -> float:
        return self.complaints.warn

    @property
    def complaint_review(self) -> float:
        return self.complaints.review

    @property
    def complaint_limit(self) -> float:
        return self.complaints.limit or 0.0

    @property
    def bounce_warn(self) -> float:
        return self.hard_bounces.warn

    @property
    def bounce_limit(self) -> float:
        return self.hard_bounces.limit or 0.0


@dataclass(frozen=True)
class RateJudgement:
    """Where one rate stands against its levels: the tier, whether it proves the policy's limit
    broken, and (for a sample) its 95% interval."""

    tier: Tier
    flagged: bool
    events: int
    trials: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.events / self.trials if self.trials else 0.0


def judge_rate(events: int, trials: int, levels: Levels, *, sample: bool = True) -> RateJudgement:
    """Judge events/trials against `levels`. A `sample` (a probe) is judged with its Wilson
    interval as the module docstring says; a population (an account's own sends) by its rate
    alone: flagged at the limit, review above `review`, amber from `warn`. No trials: green."""
    low, high = wilson_interval(events, trials)
    if trials == 0:
        return RateJudgement(Tier.GREEN, False, events, trials, low, high)
    point = Fraction(events, trials)
    if sample:
        flagged = levels.limit_reached(low)
        if flagged or (point > _exact(levels.review) and low > levels.warn):
            tier = Tier.REVIEW
        elif point >= _exact(levels.warn):
            tier = Tier.AMBER
        else:
            tier = Tier.GREEN
    else:
        flagged = levels.limit_reached(point)
        if flagged or point > _exact(levels.review):
            tier = Tier.REVIEW
        elif point >= _exact(levels.warn):
            tier = Tier.AMBER
        else:
            tier = Tier.GREEN
    return RateJudgement(tier, flagged, events, trials, low, high)


@dataclass(frozen=True)
class ProbeFigures:
    """What the probe measured, in recipients.

    `sent`: accepted when handed over; `refused`: refused at hand-over with a bounce or block.
    Hard and soft bounces and blocks count both (at most `attempted`); complaints, unsubscribes,
    opens and clicks only accepted messages (at most `sent`). Opens and clicks are people's (a
    click counts as an open). `recipients`: the probe recipients whose history was read; of
    them `inactive` were sent one of the account's `earlier_campaigns` last campaigns and engaged
    with none as a person, `first_time` were sent none of them."""

    sent: int
    refused: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    blocks: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    machine_clicks: int = 0
    recipients: int = 0
    inactive: int = 0
    first_time: int = 0
    earlier_campaigns: int = 0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"{field.name} must not be negative")
        for names, bound, label in (
            (_PER_ATTEMPT, self.attempted, "attempted"),
            (_PER_ACCEPTED, self.sent, "sent"),
        ):
            for name in names:
                if getattr(self, name) > bound:
                    raise ValueError(f"{name} ({getattr(self, name)}) exceeds {label} ({bound})")
        if self.inactive + self.first_time > self.recipients:
            raise ValueError("inactive and first-time recipients exceed the recipients read")

    @property
    def attempted(self) -> int:
        """Handed over: accepted or refused."""
        return self.sent + self.refused

    @property
    def inactive_share(self) -> float:
        """The inactive recipients' share of the probe recipients read (0 with none)."""
        return self.inactive / self.recipients if self.recipients else 0.0


_PER_ATTEMPT = ("hard_bounces", "soft_bounces", "blocks")
_PER_ACCEPTED = ("complaints", "unsubscribes", "opens", "clicks")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a probe: the tier, whether to flag the account, and why, with the figures.
    The reasons are held as codes and parameters (`texts`, campaigns/texts.py), so the sender
    and a moderator each read them in their own language; `reasons` renders them in the active
    one."""

    tier: Tier
    flag_account: bool
    rule: str
    texts: list[CodedText]
    rates: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    inactive: dict[str, float | int]

    @property
    def reasons(self) -> list[str]:
        return [render(text) for text in self.texts]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, for storing on the campaign and showing to a moderator (the
        reasons as codes and parameters: render them with config.coded_text)."""
        return {
            "tier": str(self.tier),
            "flag_account": self.flag_account,
            "rule": self.rule,
            "reasons": list(self.texts),
            "rates": dict(self.rates),
            "intervals": {name: [low, high] for name, (low, high) in self.intervals.items()},
            "inactive": dict(self.inactive),
        }


# The judged metrics: (rule prefix, rate name, figure and thresholds' field, base, the name of
# its texts in campaigns/texts.py). On a
# tie the earlier decides: complaints are the strongest signal of unwanted mail, unsubscribes the
# mildest.
_METRICS = (
    ("complaints", "complaint_rate", "complaints", "sent", "complaints"),
    ("bounces", "hard_bounce_rate", "hard_bounces", "attempted", "bounces"),
    ("blocks", "block_rate", "blocks", "attempted", "blocks"),
    ("unsubscribes", "unsubscribe_rate", "unsubscribes", "sent", "unsubscribes"),
)


def judge(figures: ProbeFigures, thresholds: Thresholds) -> Verdict:
    """Judge a probe's figures against the thresholds; see the module docstring for the rule."""
    sent, attempted = figures.sent, figures.attempted
    rates = {
        "complaint_rate": _rate(figures.complaints, sent),
        "hard_bounce_rate": _rate(figures.hard_bounces, attempted),
        "soft_bounce_rate": _rate(figures.soft_bounces, attempted),
        "block_rate": _rate(figures.blocks, attempted),
        "refusal_rate": _rate(figures.refused, attempted),
        "unsubscribe_rate": _rate(figures.unsubscribes, sent),
        "open_rate": _rate(figures.opens, sent),
        "click_rate": _rate(figures.clicks, sent),
        "inactive_rate": _rate(figures.inactive, figures.recipients),
    }
    inactive = {
        "recipients": figures.recipients,
        "inactive": figures.inactive,
        "first_time": figures.first_time,
        "campaigns": figures.earlier_campaigns,
        "share": rates["inactive_rate"],
    }
    judgements = {
        metric: (
            judge_rate(getattr(figures, name), getattr(figures, base), getattr(thresholds, name)),
            getattr(thresholds, name),
            text_name,
        )
        for metric, _rate_name, name, base, text_name in _METRICS
    }
    intervals = {
        rate_name: (judgements[metric][0].low, judgements[metric][0].high)
        for metric, rate_name, *_ in _METRICS
    }
    if attempted == 0:
        return Verdict(
            tier=Tier.REVIEW,
            flag_account=False,
            rule="empty_probe",
            texts=[coded("campaigns.verdict.empty_probe")],
            rates=rates,
            intervals=intervals,
            inactive=inactive,
        )

    order = [metric for metric, *_ in _METRICS]
    flagged = [metric for metric in order if judgements[metric][0].flagged]
    if flagged:
        metric = flagged[0]
        tier, rule = Tier.REVIEW, f"{metric}_limit"
    elif sent == 0:
        tier, rule = Tier.REVIEW, "none_accepted"
    else:
        metric = max(
            order, key=lambda name: (_TIER_RANK[judgements[name][0].tier], -order.index(name))
        )
        tier = judgements[metric][0].tier
        rule = "green" if tier is Tier.GREEN else f"{metric}_{tier}"

    reasons = []
    if sent == 0:
        reasons.append(
            coded("campaigns.verdict.none_accepted", count=attempted, n=number(attempted))
        )
    reasons.extend(
        _metric_reason(judgement, levels, text_name)
        for judgement, levels, text_name in judgements.values()
    )
    if figures.refused:
        reasons.append(
            coded(
                "campaigns.verdict.refused",
                count=figures.refused,
                n=number(figures.refused),
                rate=percent(rates["refusal_rate"]),
                attempted=number(attempted),
            )
        )
    if sent:
        reasons.append(_engagement_reason(figures))
    reasons.append(_inactive_reason(figures))
    if figures.machine_opens or figures.machine_clicks:
        reasons.append(
            coded(
                "campaigns.verdict.machines",
                opens=_counted("machine_opens", figures.machine_opens),
                clicks=_counted("machine_clicks", figures.machine_clicks),
            )
        )
    return Verdict(
        tier=tier,
        flag_account=bool(flagged),
        rule=rule,
        texts=reasons,
        rates=rates,
        intervals=intervals,
        inactive=inactive,
    )


def with_blocklisted_domain(verdict: Verdict, *, domain: str, zones: list[str]) -> Verdict:
    """The verdict sent to review (rule "domain_blocklisted") when the From domain is listed in
    `zones` (the blocklist watch's, complaints.blocklists); unchanged when it is in none. The
    account is not flagged for it: a listing is a reason to look, not proof of a breach."""
    if not zones:
        return verdict
    reason = coded("campaigns.verdict.domain_blocklisted", domain=domain, zones=list(zones))
    return replace(
        verdict, tier=Tier.REVIEW, rule="domain_blocklisted", texts=[reason, *verdict.texts]
    )


def _counted(name: str, count: int) -> CodedText:
    """ "3 soft bounces", "1 campaign": a count with its noun (campaigns/texts.py)."""
    return coded(f"campaigns.verdict.{name}", count=count, n=number(count))


def _metric_reason(judgement: RateJudgement, levels: Levels, name: str) -> CodedText:
    events, trials, low, high = judgement.events, judgement.trials, judgement.low, judgement.high
    if trials == 0:
        return coded(f"campaigns.verdict.none.{name}")
    figure = coded(
        f"campaigns.verdict.figure.{name}",
        count=events,
        n=number(events),
        messages=_counted("messages", trials),
        rate=percent(events / trials),
        low=percent(low),
        high=percent(high),
    )
    warn, review = percent(levels.warn), percent(levels.review)
    if judgement.flagged:
        return coded(
            "campaigns.verdict.metric.flagged", figure=figure, limit=percent(levels.limit or 0.0)
        )
    above_review = Fraction(events, trials) > _exact(levels.review)
    if judgement.tier is Tier.REVIEW:
        return coded("campaigns.verdict.metric.review", figure=figure, review=review, warn=warn)
    if above_review:
        return coded("campaigns.verdict.metric.noise", figure=figure, review=review, warn=warn)
    if judgement.tier is Tier.AMBER:
        return coded("campaigns.verdict.metric.amber", figure=figure, warn=warn)
    return coded("campaigns.verdict.metric.green", figure=figure, warn=warn)


def _engagement_reason(figures: ProbeFigures) -> CodedText:
    sent = figures.sent
    # A person's click counts as an open, so those who did neither are the rest.
    neither = sent - figures.opens
    return coded(
        "campaigns.verdict.engagement",
        opens=figures.opens,
        open_rate=percent(figures.opens / sent),
        clicks=figures.clicks,
        click_rate=percent(figures.clicks / sent),
        neither=neither,
        neither_rate=percent(neither / sent),
        soft=_counted("soft_bounces", figures.soft_bounces),
    )


def _inactive_reason(figures: ProbeFigures) -> CodedText:
    if figures.earlier_campaigns == 0 or figures.recipients == 0:
        return coded("campaigns.verdict.inactive.unknown")
    return coded(
        "campaigns.verdict.inactive",
        inactive=number(figures.inactive),
        recipients=number(figures.recipients),
        share=percent(figures.inactive / figures.recipients),
        campaigns=_counted("campaigns", figures.earlier_campaigns),
        first_time=number(figures.first_time),
    )


def _rate(events: int, base: int) -> float:
    return events / base if base else 0.0
