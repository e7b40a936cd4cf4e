"""Choosing the probe: how many recipients, and which. Pure.

DESIGN.md rule 7: the probe goes to min(ceil(10% of recipients), 1000) recipients chosen at random.
The choice is stratified by mailbox provider so that the probe's provider mix is the list's
(within one recipient per provider): a probe that happened to miss Yahoo would say nothing about
how Yahoo treats the campaign. Within a provider the choice is random but seeded, so the same seed
always picks the same recipients whatever order they were read in.
"""

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction


def probe_size(recipients: int, *, share: float, cap: int) -> int:
    """How many recipients the probe goes to: ceil(recipients * share), at least 1, at most cap.

    Exact arithmetic on the decimal share, so 2,500 * 0.10 is 250, not 251 from float error.
    """
    if recipients < 0:
        raise ValueError(f"recipients must not be negative, got {recipients}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    if recipients == 0:
        return 0
    # str() gives the shortest decimal that round-trips, i.e. what was written in the settings.
    wanted = math.ceil(recipients * Fraction(str(share)))
    return max(1, min(wanted, cap))


def allocation(counts: Mapping[str, int], size: int) -> dict[str, int]:
    """How many of `size` to take from each stratum, in proportion to `counts`.

    Largest-remainder method: every stratum gets the whole part of its exact quota, and the seats
    left over go to the largest fractional parts, ties to the provider name that sorts first. Each
    stratum thus gets its quota rounded down or up, never more than it has; with `size` at least
    the total every stratum is taken whole.
    """
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    if any(count < 0 for count in counts.values()):
        raise ValueError("counts must not be negative")
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    quotas = {name: Fraction(count * size, total) for name, count in counts.items()}
    shares = {name: math.floor(quota) for name, quota in quotas.items()}
    left_over = size - sum(shares.values())
    by_remainder = sorted(quotas, key=lambda name: (-(quotas[name] - shares[name]), str(name)))
    for name in by_remainder[:left_over]:
        shares[name] += 1
    return shares


def stratified_sample(candidates: Sequence[tuple[int, str]], *, size: int, seed: int) -> list[int]:
    """`size` subscriber ids from (subscriber_id, provider) pairs, stratified by provider.

    Reproducible: the same candidates (in any order) and seed give the same ids; all ids when
    `size` covers them. Returned sorted ascending.
    """
    by_provider: dict[str, list[int]] = defaultdict(list)
    for subscriber_id, provider in candidates:
        by_provider[str(provider)].append(subscriber_id)
    if sum(map(len, by_provider.values())) != len({sid for sid, _ in candidates}):
        raise ValueError("candidates must not repeat a subscriber id")
    return stratified_sample_grouped(by_provider, size=size, seed=seed)


def stratified_sample_grouped(
    by_provider: Mapping[str, Sequence[int]], *, size: int, seed: int
) -> list[int]:
    """stratified_sample over ids already grouped by provider, each id once: the same ids for
    the same groups and seed, without a pair object per candidate (a million-recipient
    audience holds its ids as compact arrays)."""
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    total = sum(len(members) for members in by_provider.values())
    if size >= total:
        return sorted(
            subscriber_id for members in by_provider.values() for subscriber_id in members
        )
    shares = allocation({name: len(members) for name, members in by_provider.items()}, size)
    chosen: list[int] = []
    for name, members in by_provider.items():
        # One generator per stratum, seeded by name: a stratum's pick does not shift when
        # another provider's recipients change, and dict order plays no part.
        rng = random.Random(f"{seed}:{name}")
        chosen.extend(rng.sample(sorted(members), shares[name]))
    return sorted(chosen)
